// Issue 17 points 3 and 6: the tag table at scale (filter, version order, sortable columns,
// pages, short digests with copy, size and platform columns, selection with one confirmation)
// and narrow screens (the tag table as cards with their actions, no identifier or header
// broken inside a word, the webhook delivery log with readable columns at every width).
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { accessible, hydrated, photograph, watchProblems } from "./helpers";

const API = "/apis/image.openshift.io/v1/namespaces";

function digest(n: number, salt: string): string {
  // The number first, so a 12-hex prefix tells 1.0.3 from 1.0.30.
  const hex = Buffer.from(`${n}-${salt}`).toString("hex");
  return "sha256:" + (hex + "0".repeat(64)).slice(0, 64);
}

/** A stream in `default` with tags 1.0.1 … 1.0.N (pushed in that order, one layer each of N-i kB,
 * except 1.0.7 with 90 MB), and a multi-arch index tagged `multi`. */
async function manyTags(request: APIRequestContext, n: number): Promise<string> {
  const name = `scale-${Date.now().toString(36)}`;
  expect((await request.post(`${API}/default/imagestreams`, { data: { metadata: { name } } })).status()).toBe(201);
  for (let i = 1; i <= n; i++) {
    const d = digest(i, name);
    const size = i === 7 ? 90_000_000 : (n - i + 1) * 1000;
    const r = await request.post(`${API}/default/imagestreammappings`, {
      data: {
        metadata: { name },
        tag: `1.0.${i}`,
        image: {
          metadata: { name: d },
          dockerImageReference: `quay.io/x/${name}@${d}`,
          dockerImageLayers: [{ name: digest(i + 1000, name), size, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" }],
        },
      },
    });
    expect(r.status()).toBe(201);
  }
  const index = digest(9999, name);
  const child = (k: number, arch: string) => ({
    digest: digest(5000 + k, name),
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    manifestSize: 100,
    architecture: arch,
    os: "linux",
  });
  const r = await request.post(`${API}/default/imagestreammappings`, {
    data: {
      metadata: { name },
      tag: "multi",
      image: {
        metadata: { name: index },
        dockerImageReference: `quay.io/x/${name}@${index}`,
        dockerImageManifestMediaType: "application/vnd.oci.image.index.v1+json",
        dockerImageManifests: [child(1, "amd64"), child(2, "arm64"), child(3, "s390x")],
      },
    },
  });
  expect(r.status()).toBe(201);
  return name;
}

const rowNames = (page: Page) => page.locator("#tags tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-tag")));

