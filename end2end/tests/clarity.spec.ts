// Issue 17 points 1, 7 and 8: no failure is silent or green, messages in plain words first,
// and every page easy to find one's way on (its own title, search by namespace, links that keep
// where one came from, a namespace chooser for webhooks, cards that stay live).
import { expect, test, type Page } from "@playwright/test";
import { accessible, hydrated, photograph, watchProblems } from "./helpers";

const uid = () => Date.now().toString(36);

/** Screenshots in light and dark, then at 390 px wide (a phone), for `name`. */
async function photographAll(page: Page, name: string) {
  await photograph(page, name);
  const size = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `test-results/screens/${name}-390.png`, fullPage: true });
  if (size) await page.setViewportSize(size);
}

test("point 1: an alias cycle on the tag form is shown in error style, and the old success goes", async ({ page }) => {
  const problems = watchProblems(page, { formErrors: true });
  const id = uid();
  await page.goto("/ns/demo/app");
  await hydrated(page);
  const source = page.locator("#tag-source");
  const dest = page.locator("#tag-destination");
  const tag = page.getByRole("button", { name: "Tag", exact: true });
  const form = page.locator("#tag-form");
  await source.fill("app:build-42");
  await dest.fill(`app:ca-${id}`);
  await tag.click();
  await expect(form.locator("#tag-result")).toContainText(`Tag app:ca-${id} set to`);
  await source.fill(`app:ca-${id}`);
  await dest.fill(`app:cb-${id}`);
  await page.getByLabel("alias (tracks the source tag)").check();
  await tag.click();
  await expect(form.locator("#tag-result")).toHaveText(`Tag app:cb-${id} set up to track app:ca-${id}.`);
  // ca tracking cb, which tracks ca: a 422 about spec.tags[…].from.name, a field the form has no
  // place for. It is shown beside the button in error style, and the success above is gone.
  await source.fill(`app:cb-${id}`);
  await dest.fill(`app:ca-${id}`);
  await tag.click();
  const alert = form.getByRole("alert");
  await expect(alert).toContainText("These tags would track each other in a circle");
  await expect(alert).toContainText("may not form a cycle");
  await expect(alert).toHaveClass(/error/);
  await expect(form.locator("#tag-result")).toHaveCount(0);
  await photographAll(page, "issue17-alias-cycle");
  expect(problems).toEqual([]);
});

test("point 1: an import that imported nothing is an error with its reason in words; no Copy without an image", async ({ page, request }) => {
  const problems = watchProblems(page, { formErrors: true });
  const registry = process.env.REGISTRY;
  expect(registry, "scripts/e2e.sh starts a registry and passes REGISTRY").toBeTruthy();
  const name = `none-${uid()}`;
  expect((await request.post("/apis/image.openshift.io/v1/namespaces/default/imagestreams", { data: { metadata: { name } } })).status()).toBe(201);
  await page.goto(`/ns/default/${name}`);
  await hydrated(page);
  // The import form: nothing imported is not a green summary.
  await page.locator("#import-from").fill(`${registry}/e2e/app:nope`);
  await page.locator("#import-form").getByLabel("insecure registry").check();
  await page.getByRole("button", { name: "Import", exact: true }).click();
  const result = page.locator("#import-form #import-result");
  await expect(result.getByRole("alert")).toContainText("The image was not imported. Tag nope: Not found (", { timeout: 20_000 });
  await expect(result.locator(".ok")).toHaveCount(0);
  // The tag row: the reason in words, the upstream message, and the time on its own line.
  const row = page.locator('tr[data-tag="nope"]');
  await expect(row.locator(".badge")).toHaveText("import failed", { timeout: 10_000 });
  await expect(row.locator(".failure .reason")).toHaveText("Not found");
  await expect(row.locator(".failure .reason")).toHaveAttribute("title", "NotFound");
  await expect(row.locator(".failure .message")).toHaveText(`dockerimage.image.openshift.io "${registry}/e2e/app:nope" not found`);
  await expect(row.locator(".since")).toHaveText(/^Failing for (less than a second|\d+ seconds?|about a minute)$/);
  // A tag without an image offers nothing to copy.
  await expect(row.locator("button.copy")).toHaveCount(0);
  await expect(row).toContainText("No image yet: nothing to pull");
  // "Import now" fails again: an error, not "Imported 0 of 1 tags".
  await row.getByRole("button", { name: "Import now" }).click();
  await expect(page.locator("#stream-action-error").getByRole("alert")).toContainText("The image was not imported. Tag nope: Not found");
  await expect(page.locator("#stream-action-result")).toHaveCount(0);
  await accessible(page);
  await photographAll(page, "issue17-import-failed");
  expect(problems).toEqual([]);
});

