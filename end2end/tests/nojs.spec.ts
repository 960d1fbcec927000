// Reading needs no JavaScript: every page is rendered on the server (islands mode sends WASM
// only for the forms and buttons), so with scripts off the catalog, a stream page with its tags,
// timeline and history, an image page and the dashboard are all there, and links are plain
// page loads. Signing in is a plain form too.
import { expect, test } from "@playwright/test";
import { photograph } from "./helpers";

test.use({ javaScriptEnabled: false });

test("pages read without JavaScript, and links work", async ({ page }) => {
  await page.goto("/");
  await expect(page.locator("#hydration-state")).toHaveText("ssr");
  const ruby = page.locator('tr[data-key="demo/ruby"]');
  await expect(ruby.locator("td").nth(5)).toHaveText(/^\d+ \/ \d+$/);

  // The search form is a plain GET form.
  await page.getByLabel("Search").fill("ruby");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/\?q=ruby/);
  await expect(page.locator("tr.stream")).toHaveCount(1);

  await ruby.getByRole("link", { name: "ruby" }).click();
  await expect(page).toHaveURL(/\/ns\/demo\/ruby$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("demo/ruby");
  await expect(page.locator('tr[data-tag="latest"] .badge')).toBeVisible();
  await expect(page.getByRole("group", { name: /Tag timeline/ })).toBeVisible();
  // The forms are there too, as plain forms (see below).
  await expect(page.locator("#tag-form")).toBeVisible();

  // The image page under the stream it was reached from (issue 17 point 8).
  await page.locator('details[data-history="latest"] a.digest').first().click();
  await expect(page).toHaveURL(/\/demo\/ruby@sha256:/);
  await expect(page.locator("#layers tbody tr")).toHaveCount(2);
  await expect(page.locator("#tagged-now")).toContainText("demo/ruby:latest");

  await page.goto("/dashboard");
  await expect(page.getByRole("heading", { name: "Recent tag movements" })).toBeVisible();
  await expect(page.locator("ol.moves li").first()).toContainText("demo/");
});

test("signing in needs no JavaScript either", async ({ page }) => {
  const AUTH = process.env.AUTH_BASE_URL!;
  await page.goto(`${AUTH}/signin`);
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/signin\?user=admin&error=/);
  await expect(page.locator("#signin-password-hint")).toHaveText("Unauthorized: the user name or password is wrong");
  await expect(page.getByLabel("User name")).toHaveValue("admin");
  await page.getByLabel("Password").fill("e2e-admin-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator(".user-menu .who")).toHaveText("admin");

  // Signing in from a page comes back to it.
  await page.context().clearCookies();
  await page.goto(`${AUTH}/account`);
  await page.locator(".user-menu").getByRole("link", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/signin\?next=\/account$/);
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill("e2e-admin-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${AUTH}/account`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("admin");
});

/** Buttons a visitor can see that would do nothing: every visible button must submit a form
 * that has somewhere to go (issue 17 point 9). */
async function deadButtons(page: import("@playwright/test").Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll("button")]
      .filter((b) => b.getClientRects().length > 0)
      .filter((b) => !(b.type === "submit" && b.form && b.form.hasAttribute("action")))
      .map((b) => `${b.textContent?.trim()} (${b.type})`),
  );
}

test("no dead buttons without JavaScript, and a note says what is left out", async ({ page }) => {
  for (const path of ["/", "/ns/demo/app", "/ns/demo/ruby", "/dashboard", "/webhooks/demo", "/namespaces/demo", "/account", "/signin"]) {
    await page.goto(path);
    expect(await deadButtons(page), path).toEqual([]);
    await expect(page.locator("#nojs-note"), path).toBeVisible();
  }
  await page.goto("/ns/demo/app");
  await expect(page.locator(".nojs-note").last()).toContainText("“Import now”");
  await expect(page.getByRole("button", { name: "Copy" })).toHaveCount(0);
});

test("the tag table, tagging and deleting tags work as plain forms", async ({ page }) => {
  const problems: string[] = [];
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`);
  });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/ns/demo/app");
  const name = `nojs-${Date.now().toString(36)}`;

  // "Tag this image as…" is a link: the form comes back with that image as its source.
  const prod = page.locator('tr[data-tag="prod"]');
  const image = await prod.locator("a.digest").getAttribute("title");
  await prod.getByRole("link", { name: /Tag this image as/ }).click();
  await expect(page).toHaveURL(/\?source=sha256:[0-9a-f]{64}#tag-form$/);
  await expect(page.locator("#tag-source")).toHaveValue(image!);
  await page.locator("#tag-destination").fill(name);
  await page.getByRole("button", { name: "Tag", exact: true }).click();
  await expect(page.locator("#page-answer")).toHaveAttribute("role", "status");
  await expect(page.locator("#page-answer")).toContainText(name);
  await expect(page).not.toHaveURL(/source=/);
  await expect(page.locator(`tr[data-tag="${name}"] a.digest`)).toHaveAttribute("title", image!);

  // A refusal comes back as an alert, in words.
  await page.locator("#tag-source").fill("no-such-tag");
  await page.locator("#tag-destination").fill(`${name}-2`);
  await page.getByRole("button", { name: "Tag", exact: true }).click();
  await expect(page.locator("#page-answer")).toHaveAttribute("role", "alert");
  await expect(page.locator("#page-answer")).toContainText("no-such-tag");

  // The filter is a GET form; the selection asks once, on a page of its own, then deletes.
  await page.getByLabel("Filter tags").fill(name);
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page.locator("#tags tbody tr")).toHaveCount(1);
  await page.getByLabel(`Select ${name}`, { exact: true }).check();
  await page.getByRole("button", { name: "Delete selected…" }).click();
  await expect(page).toHaveURL(new RegExp(`delete=${name}`));
  const confirm = page.locator("#tags-confirm");
  await expect(confirm).toContainText(`Delete 1 tag of demo/app: ${name}?`);
  await photograph(page, "nojs-confirm-390");
  await confirm.getByRole("button", { name: "Delete 1 tag" }).click();
  await expect(page.locator("#page-answer")).toHaveText("1 tag deleted.");
  await expect(page).toHaveURL(new RegExp(`q=${name}`));
  await expect(page.locator(`tr[data-tag="${name}"]`)).toHaveCount(0);

  // A row's "Delete…" is a link to the same confirmation; Cancel goes back to the table.
  await page.goto("/ns/demo/app");
  await page.locator('tr[data-tag="build-41"]').getByRole("link", { name: "Delete…" }).click();
  await expect(page.locator("#tags-confirm")).toContainText("Delete 1 tag of demo/app: build-41?");
  await page.locator("#tags-confirm").getByRole("link", { name: "Cancel" }).click();
  await expect(page.locator("#tags-confirm")).toHaveCount(0);
  await expect(page.locator('tr[data-tag="build-41"]')).toHaveCount(1);

  // Creating a stream from the catalog is a plain form too.
  await page.goto("/");
  const stream = `plain-${Date.now().toString(36)}`;
  await page.locator("#new-stream-name").fill(stream);
  await page.getByRole("button", { name: "Create image stream" }).click();
  await expect(page.locator("#page-answer")).toHaveText(`Image stream default/${stream} created.`);
  expect(problems).toEqual([]);
});
