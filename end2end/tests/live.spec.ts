// Live pages: a change made elsewhere (here through the API, as the CLI does) appears on an
// open page within a second or two, without a reload.
import { expect, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { hydrated, watchProblems } from "./helpers";

test("a push made elsewhere appears on the open stream page", async ({ page, request }) => {
  const problems = watchProblems(page);
  await page.goto("/ns/demo/ruby");
  await hydrated(page);
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 7));
  const tag = `live-${Date.now().toString(36)}`;
  const digest = "sha256:" + Array.from({ length: 64 }, (_, i) => "0123456789abcdef"[(i * 7 + tag.length) % 16]).join("");
  const r = await request.post("/apis/image.openshift.io/v1/namespaces/demo/imagestreammappings", {
    data: { metadata: { name: "ruby" }, tag, image: { metadata: { name: digest }, dockerImageReference: `quay.io/x/ruby@${digest}` } },
  });
  expect(r.status()).toBe(201);
  await expect(page.locator(`tr[data-tag="${tag}"]`)).toBeVisible({ timeout: 8000 });
  expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(7);
  expect(problems).toEqual([]);
});

test("a stream created elsewhere appears in the open catalog", async ({ page, request }) => {
  const problems = watchProblems(page);
  const name = `fresh-${Date.now().toString(36)}`;
  await page.goto(`/?q=${name}`);
  await hydrated(page);
  await expect(page.getByText("No image streams match.")).toBeVisible();
  const r = await request.post("/apis/image.openshift.io/v1/namespaces/default/imagestreams", { data: { metadata: { name } } });
  expect(r.status()).toBe(201);
  await expect(page.locator(`tr[data-key="default/${name}"]`)).toBeVisible({ timeout: 3000 });
  expect(problems).toEqual([]);
});

test("the dashboard shows a tag movement made elsewhere", async ({ page, request }) => {
  const problems = watchProblems(page);
  await page.goto("/dashboard");
  await expect(page.getByRole("heading", { name: "Recent tag movements" })).toBeVisible();
  await hydrated(page);
  const tag = `wall-${Date.now().toString(36)}`;
  const digest = "sha256:" + Array.from({ length: 64 }, (_, i) => "fedcba9876543210"[(i * 5 + tag.length) % 16]).join("");
  const r = await request.post("/apis/image.openshift.io/v1/namespaces/demo/imagestreammappings", {
    data: { metadata: { name: "nginx" }, tag, image: { metadata: { name: digest }, dockerImageReference: `docker.io/library/nginx@${digest}` } },
  });
  expect(r.status()).toBe(201);
  await expect(page.locator("ol.moves").getByText(`demo/nginx:${tag}`)).toBeVisible({ timeout: 3000 });
  expect(problems).toEqual([]);
});

test("a movement passed on before the page hydrated is shown once it has", async ({ page, request }) => {
  const problems = watchProblems(page);
  // The browser build is held back: the live connection (plain script, opened when the page
  // loads) gets the change before any island listens.
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route("**/*.wasm", async (route) => {
    await held;
    await route.continue();
  });
  await page.goto("/dashboard", { waitUntil: "domcontentloaded" });
  await expect(page.getByRole("heading", { name: "Recent tag movements" })).toBeVisible();
  const tag = `early-${Date.now().toString(36)}`;
  const digest = "sha256:" + Array.from({ length: 64 }, (_, i) => "0f1e2d3c4b5a6978"[(i * 3 + tag.length) % 16]).join("");
  const r = await request.post("/apis/image.openshift.io/v1/namespaces/demo/imagestreammappings", {
    data: { metadata: { name: "nginx" }, tag, image: { metadata: { name: digest }, dockerImageReference: `docker.io/library/nginx@${digest}` } },
  });
  expect(r.status()).toBe(201);
  await expect(page.locator("html")).toHaveAttribute("data-live-changes", /^[1-9]/, { timeout: 5000 });
  await expect(page.locator("ol.moves").getByText(`demo/nginx:${tag}`)).toHaveCount(0);
  release();
  await hydrated(page);
  await expect(page.locator("ol.moves").getByText(`demo/nginx:${tag}`)).toBeVisible({ timeout: 3000 });
  expect(problems).toEqual([]);
});

test("a tag set through the CLI appears on the open stream page", async ({ page }) => {
  const problems = watchProblems(page);
  await page.goto("/ns/demo/nginx");
  await hydrated(page);
  const tag = `cli-${Date.now().toString(36)}`;
  const out = execFileSync(process.env.CLI!, ["--server", process.env.BASE_URL!, "-n", "demo", "tag", "--reference", "quay.io/x/nginx:2", `nginx:${tag}`]);
  expect(out.toString()).toBe(`Tag nginx:${tag} set to quay.io/x/nginx:2.\n`);
  await expect(page.locator(`tr[data-tag="${tag}"]`)).toBeVisible({ timeout: 3000 });
  expect(problems).toEqual([]);
});
