// The stream page: tags with their states and pull specs, the timeline, history with restore,
// and the tag, import and delete actions, each visible without a reload.
import { expect, test } from "@playwright/test";
import { accessible, hydrated, photograph, watchProblems } from "./helpers";

test("stream page shows tags, pull specs, timeline and history", async ({ page }) => {
  const problems = watchProblems(page);
  await page.goto("/ns/demo/app");
  await hydrated(page);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("demo/app");
  const prod = page.locator('tr[data-tag="prod"]');
  await expect(prod.locator("th")).toContainText("prod (stable)");
  await expect(prod.locator(".badge")).toHaveText("current");
  await expect(prod).toContainText("pinned to app@sha256:");
  // `podman pull` commands for the portal's own registry, by tag and by digest, and whether
  // the image is stored there (the demo's images are metadata only: pulled through on first pull).
  const repo = `${new URL(page.url()).host}/demo/app`;
  await expect(prod.getByRole("button", { name: /Copy prod by tag/ })).toHaveAttribute("data-copy", `podman pull ${repo}:prod`);
  await expect(prod.getByRole("button", { name: /Copy prod by digest/ })).toHaveAttribute("data-copy", new RegExp(`^podman pull ${repo.replace(/\./g, "\\.")}@sha256:[0-9a-f]{64}$`));
  await expect(prod.locator("[data-storage]")).toHaveText("Not mirrored yet (pulled through on first pull)");
  await expect(page.locator('tr[data-tag="build-41"] .badge')).toHaveText("Pushed, not managed by a tag spec");
  await expect(page.getByRole("group", { name: /Tag timeline/ })).toBeVisible();
  await expect(page.locator('details[data-history="build-42"] li')).toHaveCount(1);
  await accessible(page);
  await photograph(page, "stream");
  expect(problems).toEqual([]);
});

test("tag, alias, field errors, restore and delete without reload", async ({ page }) => {
  const problems = watchProblems(page, { formErrors: true });
  await page.goto("/ns/demo/app");
  await hydrated(page);
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
  const source = page.locator("#tag-source");
  const dest = page.locator("#tag-destination");
  const tagButton = page.getByRole("button", { name: "Tag", exact: true });
  // Validation as you type, from the shared rules (a registry source is parsed as one).
  await page.getByLabel("An image in a registry (imported)").check();
  await source.fill("Bad");
  await expect(page.locator("#tag-source-error")).toHaveText("invalid SOURCE: repository name must be lowercase");
  await expect(tagButton).toBeDisabled();
  await page.getByLabel("A tag or image of this stream").check();
  await source.fill("app:build-41");
  await dest.fill("app:-x");
  await expect(page.locator("#tag-destination-error")).toContainText('invalid tag "-x" format');
  // A permanent tag, then the same tag moved to another image: history grows.
  await dest.fill("app:moving");
  await tagButton.click();
  await expect(page.getByText(/^Tag app:moving set to app@sha256:/)).toBeVisible();
  await expect(page.locator('tr[data-tag="moving"] .badge')).toHaveText("current");
  await source.fill("app:build-42");
  await tagButton.click();
  await expect(page.locator('details[data-history="moving"] li')).toHaveCount(2);
  // An alias.
  await source.fill("app:moving");
  await dest.fill("app:follow");
  await page.getByLabel("alias (tracks the source tag)").check();
  await tagButton.click();
  await expect(page.getByText("Tag app:follow set up to track app:moving.")).toBeVisible();
  await expect(page.locator('tr[data-tag="moving"] th')).toContainText("(follow)");
  // A server-side error shows at its field: the source stream does not exist.
  await page.getByLabel("permanent (pinned to the current image)").check();
  await page.getByLabel("A tag of another stream").check();
  await source.fill("nosuch:tag");
  await dest.fill("app:x");
  await tagButton.click();
  await expect(page.locator("#tag-source-error")).toHaveText('There is no stream named nosuch in demo. (imagestreams.image.openshift.io "nosuch" not found)');
  // Restore the older image of "moving", with confirmation.
  const history = page.locator('details[data-history="moving"]');
  const older = history.locator("li").nth(1);
  const olderImage = await older.locator("a.digest").getAttribute("href");
  await older.getByRole("button", { name: "Restore this image…" }).click();
  await history.getByRole("group", { name: "Confirm restore" }).getByRole("button", { name: "Restore", exact: true }).click();
  await expect(history.locator("li")).toHaveCount(3);
  await expect(history.locator("li").first().locator("a.digest")).toHaveAttribute("href", olderImage!);
  // Delete a tag, with confirmation.
  const row = page.locator('tr[data-tag="follow"]');
  await page.locator('tr[data-tag="moving"]').getByRole("link", { name: "Delete…" }).click();
  await page.locator('tr[data-tag="moving"]').getByRole("button", { name: "Confirm delete" }).click();
  await expect(page.locator('tr[data-tag="moving"]')).toHaveCount(0);
  await expect(row).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(1);
  expect(problems).toEqual([]);
});

