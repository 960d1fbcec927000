// Issue 17 point 4: a timeline that tells the story. On the demo's `demo/web` (three weeks of
// builds, a burst of hotfixes, promotions and a reference-only tag): a dated axis, moves close
// in time as one dot with a count, no text overprinting or clipped, distinct colours with a
// legend, reference-only items drawn apart, every dot a link that the keyboard reaches with its
// details on focus as on hover, and a timeline that scrolls at 390 px instead of shrinking.
import { expect, test, type Page } from "@playwright/test";
import { accessible, hydrated, photograph, watchProblems } from "./helpers";

type Box = { x: number; y: number; width: number; height: number; text: string };

/** The boxes of every visible text of the timeline (the details row shows nothing unless asked). */
async function textBoxes(page: Page): Promise<Box[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll("svg.lanes text")]
      .filter((t) => getComputedStyle(t).visibility === "visible")
      .map((t) => {
        const r = t.getBoundingClientRect();
        return { x: r.x, y: r.y, width: r.width, height: r.height, text: t.textContent ?? "" };
      }),
  );
}

const overlap = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

test("point 4: the timeline has a dated axis, counted clusters, a legend, and no overprinted or clipped label", async ({ page }) => {
  const problems = watchProblems(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto("/ns/demo/web");
  await hydrated(page);
  const svg = page.getByRole("group", { name: /Tag timeline/ });
  await expect(svg).toBeVisible();
  // A dated axis: day and month under the lanes (three weeks of history).
  const ticks = await svg.locator("text.tick").allTextContents();
  expect(ticks.length).toBeGreaterThanOrEqual(3);
  for (const t of ticks) expect(t).toMatch(/^\d{1,2} [A-Z][a-z]{2}( \d\d:\d\d)?$/);
  // The three hotfixes within 25 minutes (and whatever else is that close) are one dot with its
  // count; so are dev's nine moves of the last day.
  for (const lane of ["latest", "dev"]) {
    const cluster = svg.locator(`g[data-lane="${lane}"] a.dot:not([data-count="1"])`).first();
    const count = await cluster.getAttribute("data-count");
    expect(Number(count)).toBeGreaterThanOrEqual(3);
    await expect(cluster.locator("text.count")).toHaveText(count!);
    await expect(cluster).toHaveAttribute("aria-label", new RegExp(`^${lane}: ${count} moves from .* to .*, the newest → sha256:[0-9a-f]{12}$`));
  }
  // No text touches another, and none leaves the picture.
  const boxes = await textBoxes(page);
  const frame = (await svg.boundingBox())!;
  const clashes: string[] = [];
  for (let i = 0; i < boxes.length; i++) {
    const b = boxes[i];
    if (b.x < frame.x - 0.5 || b.x + b.width > frame.x + frame.width + 0.5 || b.y < frame.y - 0.5 || b.y + b.height > frame.y + frame.height + 0.5)
      clashes.push(`clipped: ${b.text}`);
    for (let j = i + 1; j < boxes.length; j++) if (overlap(b, boxes[j])) clashes.push(`${b.text} × ${boxes[j].text}`);
  }
  expect(clashes).toEqual([]);
  // Dots of a lane never cover each other.
  const covered = await page.evaluate(() =>
    [...document.querySelectorAll("svg.lanes g.lane-row")].flatMap((g) => {
      const r = [...g.querySelectorAll("a.dot .shape")].map((s) => s.getBoundingClientRect()).sort((a, b) => a.x - b.x);
      return r.slice(1).filter((b, i) => b.x < r[i].x + r[i].width).map(() => g.getAttribute("data-lane"));
    }),
  );
  expect(covered).toEqual([]);
  // Distinct colours, said in a legend; reference-only items are hollow diamonds.
  const fills = await svg.locator("a.dot circle").evaluateAll((cs) => [...new Set(cs.map((c) => c.getAttribute("fill")))]);
  expect(fills.length).toBeGreaterThanOrEqual(5);
  const legend = page.getByRole("list", { name: "Images by colour" });
  const swatches = await legend.locator("li circle").evaluateAll((cs) => cs.map((c) => c.getAttribute("fill")));
  expect(new Set(swatches).size).toBe(swatches.length);
  await expect(legend.locator("li a.digest").first()).toHaveAttribute("href", /^\/demo\/web@sha256:[0-9a-f]{64}$/);
  await expect(legend).toContainText(/now (\S+, )*latest\b/);
  await expect(legend).toContainText("reference only (not imported)");
  await expect(svg.locator('g[data-lane="upstream"] a.dot .ref-dot')).toHaveCount(1);
  await expect(svg.locator('g[data-lane="upstream"] a.dot').first()).toHaveAttribute("href", "#history-upstream");
  // Every dot is a link to its image.
  const hrefs = await svg.locator('a.dot:not([href^="#"])').evaluateAll((as) => as.map((a) => a.getAttribute("href")));
  expect(hrefs.length).toBeGreaterThan(10);
  for (const h of hrefs) expect(h).toMatch(/^\/demo\/web@sha256:[0-9a-f]{64}$/);
  await accessible(page);
  await photograph(page, "timeline");
  expect(problems).toEqual([]);
});

test("point 4: every dot is reached by keyboard, shows its details on focus and on hover, and opens its image", async ({ page }) => {
  const problems = watchProblems(page);
  await page.goto("/ns/demo/web");
  await hydrated(page);
  const hint = page.locator("svg.lanes text.tip-hint");
  await expect(hint).toBeVisible();
  // Tab from the top of the page until a dot has the focus.
  let onDot = false;
  for (let i = 0; i < 400 && !onDot; i++) {
    await page.keyboard.press("Tab");
    onDot = await page.evaluate(() => !!document.activeElement?.matches("svg.lanes a.dot"));
  }
  expect(onDot, "a dot of the timeline takes the focus from the keyboard").toBe(true);
  const focused = page.locator("svg.lanes a.dot:focus");
  const label = await focused.getAttribute("aria-label");
  await expect(focused.locator("text.tip")).toBeVisible();
  await expect(focused.locator("text.tip")).toHaveText(label!);
  await expect(hint).toBeHidden();
  await page.screenshot({ path: "test-results/screens/timeline-focus.png" });
  // The next Tab moves to the next dot, and its details replace the first one's.
  await page.keyboard.press("Tab");
  await expect(focused.locator("text.tip")).toHaveCount(1);
  await expect(page.locator("svg.lanes text.tip").filter({ visible: true })).toHaveCount(1);
  // Hover shows details too.
  await page.locator("body").click({ position: { x: 1, y: 1 } });
  const dot = page.locator('svg.lanes g[data-lane="stable"] a.dot').first();
  await dot.locator(".shape").hover();
  await expect(dot.locator("text.tip")).toBeVisible();
  await expect(dot.locator("text.tip")).toContainText("stable → sha256:");
  // Enter on a focused dot opens its image under the stream.
  await dot.focus();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/demo\/web@sha256:[0-9a-f]{64}$/);
  expect(problems).toEqual([]);
});

test("point 4: at 390 px the timeline keeps its size and scrolls inside its figure", async ({ page }) => {
  const problems = watchProblems(page);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/ns/demo/web");
  await hydrated(page);
  const scroller = page.locator(".timeline-scroll");
  const sizes = await scroller.evaluate((e) => ({ scroll: e.scrollWidth, client: e.clientWidth }));
  expect(sizes.scroll).toBeGreaterThan(sizes.client);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(391);
  // Labels keep a readable size (the picture is not shrunk to the screen).
  const fontPx = await page.locator("svg.lanes text.lane-label").first().evaluate((t) => t.getBoundingClientRect().height);
  expect(fontPx).toBeGreaterThanOrEqual(11);
  await scroller.evaluate((e) => (e.scrollLeft = e.scrollWidth));
  await page.screenshot({ path: "test-results/screens/timeline-390-light.png", fullPage: true });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.screenshot({ path: "test-results/screens/timeline-390-dark.png", fullPage: true });
  expect(problems).toEqual([]);
});
