// Issue 17 point 5: the dashboard is a wall screen. Big tiles (failing imports in red with the
// reason, streams and tags updated today, moves per hour, the latest moves one line per tag),
// names and digests as links, relative times that tick, a kiosk mode that fits 1920×1080 and
// 1280×720 without scrolling, and no memory growth while it stays open with a change every
// second (`SOAK_SECONDS`, 120 here; `scripts/dashboard-soak.sh` runs it for an hour).
import { expect, test, type Page } from "@playwright/test";
import { accessible, hydrated, photograph, watchProblems } from "./helpers";

const uid = () => Date.now().toString(36);
const api = "/apis/image.openshift.io/v1/namespaces";
const digest = (seed: string) => "sha256:" + Array.from({ length: 64 }, (_, i) => "0123456789abcdef"[(seed.charCodeAt(i % seed.length) * 7 + i * 3) % 16]).join("");

test("point 5: tiles for failing imports with their reason, today, moves per hour and the latest moves", async ({ page, request }) => {
  const problems = watchProblems(page);
  const registry = process.env.REGISTRY;
  expect(registry, "scripts/e2e.sh starts a registry and passes REGISTRY").toBeTruthy();
  // A failing import: a tag that does not exist in the test registry.
  const name = `wall-${uid()}`;
  expect((await request.post(`${api}/default/imagestreams`, { data: { metadata: { name } } })).status()).toBe(201);
  const imp = await request.post(`${api}/default/imagestreamimports`, {
    data: {
      kind: "ImageStreamImport",
      apiVersion: "image.openshift.io/v1",
      metadata: { name },
      spec: { import: true, images: [{ from: { kind: "DockerImage", name: `${registry}/e2e/app:nope` }, to: { name: "nope" }, importPolicy: { insecure: true } }] },
    },
  });
  expect(imp.status()).toBe(201);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto("/dashboard");
  await hydrated(page);
  const failing = page.locator(".tile.failing");
  await expect(failing).toHaveClass(/bad/);
  const line = failing.locator("li").filter({ hasText: `default/${name}` });
  await expect(line.locator(".reason")).toHaveText("Not found");
  await expect(line.locator(".message")).toContainText("not found");
  await expect(line.getByRole("link", { name: `default/${name}` })).toHaveAttribute("href", `/ns/default/${name}`);
  const red = await failing.evaluate((e) => getComputedStyle(e).borderTopColor);
  expect(red).toBe("rgb(179, 38, 30)");
  // Today: counts as big numbers.
  const today = page.locator(".tile.today");
  expect(Number(await today.locator('[data-count="streams"]').textContent())).toBeGreaterThanOrEqual(5);
  expect(Number(await today.locator('[data-count="tags"]').textContent())).toBeGreaterThanOrEqual(5);
  // Moves per hour: 24 bars, the current hour not empty (the demo was loaded just now).
  const chart = page.getByRole("img", { name: /^Tag moves per hour: \d+ moves in the last 24 hours/ });
  await expect(chart.locator("rect")).toHaveCount(24);
  expect(Number(await chart.locator("rect.bar.now").getAttribute("height"))).toBeGreaterThan(0);
  // The latest moves: each tag once; every name and digest a link.
  const lines = page.locator("ol.moves li");
  expect(await lines.count()).toBeGreaterThanOrEqual(5);
  const tags = await lines.evaluateAll((ls) =>
    ls.flatMap((l) => [...l.querySelectorAll("a.tag")].map((a) => `${l.querySelector("a.name")?.textContent}:${a.textContent}`)),
  );
  expect(new Set(tags).size).toBe(tags.length);
  for (const l of await lines.all()) {
    await expect(l.locator("a.name").first()).toHaveAttribute("href", /^\/ns\/[^/]+\/[^/#]+$/);
    await expect(l.locator("a.tag").first()).toHaveAttribute("href", /^\/ns\/[^/]+\/[^/#]+#history-/);
  }
  await expect(lines.locator("a.digest").first()).toHaveAttribute("href", /^\/[^/]+\/[^/]+@sha256:[0-9a-f]{64}$/);
  // On a screen with a pointer a link says so when hovered.
  const first = lines.locator("a.digest").first();
  await first.hover();
  expect(await first.evaluate((a) => getComputedStyle(a).textDecorationLine)).toBe("underline");
  await accessible(page);
  await photograph(page, "dashboard");
  await page.setViewportSize({ width: 390, height: 844 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(391);
  await page.screenshot({ path: "test-results/screens/dashboard-390-light.png", fullPage: true });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.screenshot({ path: "test-results/screens/dashboard-390-dark.png", fullPage: true });
  expect(problems).toEqual([]);
});

test("point 5: a tag and its alias moving together are one line", async ({ page, request }) => {
  const problems = watchProblems(page);
  const name = `alias-${uid()}`;
  expect((await request.post(`${api}/default/imagestreams`, { data: { metadata: { name } } })).status()).toBe(201);
  const map = (tag: string, d: string) =>
    request.post(`${api}/default/imagestreammappings`, { data: { metadata: { name }, tag, image: { metadata: { name: d }, dockerImageReference: `reg.example/x/${name}@${d}` } } });
  expect((await map("prod", digest(name + "1"))).status()).toBe(201);
  const alias = await request.post(`${api}/default/imagestreamtags`, {
    data: { metadata: { name: `${name}:live` }, tag: { name: "live", from: { kind: "ImageStreamTag", name: "prod" } } },
  });
  expect(alias.status()).toBe(201);
  // The move lands after the page was rendered and before its live connection reaches the
  // server (held back here until the move is in): the connection starts from the
  // resourceVersion the page was read at, so it replays the move instead of missing it.
  let moved = () => {};
  const afterMove = new Promise<void>((resolve) => (moved = resolve));
  await page.route("**/api/v1/live/**", async (route) => {
    await afterMove;
    await route.continue();
  });
  await page.goto("/dashboard");
  await hydrated(page);
  await expect(page.locator("[data-live]")).toHaveAttribute("data-live", /[?&]resourceVersion=\d+/);
  expect((await map("prod", digest(name + "2"))).status()).toBe(201);
  moved();
  const mine = page.locator("ol.moves li").filter({ hasText: `default/${name}:` });
  await expect(mine).toHaveCount(1, { timeout: 5000 });
  // Both tags on the one line (tags that moved at the same moment are listed by name).
  await expect(mine.locator("a.tag")).toHaveText(["live", "prod"]);
  await expect(mine.locator("a.digest")).toHaveAttribute("href", `/default/${name}@${digest(name + "2")}`);
  expect(problems).toEqual([]);
});

test("point 5: relative times tick every second without a reload", async ({ page }) => {
  const problems = watchProblems(page);
  await page.goto("/dashboard");
  await hydrated(page);
  const time = page.locator("ol.moves time[data-ago]").first();
  // Five seconds ago: worded again within a second or two, then again as the seconds pass (a
  // wall must not say "Less than a second ago" for ten seconds).
  await time.evaluate((t) => {
    t.setAttribute("datetime", new Date(Date.now() - 5000).toISOString());
    t.textContent = "not ticked";
  });
  await expect(time).toHaveText(/^[5-7] seconds ago$/, { timeout: 2_500 });
  const first = (await time.textContent()) ?? "";
  await expect(time).not.toHaveText(first, { timeout: 2_500 });
  await expect(time).toHaveText(/^([6-9]|1[0-2]) seconds ago$/);
  expect(problems).toEqual([]);
});

for (const [width, height] of [
  [1920, 1080],
  [1280, 720],
]) {
  test(`point 5: kiosk mode has no header, large type and fits ${width}×${height} without scrolling`, async ({ page }) => {
    const problems = watchProblems(page);
    await page.setViewportSize({ width, height });
    await page.goto("/dashboard?kiosk=1");
    await hydrated(page);
    await expect(page.locator("header.top")).toHaveCount(0);
    const px = await page.locator(".dashboard.kiosk").evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
    expect(px).toBeGreaterThanOrEqual(width >= 1920 ? 26 : 18);
    const big = await page.locator(".tile.today .big").evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
    expect(big).toBeGreaterThanOrEqual(width >= 1920 ? 60 : 44);
    const fit = await page.evaluate(() => ({
      w: document.documentElement.scrollWidth,
      h: document.documentElement.scrollHeight,
      tiles: [...document.querySelectorAll(".kiosk .tile")].map((t) => {
        const r = t.getBoundingClientRect();
        return { bottom: r.bottom, right: r.right, clipped: t.scrollHeight > t.clientHeight + 1 };
      }),
    }));
    expect(fit.w).toBeLessThanOrEqual(width);
    expect(fit.h).toBeLessThanOrEqual(height);
    expect(fit.tiles).toHaveLength(4);
    for (const t of fit.tiles) {
      expect(t.bottom).toBeLessThanOrEqual(height);
      expect(t.right).toBeLessThanOrEqual(width);
      expect(t.clipped, "a tile shows whole lines only").toBe(false);
    }
    await accessible(page);
    await photograph(page, `dashboard-kiosk-${width}`);
    expect(problems).toEqual([]);
  });
}

/** The page's JS heap (after a garbage collection), DOM nodes and event listeners, from CDP. */
async function footprint(page: Page, cdp: Awaited<ReturnType<ReturnType<Page["context"]>["newCDPSession"]>>) {
  await cdp.send("HeapProfiler.collectGarbage");
  await cdp.send("HeapProfiler.collectGarbage");
  const { metrics } = await cdp.send("Performance.getMetrics");
  const m = Object.fromEntries(metrics.map((x: { name: string; value: number }) => [x.name, x.value]));
  const used = await page.evaluate(() => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0);
  return { heap: m.JSHeapUsedSize as number, nodes: m.Nodes as number, listeners: m.JSEventListeners as number, documents: m.Documents as number, usedJSHeapSize: used };
}

test("point 5: the dashboard survives being open: no memory or DOM growth with a change every second", async ({ page, request }) => {
  const seconds = Number(process.env.SOAK_SECONDS ?? "120");
  test.setTimeout((seconds + 120) * 1000);
  const problems = watchProblems(page);
  const name = `soak-${uid()}`;
  expect((await request.post(`${api}/default/imagestreams`, { data: { metadata: { name } } })).status()).toBe(201);
  const digests = [digest(name + "a"), digest(name + "b")];
  let moves = 0;
  let last = "";
  const move = async () => {
    const d = digests[moves % 2];
    const tag = `t${moves % 3}`;
    const r = await request.post(`${api}/default/imagestreammappings`, {
      data: { metadata: { name }, tag, image: { metadata: { name: d }, dockerImageReference: `reg.example/x/${name}@${d}` } },
    });
    expect(r.status()).toBe(201);
    moves++;
    last = d;
  };
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto("/dashboard?kiosk=1");
  await hydrated(page);
  let navigations = 0;
  page.on("framenavigated", (f) => {
    if (f === page.mainFrame()) navigations++;
  });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  const started = Date.now();
  const until = (s: number) => started + s * 1000;
  const runUntil = async (t: number) => {
    while (Date.now() < t) {
      const next = Date.now() + 1000;
      await move();
      await page.waitForTimeout(Math.max(0, next - Date.now()));
    }
  };
  // Warm up (the first changes fill caches and the lists), then measure from there.
  await runUntil(until(Math.min(30, seconds / 4)));
  const base = await footprint(page, cdp);
  const samples = [{ at: Math.round((Date.now() - started) / 1000), ...base }];
  while (Date.now() < until(seconds)) {
    await runUntil(Math.min(until(seconds), Date.now() + 60_000));
    samples.push({ at: Math.round((Date.now() - started) / 1000), ...(await footprint(page, cdp)) });
  }
  const end = samples[samples.length - 1];
  console.log(JSON.stringify({ soak: { seconds, moves, samples } }));
  // Still live: the newest move is on the wall. Generous, like `hydrated`: the move came just
  // before a forced garbage collection, and the debug server renders the part again on a
  // shared two-core machine (5 s was once too short with another browser test running).
  await expect(page.locator("ol.moves li").filter({ hasText: `default/${name}:` }).first().locator("a.digest")).toHaveAttribute(
    "href",
    `/default/${name}@${last}`,
    { timeout: 15_000 },
  );
  expect(navigations, "the page never reloaded").toBe(0);
  expect(end.documents).toBeLessThanOrEqual(base.documents);
  expect(end.nodes, "DOM nodes").toBeLessThanOrEqual(base.nodes * 1.1 + 50);
  expect(end.listeners, "event listeners").toBeLessThanOrEqual(base.listeners + 10);
  expect(end.heap, "JS heap after GC").toBeLessThanOrEqual(base.heap * 1.2 + 1_000_000);
  expect(problems).toEqual([]);
});