test("point 3: filter, version order, sortable columns, pages, digests, sizes, platforms, bulk delete", async ({ page, request }) => {
  const problems = watchProblems(page);
  const name = await manyTags(request, 60);
  await page.goto(`/ns/default/${name}`);
  await hydrated(page);
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));

  // First page: 25 rows of 61, names in version order (1.0.2 before 1.0.10, multi last).
  await expect(page.locator("#tag-summary")).toHaveText("1–25 of 61 tags · page 1 of 3");
  let names = await rowNames(page);
  expect(names.slice(0, 3)).toEqual(["1.0.1", "1.0.2", "1.0.3"]);
  expect(names.indexOf("1.0.2")).toBeLessThan(names.indexOf("1.0.10"));
  // The timeline draws the page's tags, in the same order; the histories below are the page's.
  const lanes = await page.locator("svg.lanes text.lane-label").allTextContents();
  expect(lanes).toEqual(names);
  await expect(page.locator("details.history")).toHaveCount(25);
  await expect(page.locator("#tags th.sort-name")).toHaveAttribute("aria-sort", "ascending");

  // Short digest (12 hex) linking to the image page, a copy button with the full digest,
  // the size and the platform of the row.
  const row = page.locator('tr[data-tag="1.0.3"]');
  const full = digest(3, name);
  await expect(row.locator("td[data-label=Image] .digest code")).toHaveText(full.slice(0, 19));
  await expect(row.getByRole("button", { name: /Copy the digest of 1\.0\.3/ })).toHaveAttribute("data-copy", full);
  await expect(row.locator("td[data-label=Size]")).toHaveText("58.0 kB");
  await expect(row.locator("td[data-label=Platform]")).toHaveText("single");

  // Pages: next, and 100 per page (a GET form: the address says it all).
  await page.getByRole("link", { name: "Next →" }).click();
  await expect(page).toHaveURL(/page=2/);
  await expect(page.locator("#tags tbody tr").first()).toHaveAttribute("data-tag", "1.0.26");
  await expect(page.locator("#tag-summary")).toHaveText("26–50 of 61 tags · page 2 of 3");
  expect((await rowNames(page))[0]).toBe("1.0.26");
  await page.getByLabel("Per page").selectOption("100");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page.locator("#tags tbody tr")).toHaveCount(61);
  await expect(page.locator('tr[data-tag="multi"] td[data-label=Platform]')).toHaveText("multi-arch ×3");

  // Sorting by the columns' headers: size (largest first), updated (newest first), then reversed.
  await page.locator("#tags thead").getByRole("link", { name: "Size" }).click();
  await expect(page).toHaveURL(/sort=-size/);
  await expect(page.locator("#tags tbody tr").first()).toHaveAttribute("data-tag", "1.0.7");
  names = await rowNames(page);
  expect(names.slice(0, 3)).toEqual(["1.0.7", "1.0.1", "1.0.2"]);
  await page.locator("#tags thead").getByRole("link", { name: /Updated/ }).click();
  await expect(page.locator("#tags th.sort-updated")).toHaveAttribute("aria-sort", "descending");
  const times = () => page.locator("#tags tbody td[data-label=Updated] time").evaluateAll((ts) => ts.map((t) => t.getAttribute("datetime")!));
  const newestFirst = await times();
  expect(newestFirst).toEqual([...newestFirst].sort().reverse());
  await page.locator("#tags thead").getByRole("link", { name: /Updated/ }).click();
  await expect(page.locator("#tags th.sort-updated")).toHaveAttribute("aria-sort", "ascending");
  await expect(page.locator("#tags tbody tr").first()).toHaveAttribute("data-tag", "1.0.1");
  const oldestFirst = await times();
  expect(oldestFirst).toEqual([...oldestFirst].sort());
  expect((await rowNames(page))[0]).toBe("1.0.1");

  // The filter: part of a name, then a digest prefix.
  await page.getByLabel("Filter tags").fill("1.0.5");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(/q=1\.0\.5/);
  await expect(page.locator("#tag-summary")).toHaveText("1–11 of 11 matching of 61 tags · page 1 of 1");
  await page.getByLabel("Filter tags").fill(full.slice(7, 19));
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page.locator("#tags tbody tr")).toHaveCount(1);
  expect(await rowNames(page)).toEqual(["1.0.3"]);

  // The tag name leads to its image, where the full digest is.
  await page.locator('tr[data-tag="1.0.3"]').getByRole("link", { name: "1.0.3", exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/default/${name}@${full}$`));
  await expect(page.locator("main")).toContainText(full);

  // Selection with one confirmation: two ticked, "Delete selected…", one "Delete 2 tags".
  await page.goto(`/ns/default/${name}`);
  await hydrated(page);
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
  await page.getByLabel("Select 1.0.1", { exact: true }).check();
  await page.getByLabel("Select 1.0.2", { exact: true }).check();
  await page.getByRole("button", { name: "Delete selected…" }).click();
  const confirm = page.locator("#bulk-confirm");
  await expect(confirm).toBeVisible();
  await expect(confirm).toContainText("Delete 2 tags: 1.0.1, 1.0.2?");
  await expect(confirm.getByRole("button", { name: "Delete 2 tags" })).toBeFocused();
  await accessible(page);
  await photograph(page, "tags-scale");
  await confirm.getByRole("button", { name: "Delete 2 tags" }).click();
  await expect(page.locator("#stream-action-result")).toHaveText("2 tags deleted.");
  await expect(page.locator('tr[data-tag="1.0.1"]')).toHaveCount(0);
  await expect(page.locator("#tag-summary")).toHaveText("1–25 of 59 tags · page 1 of 3");
  expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1);
  expect(problems).toEqual([]);
});

/** Words (runs without white space) of identifiers and headers that a line break splits: each
 * word's rectangles must share one line. */
async function brokenWords(page: Page, selector: string): Promise<string[]> {
  return page.evaluate((sel) => {
    const broken: string[] = [];
    for (const el of document.querySelectorAll(sel)) {
      if (!(el as HTMLElement).offsetParent && getComputedStyle(el).position !== "fixed") continue;
      const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const text = node.textContent ?? "";
        for (const m of text.matchAll(/\S+/g)) {
          const range = document.createRange();
          range.setStart(node, m.index!);
          range.setEnd(node, m.index! + m[0].length);
          const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
          if (tops.size > 1) broken.push(`${el.tagName.toLowerCase()}: ${m[0]}`);
        }
      }
    }
    return broken;
  }, selector);
}

const IDENTIFIERS = "h1, h2, h3, thead th, th[scope=row], .tag-name, .digest, .pullspec code, header.top a, .crumbs, .badge, .history code.ref";

test("point 6: at 390 px the tag table is cards with their actions, and nothing breaks inside a word", async ({ page }) => {
  const problems = watchProblems(page);
  await page.setViewportSize({ width: 390, height: 844 });
  for (const path of ["/", "/ns/demo/app", "/ns/demo/ruby"]) {
    await page.goto(path);
    await hydrated(page);
    expect(await brokenWords(page, IDENTIFIERS), path).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth), path).toBeLessThanOrEqual(391);
  }
  // The image page: its digest heading is one line too.
  await page.goto("/ns/demo/app");
  const image = await page.locator('tr[data-tag="build-42"] a.digest').getAttribute("href");
  await page.goto(image!);
  await hydrated(page);
  expect(await brokenWords(page, IDENTIFIERS), image!).toEqual([]);
  expect(await page.evaluate(() => document.documentElement.scrollWidth), image!).toBeLessThanOrEqual(391);
  await expect(page.locator("h1.digest-title code")).toHaveAttribute("title", /^sha256:[0-9a-f]{64}$/);
  await page.goto("/ns/demo/ruby");
  await hydrated(page);
  // /ns/demo/ruby is open: its rows are cards, side by side with nothing, each with its actions.
  const card = page.locator('tr[data-tag="latest"]');
  expect(await card.evaluate((tr) => getComputedStyle(tr).display)).toBe("block");
  const box = (await card.boundingBox())!;
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width).toBeLessThanOrEqual(390);
  for (const action of [card.getByRole("link", { name: /Tag this image as/ }), card.getByRole("link", { name: "Delete…" }), card.getByLabel("Select latest")]) {
    await action.scrollIntoViewIfNeeded();
    await expect(action).toBeInViewport();
  }
  await expect(card.locator("td[data-label=Size]")).toBeVisible();
  await accessible(page);
  await photograph(page, "stream-390");
  expect(problems).toEqual([]);
});

test("point 6: the webhook delivery log keeps readable columns at every width", async ({ page, request }) => {
  const problems = watchProblems(page);
  const name = `narrow-${Date.now().toString(36)}`;
  // A receiver that is not listening: the delivery fails with an error worth reading.
  const created = await request.post("/api/v1/namespaces/demo/webhooks", {
    data: { metadata: { name }, spec: { url: `http://127.0.0.1:${process.env.WEBHOOK_PORT}/hook`, secret: "narrow-screen-secret-1234", tags: ["none-such:x"] } },
  });
  expect(created.status()).toBe(201);
  expect((await request.post(`/api/v1/namespaces/demo/webhooks/${name}/test`)).status()).toBeLessThan(300);
  for (const width of [390, 768, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    await page.goto("/webhooks/demo");
    await hydrated(page).catch((e) => {
      throw new Error(`${e}\n${problems.join("\n")}`);
    });
    const card = page.locator(`article[data-webhook="${name}"]`);
    await card.getByRole("button", { name: "Show deliveries" }).click();
    const log = card.locator("table.deliveries");
    await expect(log.locator("tbody tr").first()).toBeVisible();
    // Every column at least as wide as its header's words, and no header or cell broken inside a word.
    const narrow = await log.evaluate((table) =>
      [...table.querySelectorAll("thead th")]
        .filter((th) => th.textContent!.trim() && th.getBoundingClientRect().width + 1 < (th as HTMLElement).scrollWidth)
        .map((th) => th.textContent),
    );
    expect(narrow, `${width} px`).toEqual([]);
    expect(await brokenWords(page, "table.deliveries th, table.deliveries td:not(.error-text)"), `${width} px`).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth), `${width} px`).toBeLessThanOrEqual(width + 1);
    if (width === 390) await photograph(page, "webhooks-390");
  }
  expect((await request.delete(`/api/v1/namespaces/demo/webhooks/${name}`)).status()).toBeLessThan(300);
  expect(problems).toEqual([]);
});
