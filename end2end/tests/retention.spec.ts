// The prune page in the browser: a namespace with three images on one tag, the retention
// policy form (a bad duration refused at its field as you type), "Preview" showing every
// history item with its decision and the rule's reason, "Save policy", "Run now" with its
// confirmation, and the run listed, without a reload; then the same page at 390 px.
import { expect, test } from "@playwright/test";
import { createHash } from "node:crypto";
import { accessible, hydrated, photograph, watchProblems } from "./helpers";

test("retention: preview with reasons, save, run now, the run listed", async ({ page, request }) => {
  const problems = watchProblems(page, { formErrors: true });
  const ns = `ret-${Date.now().toString(36)}`;
  const api = "/apis/image.openshift.io/v1/namespaces";
  expect((await request.post("/api/v1/namespaces", { data: { metadata: { name: ns } } })).status()).toBe(201);
  expect((await request.post(`${api}/${ns}/imagestreams`, { data: { metadata: { name: "web" } } })).status()).toBe(201);
  const digests: string[] = [];
  for (const n of [1, 2, 3]) {
    const digest = `sha256:${createHash("sha256").update(`${ns}-${n}`).digest("hex")}`;
    digests.push(digest);
    const r = await request.post(`${api}/${ns}/imagestreammappings`, {
      data: { metadata: { name: "web" }, tag: "latest", image: { metadata: { name: digest }, dockerImageReference: `quay.io/org/web@${digest}` } },
    });
    expect(r.status(), await r.text()).toBe(201);
  }

  await page.goto(`/namespaces/${ns}`);
  await page.getByRole("link", { name: "Retention policy and pruning" }).click();
  await expect(page).toHaveURL(new RegExp(`/namespaces/${ns}/prune$`));
  await hydrated(page);
  await page.evaluate(() => ((window as unknown as { __marker: number }).__marker = 42));
  await expect(page.locator("#retention-runs")).toContainText("No runs yet.");
  await expect(page.getByRole("button", { name: "Run now…" })).toBeDisabled();

  // The form's rules as you type, at the field.
  await page.getByLabel("Keep the newest revisions of each tag").fill("1");
  const younger = page.getByLabel(/^Keep anything younger than/);
  await younger.fill("soon");
  await expect(page.locator("#retention-younger-hint")).toContainText("is not a duration");
  await expect(younger).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByRole("button", { name: "Preview" })).toBeDisabled();
  await younger.fill("0s");
  await expect(page.locator("#retention-younger-hint")).toBeEmpty();
  await page.getByLabel(/^Keep the whole history of tags matching/).fill("release-*");

  // The preview: every item, its decision, and the rule's reason next to it.
  await page.getByRole("button", { name: "Preview" }).click();
  const preview = page.locator("#retention-preview");
  await expect(preview).toContainText("Summary: deleted 2 image stream tag item(s), updated 1 image stream(s)");
  const row = (item: string) => preview.locator(`tr[data-item="${item}"]`);
  await expect(row("latest#0")).toContainText("keep");
  await expect(row("latest#0").locator("td.reason")).toHaveText("head of tag latest");
  await expect(row("latest#1")).toHaveAttribute("data-decision", "delete");
  await expect(row("latest#1").locator("td.reason")).toHaveText("revision 2 beyond the newest 1");
  await expect(row("latest#2").locator("td.reason")).toHaveText("revision 3 beyond the newest 1");
  await expect(preview.getByRole("link", { name: digests[2].slice(0, 19) })).toBeVisible();
  // A preview changes nothing.
  let stream = await (await request.get(`${api}/${ns}/imagestreams/web`)).json();
  expect(stream.status.tags[0].items.length).toBe(3);
  await accessible(page);
  await photograph(page, "retention-preview");

  // Saved, then run now (asks first).
  await page.getByRole("button", { name: "Save policy" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Policy saved." })).toBeVisible();
  const policy = await (await request.get(`/api/v1/namespaces/${ns}/retention`)).json();
  expect(policy.policy).toEqual({ keepTagRevisions: 1, keepYoungerThanSeconds: 0, keepTagPatterns: ["release-*"] });
  await page.getByRole("button", { name: "Run now…" }).click();
  await expect(page.getByText("cannot be undone. Press again to confirm.")).toBeVisible();
  await page.getByRole("button", { name: "Confirm: run now" }).click();
  await expect(page.locator("#run-result")).toContainText("Summary: deleted 2 image stream tag item(s), updated 1 image stream(s)");

  // The run is listed, and the history is what the preview said.
  const run = page.locator("#retention-runs tr[data-run]").first();
  await expect(run).toContainText("manual");
  await expect(run).toContainText("succeeded");
  await expect(run).toContainText("Summary: deleted 2 image stream tag item(s)");
  stream = await (await request.get(`${api}/${ns}/imagestreams/web`)).json();
  expect(stream.status.tags[0].items.map((i: { image: string }) => i.image)).toEqual([digests[2]]);
  expect(await page.evaluate(() => (window as unknown as { __marker: number }).__marker)).toBe(42);
  await photograph(page, "retention-run");

  // 390 px: the page fits (wide tables scroll inside their own box).
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload();
  await hydrated(page);
  await page.getByRole("button", { name: "Preview" }).click();
  await expect(page.locator("#retention-preview")).toContainText("Summary: deleted 0 objects");
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await accessible(page);
  await photograph(page, "retention-390");
  expect(problems).toEqual([]);
});

test("prune preview of the whole server (administrators)", async ({ page }) => {
  const problems = watchProblems(page);
  // Reached from the header (the single local user of an open server is an administrator).
  await page.goto("/");
  await page.locator(".user-menu").getByRole("link", { name: "Prune" }).click();
  await expect(page).toHaveURL(/\/admin\/prune$/);
  await hydrated(page);
  await page.getByLabel("Keep anything younger than").fill("0");
  await page.getByRole("button", { name: "Preview" }).click();
  const preview = page.locator("#server-prune-preview");
  await expect(preview).toContainText("Preview (nothing was changed)");
  await expect(preview).toContainText(/Summary: /);
  // Every head stays, with its reason.
  await expect(preview.locator('tr[data-item$="#0"] td.reason').first()).toContainText("head of tag");
  await accessible(page);
  await photograph(page, "prune-server");
  expect(problems).toEqual([]);
});