test("import form validates and reports registry refusals", async ({ page }) => {
  const problems = watchProblems(page, { formErrors: true });
  await page.goto("/ns/demo/nginx");
  await hydrated(page);
  await page.locator("#import-from").fill("quay.io/X");
  await expect(page.locator("#import-from-error")).toHaveText("repository name must be lowercase");
  await page.getByLabel("every tag of the repository (--all)").check();
  await page.locator("#import-from").fill("quay.io/x/y:1");
  await expect(page.locator("#import-from-error")).toHaveText("you must specify an image repository, not a tag or ID");
  await page.getByLabel("every tag of the repository (--all)").uncheck();
  // The test server only allows 127.0.0.1:1, so the server refuses with the upstream message.
  await page.getByRole("button", { name: "Import" }).click();
  await expect(page.locator("#import-from-error")).toContainText('importing images from registry "quay.io:443" is forbidden');
  expect(problems).toEqual([]);
});

test("image page shows layers, config, where it is tagged, and YAML", async ({ page }) => {
  const problems = watchProblems(page);
  await page.goto("/ns/demo/ruby");
  await hydrated(page);
  // From the stream, the image page is the stream's (`/<namespace>/<stream>@<id>`): its
  // breadcrumb leads back (issue 17 point 8).
  await page.locator('details[data-history="latest"] a.digest').first().click();
  await expect(page).toHaveURL(/\/demo\/ruby@sha256:/);
  const digest = decodeURIComponent(new URL(page.url()).pathname.split("@").pop()!);
  await expect(page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: "demo / ruby" })).toHaveAttribute("href", "/ns/demo/ruby");
  await expect(page.locator("#layers tbody tr")).toHaveCount(2);
  await expect(page.locator("dl.facts").getByText("/opt/app", { exact: true })).toBeVisible();
  await expect(page.locator("#tagged-now")).toContainText("demo/ruby:latest");
  await page.getByText("YAML").click();
  await expect(page.locator("details.yaml pre")).toContainText("kind: ImageStreamImage");
  await accessible(page);
  await photograph(page, "image");
  // The same page by the digest alone, `/images/<digest>`.
  await page.goto(`/images/${digest}`);
  await hydrated(page);
  await expect(page.locator("#layers tbody tr")).toHaveCount(2);
  await expect(page.locator("#tagged-now")).toContainText("demo/ruby:latest");
  expect(problems).toEqual([]);
  // An image the stream never had is not found there, even if another stream has it.
  const missing = await page.goto(`/demo/nginx@${digest}`);
  expect(missing?.status()).toBe(404);
  await expect(page.getByRole("alert")).toContainText("not found");
});

test("dashboard shows movements and today's streams, and works at 360 px", async ({ page }) => {
  const problems = watchProblems(page);
  await page.setViewportSize({ width: 360, height: 800 });
  await page.goto("/dashboard");
  await expect(page.getByRole("heading", { name: "Recent tag movements" })).toBeVisible();
  await expect(page.locator("ol.moves li").first()).toBeVisible();
  await expect(page.getByRole("heading", { name: "Updated today" })).toBeVisible();
  await photograph(page, "dashboard-360");
  await page.goto("/ns/demo/app");
  await hydrated(page);
  const wide = await page.evaluate(() =>
    [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > 361 && !e.closest(".table-wrap, .timeline-figure"))
      .map((e) => `${e.tagName.toLowerCase()}.${e.className}`)
      .slice(0, 5),
  );
  expect(wide).toEqual([]);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width).toBeLessThanOrEqual(360 + 1);
  // The tag table is one card per tag (issue 17 point 6; scale.spec.ts checks them at 390 px).
  expect(await page.locator('tr[data-tag="prod"]').evaluate((tr) => getComputedStyle(tr).display)).toBe("block");
  await photograph(page, "stream-360");
  expect(problems).toEqual([]);
});

