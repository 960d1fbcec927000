// The catalog renders on the server, hydrates, lists the demo streams with the `oc get is`
// columns, searches, pages, and creates namespaces and streams without a reload.
import { expect, test } from "@playwright/test";
import { accessible, hydrated, photograph, watchProblems } from "./helpers";

test("catalog lists demo streams after hydration", async ({ page }) => {
  const problems = watchProblems(page);
  await page.goto("/");
  await hydrated(page);
  const ruby = page.locator('tr[data-key="demo/ruby"]');
  await expect(ruby).toBeVisible();
  const cells = ruby.locator("td");
  await expect(cells.nth(0)).toHaveText("demo");
  await expect(cells.nth(1)).toHaveText("ruby");
  await expect(cells.nth(2)).toHaveText(/\/demo\/ruby$/);
  for (const tag of ["3.3", "3.2", "latest"]) await expect(cells.nth(3)).toContainText(tag);
  await expect(cells.nth(4)).toHaveText(/ago$/);
  await expect(cells.nth(5)).toHaveText("3 / 3");
  await accessible(page);
  await photograph(page, "catalog");
  expect(problems).toEqual([]);
});

test("search by name, tag and digest prefix; sort by last update", async ({ page, request }) => {
  const problems = watchProblems(page);
  await page.goto("/?q=build-42");
  await expect(page.locator("tr.stream")).toHaveCount(1);
  await expect(page.locator('tr[data-key="demo/app"]')).toBeVisible();
  await page.goto("/?q=ngin");
  await expect(page.locator("tr.stream")).toHaveCount(1);
  await expect(page.locator('tr[data-key="demo/nginx"]')).toBeVisible();
  const istag = await (await request.get("/apis/image.openshift.io/v1/namespaces/team-a/imagestreamtags/api:v1.0.0")).json();
  const prefix = (istag.image.metadata.name as string).slice("sha256:".length, "sha256:".length + 10);
  await page.goto(`/?q=${prefix}`);
  await expect(page.locator("tr.stream")).toHaveCount(1);
  await expect(page.locator('tr[data-key="team-a/api"]')).toBeVisible();
  // The search form works without script too (a GET form).
  await page.goto("/");
  await hydrated(page);
  await page.getByLabel("Search", { exact: true }).fill("ruby");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/q=ruby/);
  await expect(page.locator("tr.stream")).toHaveCount(1);
  await page.goto("/?sort=updated");
  await expect(page.locator("tr.stream").first()).toBeVisible();
  expect(problems).toEqual([]);
});

test("pagination past fifty streams", async ({ page, request }) => {
  const problems = watchProblems(page);
  const ns = "bulk";
  await request.post("/api/v1/namespaces", { data: { metadata: { name: ns } } });
  for (let i = 0; i < 51; i++) {
    const r = await request.post(`/apis/image.openshift.io/v1/namespaces/${ns}/imagestreams`, { data: { metadata: { name: `s${String(i).padStart(2, "0")}` } } });
    expect([201, 409]).toContain(r.status());
  }
  await page.goto("/?q=s&sort=name");
  await hydrated(page);
  await expect(page.locator("#catalog-summary")).toContainText("page 1 of");
  await page.getByRole("link", { name: "Next →" }).click();
  await expect(page.locator("#catalog-summary")).toContainText("page 2 of");
  await expect(page.getByRole("link", { name: "← Previous" })).toBeVisible();
  expect(problems).toEqual([]);
});

test("create a namespace and a stream from the forms", async ({ page }) => {
  const problems = watchProblems(page, { formErrors: true });
  const suffix = Date.now().toString(36);
  // Filter the catalog to what this test creates: it shows up there without a reload.
  await page.goto(`/?q=${suffix}`);
  await hydrated(page);
  await expect(page.getByText("No image streams match.")).toBeVisible();
  await page.getByLabel("Name", { exact: true }).first().fill("Bad_Name");
  await expect(page.locator("#new-namespace-hint")).toContainText("a lowercase RFC 1123 label");
  await expect(page.getByRole("button", { name: "Create namespace" })).toBeDisabled();
  await page.locator("#new-namespace").fill(`team-${suffix}`);
  await page.getByRole("button", { name: "Create namespace" }).click();
  await expect(page.getByText(`Namespace team-${suffix} created.`)).toBeVisible();
  await page.locator("#new-stream-namespace").fill(`team-${suffix}`);
  await page.locator("#new-stream-name").fill(`web-${suffix}`);
  await page.getByRole("button", { name: "Create image stream" }).click();
  await expect(page.getByText(`Image stream team-${suffix}/web-${suffix} created.`)).toBeVisible();
  await expect(page.locator(`tr[data-key="team-${suffix}/web-${suffix}"]`)).toBeVisible();
  // The server's own error, for a stream that exists already.
  await page.getByRole("button", { name: "Create image stream" }).click();
  await expect(page.getByText(`imagestreams.image.openshift.io "web-${suffix}" already exists`)).toBeVisible();
  expect(problems).toEqual([]);
});

test("delete a stream and a namespace, with confirmation", async ({ page, request }) => {
  // The open stream page hears of its own deletion and reads a 404: expected here.
  const problems = watchProblems(page, { formErrors: true });
  const ns = `gone-${Date.now().toString(36)}`;
  expect((await request.post("/api/v1/namespaces", { data: { metadata: { name: ns } } })).status()).toBe(201);
  for (const s of ["one", "two"]) {
    expect((await request.post(`/apis/image.openshift.io/v1/namespaces/${ns}/imagestreams`, { data: { metadata: { name: s } } })).status()).toBe(201);
  }
  await page.goto(`/ns/${ns}/one`);
  await hydrated(page);
  await page.getByRole("button", { name: "Delete stream…" }).click();
  await page.getByRole("button", { name: "Delete stream", exact: true }).click();
  await expect(page).toHaveURL(/\/$/);
  expect((await request.get(`/apis/image.openshift.io/v1/namespaces/${ns}/imagestreams/one`)).status()).toBe(404);
  await page.goto(`/?q=two`);
  await hydrated(page);
  await expect(page.locator(`tr[data-key="${ns}/two"]`)).toBeVisible();
  await page.locator("#delete-namespace").fill(ns);
  await page.getByRole("button", { name: "Delete namespace…" }).click();
  await page.getByRole("button", { name: "Confirm delete" }).click();
  await expect(page.getByText(`Namespace ${ns} deleted.`)).toBeVisible();
  await expect(page.locator(`tr[data-key="${ns}/two"]`)).toHaveCount(0);
  expect((await request.get(`/api/v1/namespaces/${ns}`)).status()).toBe(404);
  expect(problems).toEqual([]);
});
