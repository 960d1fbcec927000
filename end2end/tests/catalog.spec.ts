// The catalog renders on the server, hydrates in the browser, and lists the demo streams with
// the `oc get is` columns. Any console error, page error or failed request fails the test.
import { expect, test } from "@playwright/test";

test("catalog lists demo streams after hydration", async ({ page }) => {
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`);
  });

  await page.goto("/");
  await expect(page.locator("#hydration-state")).toHaveText("hydrated");

  const demo = page.locator('section[data-namespace="demo"]');
  await expect(demo.getByRole("heading", { name: "demo" })).toBeVisible();
  const ruby = demo.locator('tr[data-stream="ruby"]');
  await expect(ruby).toBeVisible();
  const cells = ruby.locator("td");
  await expect(cells.nth(0)).toHaveText("ruby");
  await expect(cells.nth(1)).toHaveText(/\/demo\/ruby$/);
  // All three demo tags fit in the TAGS column.
  for (const tag of ["3.3", "3.2", "latest"]) await expect(cells.nth(2)).toContainText(tag);
  await expect(cells.nth(3)).toHaveText(/ago$/);
  await expect(demo.getByRole("columnheader", { name: "Image repository" })).toBeVisible();

  await page.screenshot({ path: "test-results/catalog.png", fullPage: true });
  expect(problems).toEqual([]);
});
