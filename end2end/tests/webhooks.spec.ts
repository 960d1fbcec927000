// Webhooks in the browser: create a subscription with the form (rules as you type, the server's
// refusal at its field), a change made through the CLI reaches a receiver on loopback that
// checks the signature, the delivery log shows it, "send test event" and "redeliver" work, and
// the subscription is deleted, all without a reload.
import { expect, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import { accessible, hydrated, photograph, watchProblems } from "./helpers";

const SECRET = "browser-signing-secret-42";

type Received = { event: { id: string; type: string; subject: string; data: Record<string, unknown> }; delivery: string; signed: boolean };

/** The receiver a reader of README would write: HMAC-SHA256 over "<t>.<body>", t within 5 minutes. */
function verify(header: string, body: string): boolean {
  const parts = Object.fromEntries(header.split(",").map((p) => p.split("=") as [string, string]));
  const t = Number(parts.t);
  if (!parts.v1 || !Number.isFinite(t) || Math.abs(Date.now() / 1000 - t) > 300) return false;
  const want = createHmac("sha256", SECRET).update(`${t}.${body}`).digest();
  const got = Buffer.from(parts.v1, "hex");
  return got.length === want.length && timingSafeEqual(got, want);
}

test("webhooks: create, deliver a CLI change, log, test event, redeliver, delete", async ({ page }) => {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({
        event: JSON.parse(body),
        delivery: String(req.headers["x-imagestreams-delivery"]),
        signed: verify(String(req.headers["x-imagestreams-signature"] ?? ""), body),
      });
      res.writeHead(204).end();
    });
  });
  const port = Number(process.env.WEBHOOK_PORT);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  try {
    const problems = watchProblems(page, { formErrors: true });
    await page.goto("/webhooks/demo");
    await hydrated(page);
    const name = `deploy-${Date.now().toString(36)}`;
    const submit = page.getByRole("button", { name: "Create webhook" });

    // The rules as you type.
    await page.getByLabel("Name", { exact: true }).fill("Bad_Name");
    await expect(page.locator("#webhook-name-hint")).toContainText("must consist of lower case letters");
    await page.getByLabel("Target URL").fill("ftp://x");
    await expect(page.locator("#webhook-url-hint")).toContainText('scheme "ftp" is not supported');
    await page.getByLabel("Signing secret").fill("short");
    await expect(page.locator("#webhook-secret-hint")).toContainText("at least 16 characters");
    await page.getByLabel(/^Tags/).fill("ruby");
    await expect(page.locator("#webhook-tags-hint")).toContainText("must be stream:tag");
    await expect(submit).toBeDisabled();

    // The server's refusal (the egress guard) at its field.
    await page.getByLabel("Name", { exact: true }).fill(name);
    await page.getByLabel("Target URL").fill(`http://127.0.0.1:${port + 1}/hook`);
    await page.getByLabel("Signing secret").fill(SECRET);
    await page.getByLabel(/^Tags/).fill("ruby:*");
    await expect(submit).toBeEnabled();
    await submit.click();
    await expect(page.locator("#webhook-url-hint")).toContainText("not allowed by --allowed-webhook-target");

    await page.getByLabel("Target URL").fill(`http://127.0.0.1:${port}/hook`);
    await page.getByLabel("TagDeleted").check();
    await submit.click();
    await expect(page.getByRole("status")).toHaveText(`Webhook ${name} created.`);
    const card = page.locator(`article[data-webhook="${name}"]`);
    await expect(card).toBeVisible();
    await expect(card).toContainText("ImageChanged, TagDeleted");

    // A change made through the CLI reaches the receiver, signed.
    const tag = `hook-${Date.now().toString(36)}`;
    execFileSync(process.env.CLI!, ["--server", process.env.BASE_URL!, "-n", "demo", "tag", "--reference", "quay.io/x/ruby:9", `ruby:${tag}`]);
    await expect.poll(() => received.length, { timeout: 10000 }).toBeGreaterThanOrEqual(1);
    expect(received[0].signed).toBe(true);
    expect(received[0].event.type).toBe("io.imagestreams.image.changed");
    expect(received[0].event.subject).toBe(`ruby:${tag}`);
    expect(received[0].event.data.pullSpec).toBe("quay.io/x/ruby:9");

    // The delivery log shows it; "Send test event" adds a row that turns Delivered.
    await card.getByRole("button", { name: "Show deliveries" }).click();
    const log = card.locator("table.deliveries");
    await expect(log.locator("tbody tr").first()).toContainText("image.changed");
    await expect(log.locator("tbody tr").first()).toHaveAttribute("data-state", "Delivered");
    await card.getByRole("button", { name: "Send test event" }).click();
    await expect(card.getByRole("status")).toContainText("Test event queued as delivery");
    await expect(log.locator("tbody tr")).toHaveCount(2);
    await expect(log.locator("tbody tr").first()).toContainText("webhook.test");
    await expect(log.locator("tbody tr").first()).toHaveAttribute("data-state", "Delivered", { timeout: 5000 });
    await expect.poll(() => received.length).toBe(2);
    expect(received[1].event.type).toBe("io.imagestreams.webhook.test");
    expect(received[1].signed).toBe(true);

    // Redeliver the first event: the same CloudEvent id arrives again as a new delivery.
    const first = log.locator("tbody tr").last();
    const firstId = await first.getAttribute("data-delivery");
    await first.getByRole("button", { name: `Redeliver delivery ${firstId}` }).click();
    await expect(card.getByRole("status").last()).toContainText(`Delivery ${firstId} queued again as delivery`);
    await expect.poll(() => received.length).toBe(3);
    expect(received[2].event.id).toBe(received[0].event.id);
    expect(received[2].delivery).not.toBe(received[0].delivery);
    await expect(log.locator("tbody tr")).toHaveCount(3);

    await accessible(page);
    await photograph(page, "webhooks");

    await card.getByRole("button", { name: "Delete…" }).click();
    await card.getByRole("button", { name: "Confirm delete" }).click();
    await expect(card).toHaveCount(0);
    expect(problems).toEqual([]);
  } finally {
    server.close();
  }
});
