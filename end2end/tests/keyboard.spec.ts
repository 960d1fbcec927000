// Issue 17 point 9, the keyboard half: a confirmation takes the focus when it opens, Escape
// cancels it and gives the focus back to what asked, the answer of an action takes the focus
// (a status a screen reader announces), and a restore confirmation opens in the item clicked.
import { expect, test, type APIRequestContext } from "@playwright/test";
import { accessible, hydrated, photograph, watchProblems } from "./helpers";

const IS = "/apis/image.openshift.io/v1/namespaces/demo";

function digest(seed: string): string {
  return "sha256:" + Array.from({ length: 64 }, (_, i) => "0123456789abcdef"[(i * 7 + seed.charCodeAt(i % seed.length)) % 16]).join("");
}

async function map(request: APIRequestContext, stream: string, tag: string, seed: string) {
  const d = digest(seed);
  const r = await request.post(`${IS}/imagestreammappings`, {
    data: { metadata: { name: stream }, tag, image: { metadata: { name: d }, dockerImageReference: `quay.io/x/${stream}@${d}` } },
  });
  expect(r.status()).toBe(201);
}

test("point 9: confirmations take the focus, Escape cancels, the answer takes the focus", async ({ page, request }) => {
  const problems = watchProblems(page);
  const name = `kbd-${Date.now().toString(36)}`;
  expect((await request.post(`${IS}/imagestreams`, { data: { metadata: { name } } })).status()).toBe(201);
  await map(request, name, "web", "first");
  await map(request, name, "web", "second");
  await map(request, name, "old", "first");
  await page.goto(`/ns/demo/${name}`);
  await hydrated(page);

  // "Delete…" of a row, by keyboard: the confirmation takes the focus, Escape gives it back.
  const row = page.locator('tr[data-tag="old"]');
  const ask = row.getByRole("link", { name: "Delete…" });
  const go = row.getByRole("button", { name: "Confirm delete" });
  await ask.focus();
  await page.keyboard.press("Enter");
  await expect(go).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(go).toBeHidden();
  await expect(ask).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(go).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(row).toHaveCount(0);
  // The row is gone; the focus is on the answer, a status.
  const answer = page.locator("#stream-action-result");
  await expect(answer).toHaveText("Tag old deleted.");
  await expect(answer).toHaveAttribute("role", "status");
  await expect(answer).toBeFocused();

  // "Restore this image…" opens its confirmation in the item that was clicked.
  const history = page.locator('details[data-history="web"]');
  const older = history.locator("li").nth(1);
  const restoreAsk = older.getByRole("button", { name: "Restore this image…" });
  await restoreAsk.focus();
  await page.keyboard.press("Enter");
  const restoreConfirm = older.getByRole("group", { name: "Confirm restore" });
  await expect(restoreConfirm).toBeVisible();
  await expect(restoreConfirm).toContainText("item 2 of the history");
  await expect(restoreConfirm.getByRole("button", { name: "Restore", exact: true })).toBeFocused();
  const [item, box] = [await older.boundingBox(), await restoreConfirm.boundingBox()];
  expect(box!.y).toBeGreaterThanOrEqual(item!.y);
  expect(box!.y + box!.height).toBeLessThanOrEqual(item!.y + item!.height + 1);
  await photograph(page, "restore-confirm-in-place");
  await accessible(page);
  await expect(restoreConfirm.getByRole("button", { name: "Restore", exact: true })).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(restoreConfirm).toBeHidden();
  await expect(restoreAsk).toBeFocused();
  // Confirmed by keyboard: the answer takes the focus.
  await page.keyboard.press("Enter");
  await page.keyboard.press("Enter");
  await expect(answer).toContainText(`Tag ${name}:web set to`);
  await expect(answer).toBeFocused();
  await expect(history.locator("li")).toHaveCount(3);

  // The selection's one confirmation: focus in, Escape back to "Delete selected…".
  await page.locator('tr[data-tag="web"] input[type=checkbox]').check();
  const askBulk = page.getByRole("button", { name: "Delete selected…" });
  await askBulk.focus();
  await page.keyboard.press("Enter");
  const bulk = page.getByRole("group", { name: "Confirm deleting the selected tags" });
  await expect(bulk.getByRole("button", { name: "Delete 1 tag" })).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(bulk).toBeHidden();
  await expect(askBulk).toBeFocused();

  // Deleting the whole stream: the same.
  const askStream = page.getByRole("button", { name: "Delete stream…" });
  await askStream.focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("button", { name: "Delete stream", exact: true })).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(page.getByRole("button", { name: "Delete stream", exact: true })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Delete stream…" })).toBeFocused();
  expect(problems).toEqual([]);
});

test("point 9: Escape takes back the question of deleting a namespace", async ({ page }) => {
  const problems = watchProblems(page);
  await page.goto("/");
  await hydrated(page);
  await page.locator("#delete-namespace").fill("no-such-namespace");
  const button = page.getByRole("button", { name: "Delete namespace…" });
  await button.focus();
  await page.keyboard.press("Enter");
  const confirmDelete = page.getByRole("button", { name: "Confirm delete" });
  await expect(confirmDelete).toBeFocused();
  await expect(page.getByText("Press again to confirm.", { exact: false })).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(page.getByRole("button", { name: "Delete namespace…" })).toBeFocused();
  await expect(page.getByText("Press again to confirm.", { exact: false })).toHaveCount(0);
  expect(problems).toEqual([]);
});
