// Reading needs no JavaScript: every page is rendered on the server (islands mode sends WASM
// only for the forms and buttons), so with scripts off the catalog, a stream page with its tags,
// timeline and history, an image page and the dashboard are all there, and links are plain
// page loads. Signing in is a plain form too.
import { expect, test } from "@playwright/test";

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
  // The forms are there too (they need the WASM to submit).
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