test("import a whole repository from the form, with its result", async ({ page, request }) => {
  const problems = watchProblems(page);
  const registry = process.env.REGISTRY;
  expect(registry, "scripts/e2e.sh starts a registry and passes REGISTRY").toBeTruthy();
  const name = `repo-${Date.now().toString(36)}`;
  expect((await request.post("/apis/image.openshift.io/v1/namespaces/default/imagestreams", { data: { metadata: { name } } })).status()).toBe(201);
  await page.goto(`/ns/default/${name}`);
  await hydrated(page);
  await page.locator("#import-from").fill(`${registry}/e2e/app`);
  await page.getByLabel("every tag of the repository (--all)").check();
  await page.getByLabel("insecure registry").last().check();
  await page.getByRole("button", { name: "Import" }).click();
  await expect(page.locator("#import-result")).toHaveText("Imported 20 of 20 tags.", { timeout: 20_000 });
  await expect(page.locator("#tags tbody tr")).toHaveCount(20);
  await expect(page.locator('tr[data-tag="t7"] .badge')).toHaveText("current");
  expect(problems).toEqual([]);
});

test("a failing import shows its reason, and 'Import now' retries it", async ({ page, request }) => {
  // "Import now" that imports nothing answers with an error (issue 17 point 1): expected here.
  const problems = watchProblems(page, { formErrors: true });
  const registry = process.env.REGISTRY;
  expect(registry).toBeTruthy();
  const name = `fail-${Date.now().toString(36)}`;
  expect((await request.post("/apis/image.openshift.io/v1/namespaces/default/imagestreams", { data: { metadata: { name } } })).status()).toBe(201);
  await page.goto(`/ns/default/${name}`);
  await hydrated(page);
  // Tag an image the registry does not have; the controller imports it in the background.
  await page.getByLabel("An image in a registry (imported)").check();
  await page.locator("#tag-source").fill(`${registry}/e2e/app:nope`);
  await page.locator("#tag-destination").fill(`${name}:nope`);
  await page.getByLabel("insecure registry").first().check();
  await page.getByRole("button", { name: "Tag", exact: true }).click();
  const row = page.locator('tr[data-tag="nope"]');
  await expect(row.locator(".badge")).toHaveText("import failed", { timeout: 10_000 });
  await expect(row.locator(".failure")).toContainText(`Not found: dockerimage.image.openshift.io "${registry}/e2e/app:nope" not found`);
  await row.getByRole("button", { name: "Import now" }).click();
  await expect(page.locator("#stream-action-error")).toContainText("The image was not imported. Tag nope: Not found");
  await expect(row.locator(".badge")).toHaveText("import failed");
  expect(problems).toEqual([]);
});

test("a long history shows its newest 50 items, and all of them on request", async ({ page, request }) => {
  const problems = watchProblems(page);
  const tag = `long-${Date.now().toString(36)}`;
  for (let n = 1; n <= 105; n++) {
    const digest = "sha256:" + n.toString(16).padStart(64, "0");
    const r = await request.post("/apis/image.openshift.io/v1/namespaces/demo/imagestreammappings", {
      data: { metadata: { name: "nginx" }, tag, image: { metadata: { name: digest }, dockerImageReference: `quay.io/x/nginx@${digest}` } },
    });
    expect(r.status()).toBe(201);
  }
  await page.goto("/ns/demo/nginx");
  await hydrated(page);
  const history = page.locator(`details[data-history="${tag}"]`);
  await expect(history.locator("summary")).toHaveText(`${tag} (105 items)`);
  await expect(history.locator("ol > li")).toHaveCount(50);
  await history.locator("summary").click();
  await history.getByRole("link", { name: "Show all 105 items (the newest 50 are shown)" }).click();
  await expect(page.locator(`details[data-history="${tag}"] ol > li`)).toHaveCount(105);
  await expect(page.locator(`details[data-history="${tag}"]`)).toHaveAttribute("open", "");
  expect(problems).toEqual([]);
});