test("point 7: messages lead with words, labels say what they mean, counts agree", async ({ page }) => {
  const problems = watchProblems(page, { formErrors: true });
  await page.goto("/");
  await hydrated(page);
  // A stream that exists: the sentence first, upstream's wording after it.
  await page.locator("#new-stream-namespace").fill("demo");
  await page.locator("#new-stream-name").fill("app");
  await page.getByRole("button", { name: "Create image stream" }).click();
  await expect(page.getByRole("alert")).toHaveText('A stream named app already exists in demo. (imagestreams.image.openshift.io "app" already exists)');
  // A name rule in words as you type.
  await page.locator("#new-namespace").fill("Bad_NS");
  await expect(page.locator("#new-namespace-hint")).toHaveText(/^Use lowercase letters, digits and '-'.*\(a lowercase RFC 1123 label/);
  await photographAll(page, "issue17-words-catalog");
  // Plurals: one stream is "1 stream".
  await page.goto("/?q=demo/app");
  await expect(page.locator("#catalog-summary")).toHaveText(/^1 stream · page 1 of 1$/);
  const counts = (await page.locator('tr[data-key="demo/app"] td').nth(5).textContent())!.split(" / ");
  // The stream page counts tags and images as the catalog does (aliases included).
  await page.goto("/ns/demo/app");
  await hydrated(page);
  const plural = (n: string, noun: string) => `${n} ${noun}${n === "1" ? "" : "s"}`;
  await expect(page.locator("h1 + p.muted")).toContainText(`${plural(counts[0], "tag")} · ${plural(counts[1], "image")} · generation`);
  // Jargon gets words.
  await expect(page.locator('tr[data-tag="build-41"] .badge')).toHaveText("Pushed, not managed by a tag spec");
  await expect(page.locator('tr[data-tag="prod"]')).toContainText("pulled from the source registry (reference policy Source)");
  // A missing source stream on the tag form.
  await page.getByLabel("A tag of another stream").check();
  await page.locator("#tag-source").fill("nosuch:tag");
  await page.locator("#tag-destination").fill("app:x");
  await page.getByRole("button", { name: "Tag", exact: true }).click();
  await expect(page.locator("#tag-source-error")).toHaveText(/^There is no stream named nosuch in demo\. \(/);
  await accessible(page);
  await photographAll(page, "issue17-words-stream");
  expect(problems).toEqual([]);
});

test("point 8: every page has its own title", async ({ page }) => {
  const problems = watchProblems(page);
  const titles: [string, string][] = [
    ["/", "Image streams · imagestreams"],
    ["/?q=ruby", "Streams matching ruby · imagestreams"],
    ["/ns/demo/app", "demo/app · imagestreams"],
    ["/dashboard", "Dashboard · imagestreams"],
    ["/webhooks", "Webhooks · imagestreams"],
    ["/webhooks/demo", "Webhooks of demo · imagestreams"],
    ["/namespaces/demo", "Namespace demo · imagestreams"],
    ["/namespaces/demo/prune", "Retention of demo · imagestreams"],
    ["/signin", "Sign in · imagestreams"],
    ["/account", "Account · imagestreams"],
  ];
  for (const [path, title] of titles) {
    await page.goto(path);
    await expect(page, path).toHaveTitle(title);
  }
  expect(problems).toEqual([]);
});

test("point 8: search by namespace, a link to the new stream, image breadcrumbs, the webhooks chooser", async ({ page, request }) => {
  const problems = watchProblems(page);
  // The catalog search matches namespaces and namespace/stream.
  await page.goto("/?q=team-a");
  await expect(page.locator('tr[data-key="team-a/api"]')).toBeVisible();
  await expect(page.locator("tr.stream:not([data-key^='team-a/'])")).toHaveCount(0);
  await page.goto("/?q=demo/ngin");
  await expect(page.locator("tr.stream")).toHaveCount(1);
  await expect(page.locator('tr[data-key="demo/nginx"]')).toBeVisible();
  // After creating a stream, its page is one click away.
  const name = `linked-${uid()}`;
  await page.goto("/");
  await hydrated(page);
  await page.locator("#new-stream-namespace").fill("default");
  await page.locator("#new-stream-name").fill(name);
  await page.getByRole("button", { name: "Create image stream" }).click();
  await page.getByRole("status").getByRole("link", { name: `default/${name}` }).click();
  await expect(page).toHaveURL(new RegExp(`/ns/default/${name}$`));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`default/${name}`);
  // The image page reached from a stream keeps the stream in its breadcrumb.
  await page.goto("/ns/demo/app");
  await hydrated(page);
  await page.locator('details[data-history="prod"] a.digest').first().click();
  await expect(page).toHaveURL(/\/demo\/app@sha256:[0-9a-f]{64}$/);
  const crumbs = page.getByRole("navigation", { name: "Breadcrumb" });
  await expect(crumbs.getByRole("link", { name: "demo / app" })).toHaveAttribute("href", "/ns/demo/app");
  await expect(page).toHaveTitle(/^demo\/app@sha256:[0-9a-f]{12} · imagestreams$/);
  // A tag name links to its image the same way.
  await page.goto("/ns/demo/app");
  await page.locator('tr[data-tag="prod"] th a').click();
  await expect(page).toHaveURL(/\/demo\/app@sha256:/);
  // The header's Webhooks link asks for the namespace.
  await page.goto("/");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Webhooks" }).click();
  await expect(page).toHaveURL(/\/webhooks$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Webhooks");
  await accessible(page);
  await photographAll(page, "issue17-webhooks-chooser");
  await page.locator("#webhook-namespaces").getByRole("link", { name: "demo", exact: true }).click();
  await expect(page).toHaveURL(/\/webhooks\/demo$/);
  expect(request).toBeTruthy();
  expect(problems).toEqual([]);
});

test("point 8: a webhook's pending count follows deliveries without a reload", async ({ page, request }) => {
  // Nobody listens on the receiver's port in this test: the delivery stays pending while it
  // is retried, which the card must show by itself.
  const problems = watchProblems(page, { formErrors: true });
  const name = `pending-${uid()}`;
  await page.goto("/webhooks/demo");
  await hydrated(page);
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Target URL").fill(`http://127.0.0.1:${process.env.WEBHOOK_PORT}/hook`);
  await page.getByLabel("Signing secret").fill("pending-signing-secret-42");
  await page.getByLabel(/^Tags/).fill("nginx:*");
  await page.getByRole("button", { name: "Create webhook" }).click();
  const card = page.locator(`article[data-webhook="${name}"]`);
  await expect(card.locator(".pending")).toHaveText("0");
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
  const digest = "sha256:" + Date.now().toString(16).padStart(64, "0");
  const r = await request.post("/apis/image.openshift.io/v1/namespaces/demo/imagestreammappings", {
    data: { metadata: { name: "nginx" }, tag: `p-${uid()}`, image: { metadata: { name: digest }, dockerImageReference: `quay.io/x/nginx@${digest}` } },
  });
  expect(r.status()).toBe(201);
  await expect(card.locator(".pending")).not.toHaveText("0", { timeout: 6000 });
  expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(1);
  await card.getByRole("button", { name: "Delete…" }).click();
  await card.getByRole("button", { name: "Confirm delete" }).click();
  await expect(card).toHaveCount(0);
  expect(problems).toEqual([]);
});

test("point 2: the source is chosen; bare tag names, digest prefixes and 'Tag this image as…'", async ({ page, request }) => {
  const problems = watchProblems(page, { formErrors: true });
  const id = uid();
  const digestOf = async (istag: string) =>
    (await (await request.get(`/apis/image.openshift.io/v1/namespaces/demo/imagestreamtags/${istag}`)).json()).image.metadata.name as string;
  await page.goto("/ns/demo/app");
  await hydrated(page);
  const source = page.locator("#tag-source");
  const dest = page.locator("#tag-destination");
  const tag = page.getByRole("button", { name: "Tag", exact: true });
  const result = page.locator("#tag-result");
  // A tag of this stream, by its bare name, to a bare destination: never docker.io/library/build-42.
  await expect(page.getByLabel("A tag or image of this stream")).toBeChecked();
  await expect(page.locator("#tag-source-tags option[value='build-42']")).toHaveCount(1);
  await source.fill("build-42");
  await dest.fill(`b-${id}`);
  await tag.click();
  await expect(result).toContainText(`Tag app:b-${id} set to app@${await digestOf("app:build-42")}`);
  // An image of this stream by a digest prefix.
  const prod = await digestOf("app:prod");
  await source.fill(prod.slice("sha256:".length, "sha256:".length + 7));
  await dest.fill(`p-${id}`);
  await tag.click();
  await expect(result).toContainText(`Tag app:p-${id} set to app@${prod}`);
  // Another stream's tag must name the stream; a registry source says in full what it means.
  await page.getByLabel("A tag of another stream").check();
  await source.fill("latest");
  await expect(page.locator("#tag-source-error")).toContainText("Name the tag as stream:tag");
  await expect(tag).toBeDisabled();
  await page.getByLabel("An image in a registry (imported)").check();
  await source.fill("build-42");
  await expect(page.locator("#tag-source-hint")).toHaveText(/^Imports docker\.io\/library\/build-42/);
  // "Tag this image as…" on a row: the form takes that image, the cursor goes to the name.
  await page.locator('tr[data-tag="prod"]').getByRole("link", { name: "Tag this image as… (the image of prod)" }).click();
  await expect(page.getByLabel("A tag or image of this stream")).toBeChecked();
  await expect(source).toHaveValue(prod);
  await expect(dest).toBeFocused();
  await dest.fill(`t-${id}`);
  await tag.click();
  await expect(result).toContainText(`Tag app:t-${id} set to app@${prod}`);
  await accessible(page);
  await photographAll(page, "issue17-tag-form");
  expect(problems).toEqual([]);
});
