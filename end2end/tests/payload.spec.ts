// Issue 17 point 10: new interactivity pays for itself. The islands of the less visited pages
// (webhooks, retention, namespace settings, account, the catalog's forms) are lazy: their code
// comes in their own files, fetched only by a page that has them, so the stream page and the
// dashboard load the main module alone. The gzipped sizes are measured by scripts/bench-ui.sh;
// this proves the split in a real browser and that a lazily loaded island works.
import { expect, test, type Page } from "@playwright/test";
import { hydrated, watchProblems } from "./helpers";

/** The WASM files the page fetches from `/pkg/`, by name. */
function wasmFetched(page: Page): string[] {
  const names: string[] = [];
  page.on("request", (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith("/pkg/") && path.endsWith(".wasm")) names.push(path.slice("/pkg/".length));
  });
  return names;
}

test("point 10: the stream page and the dashboard load the main module only", async ({ page }) => {
  const problems = watchProblems(page);
  const fetched = wasmFetched(page);
  await page.goto("/ns/demo/app");
  await hydrated(page);
  // The stream page's own islands are in the main module: its buttons work at once.
  await expect(page.getByRole("button", { name: "Delete stream…" })).toBeEnabled();
  await page.goto("/dashboard");
  await hydrated(page);
  expect(fetched.length).toBeGreaterThan(0);
  expect(fetched.every((f) => f === "portal.wasm"), fetched.join(", ")).toBe(true);
  expect(problems).toEqual([]);
});

test("point 10: a lazy island arrives with its page, and only its page's code does", async ({ page }) => {
  const problems = watchProblems(page, { formErrors: true });
  const fetched = wasmFetched(page);
  await page.goto("/webhooks/demo");
  await hydrated(page);
  expect(fetched.some((f) => f.startsWith("split_webhook_list_loader_")), fetched.join(", ")).toBe(true);
  expect(fetched.some((f) => f.startsWith("split_retention_panel_loader_")), fetched.join(", ")).toBe(false);
  // The island loaded that way is live: its rules answer as you type.
  await page.getByLabel("Name", { exact: true }).fill("Bad_Name");
  await expect(page.locator("#webhook-name-hint")).toContainText("must consist of lower case letters");

  fetched.length = 0;
  await page.goto("/namespaces/demo/prune");
  await hydrated(page);
  expect(fetched.some((f) => f.startsWith("split_retention_panel_loader_")), fetched.join(", ")).toBe(true);
  expect(fetched.some((f) => f.startsWith("split_webhook_list_loader_")), fetched.join(", ")).toBe(false);
  await page.getByLabel(/^Keep anything younger than/).fill("soon");
  await expect(page.locator("#retention-younger-hint")).toContainText("is not a duration");
  expect(problems).toEqual([]);
});
