// Accounts in the browser, against a second portal with accounts on: sign in (a wrong password
// is refused at its field), see only your namespaces, act within your role (an editor tags but
// cannot delete the stream), the namespace page shows members without admin controls, API
// tokens are shown once and revoked, and signing out hides everything again.
import { expect, request, test } from "@playwright/test";
import { accessible, hydrated, photograph, watchProblems } from "./helpers";

const AUTH = process.env.AUTH_BASE_URL!;

test("sign in, see your namespaces, act within your role, tokens, sign out", async ({ page }) => {
  // Set-up through the API as the first administrator.
  const admin = await request.newContext({ baseURL: AUTH });
  expect((await admin.post("/api/v1/session", { data: { username: "admin", password: "e2e-admin-password" } })).status()).toBe(200);
  const suffix = Date.now().toString(36);
  const alice = `alice-${suffix}`;
  const [mine, theirs] = [`team-${suffix}`, `hidden-${suffix}`];
  expect((await admin.post("/api/v1/users", { data: { name: alice, password: "alice-password-1" } })).status()).toBe(201);
  for (const ns of [mine, theirs]) {
    expect((await admin.post("/api/v1/namespaces", { data: { metadata: { name: ns } } })).status()).toBe(201);
    const r = await admin.post(`/apis/image.openshift.io/v1/namespaces/${ns}/imagestreams`, { data: { metadata: { name: "app" } } });
    expect(r.status()).toBe(201);
  }
  expect((await admin.put(`/api/v1/namespaces/${mine}/members/${alice}`, { data: { role: "editor" } })).status()).toBe(200);

  const problems = watchProblems(page, { formErrors: true });
  // Anonymous: nothing to see, and the way to sign in.
  await page.goto(`${AUTH}/`);
  await hydrated(page);
  await expect(page.getByText("No image streams match.")).toBeVisible();
  await page.getByRole("link", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await hydrated(page);
  await page.getByLabel("User name").fill(alice);
  await page.getByLabel("Password").fill("not-her-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator("#signin-password-hint")).toHaveText("Unauthorized: the user name or password is wrong");
  await accessible(page);
  await photograph(page, "signin");
  await page.getByLabel("Password").fill("alice-password-1");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator(".user-menu .who")).toHaveText(alice);
  // The whole-server prune is for server administrators: not linked for her.
  await expect(page.locator(".user-menu").getByRole("link", { name: "Prune" })).toHaveCount(0);
  // Reached by its address, the page says why instead of offering a form that is refused.
  await page.goto(`${AUTH}/admin/prune`);
  await expect(page.locator("#server-prune-refused")).toContainText("Only server administrators may preview a prune");
  await expect(page.getByRole("button", { name: "Preview" })).toHaveCount(0);

  // Only her namespace's stream.
  await page.goto(`${AUTH}/`);
  await hydrated(page);
  await expect(page.locator(`tr[data-key="${mine}/app"]`)).toBeVisible();
  await expect(page.locator(`tr[data-key="${theirs}/app"]`)).toHaveCount(0);
  await page.goto(`${AUTH}/ns/${theirs}/app`);
  await expect(page.getByRole("alert")).toContainText(`namespaces "${theirs}" not found`);
  // That page answered 404 on purpose (its existence is not revealed); nothing else failed.
  expect(problems.splice(0)).toEqual([`HTTP 404 ${AUTH}/ns/${theirs}/app`]);

  // An editor tags, but may not delete the stream.
  await page.goto(`${AUTH}/ns/${mine}/app`);
  await hydrated(page);
  await page.getByLabel("reference only (never imported)").check();
  await page.getByLabel("An image in a registry (imported)").check();
  await page.locator("#tag-source").fill("quay.io/x/app:1");
  await page.locator("#tag-destination").fill("app:v1");
  await page.getByRole("button", { name: "Tag", exact: true }).click();
  await expect(page.locator('tr[data-tag="v1"]')).toBeVisible();
  await page.getByRole("button", { name: "Delete stream…" }).click();
  await page.getByRole("button", { name: "Delete stream", exact: true }).click();
  await expect(page.locator(".danger-zone [role=alert]")).toContainText(`User "${alice}" cannot delete resource "imagestreams"`);

  // Her namespace's page: members, no admin controls.
  await page.goto(`${AUTH}/namespaces/${mine}`);
  await hydrated(page);
  await expect(page.locator(`tr[data-member="${alice}"]`)).toContainText("editor");
  await expect(page.getByRole("button", { name: "Add member" })).toHaveCount(0);
  await accessible(page);
  await photograph(page, "namespace");

  // Tokens: created with limits, shown once, revoked.
  await page.goto(`${AUTH}/account`);
  await hydrated(page);
  await expect(page.getByRole("heading", { name: alice })).toBeVisible();
  await page.getByLabel("Name (what it is for)").fill("ci");
  await page.getByLabel(/^Only these namespaces/).fill(mine);
  await page.getByLabel("At most this role").selectOption("viewer");
  await page.getByRole("button", { name: "Create token" }).click();
  const secret = (await page.locator("#new-token").textContent())!;
  expect(secret).toMatch(/^ist_[0-9a-f]{12}_/);
  const ci = await request.newContext({ baseURL: AUTH, extraHTTPHeaders: { authorization: `Bearer ${secret}` } });
  expect((await ci.get(`/apis/image.openshift.io/v1/namespaces/${mine}/imagestreams/app`)).status()).toBe(200);
  const row = page.locator("table.tokens tbody tr").first();
  await expect(row).toContainText("viewer");
  await accessible(page);
  await photograph(page, "account");
  await row.getByRole("button", { name: "Revoke token ci" }).click();
  await expect(row.locator(".state")).toHaveText("revoked");
  expect((await ci.get(`/apis/image.openshift.io/v1/namespaces/${mine}/imagestreams/app`)).status()).toBe(401);

  // Signing out: anonymous again.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.locator(".user-menu").getByRole("link", { name: "Sign in" })).toBeVisible();
  await page.goto(`${AUTH}/`);
  await expect(page.getByText("No image streams match.")).toBeVisible();

  // The namespace's admin manages members and visibility in the page, and reads the audit log.
  const bob = `bob-${suffix}`;
  expect((await admin.post("/api/v1/users", { data: { name: bob, password: "bob-password-12" } })).status()).toBe(201);
  await page.goto(`${AUTH}/signin`);
  await hydrated(page);
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill("e2e-admin-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator(".user-menu .who")).toHaveText("admin");
  await expect(page.locator(".user-menu").getByRole("link", { name: "Prune" })).toHaveAttribute("href", "/admin/prune");
  await page.goto(`${AUTH}/namespaces/${mine}`);
  await hydrated(page);
  await page.getByLabel("User name").fill("nobody-at-all");
  await page.getByRole("button", { name: "Add member" }).click();
  await expect(page.locator("#member-user-hint")).toHaveText('users "nobody-at-all" not found');
  // A name no user can have is refused as it is typed, with the rule (the server applies it too).
  await page.getByLabel("User name").fill("Bad Name!");
  await expect(page.locator("#member-user-hint")).toContainText("RFC 1123");
  await expect(page.getByRole("button", { name: "Add member" })).toBeDisabled();
  // Two members added one right after the other: the second, typed while the page reads the
  // settings after the first, is not lost.
  const carl = `carl-${suffix}`;
  expect((await admin.post("/api/v1/users", { data: { name: carl, password: "carl-password-12" } })).status()).toBe(201);
  await page.getByLabel("User name").fill(bob);
  await page.locator("#member-role").selectOption("editor");
  await page.getByRole("button", { name: "Add member" }).click();
  await page.getByLabel("User name").fill(carl);
  await page.getByRole("button", { name: "Add member" }).click();
  await expect(page.locator(`tr[data-member="${bob}"]`)).toBeVisible();
  await expect(page.locator(`tr[data-member="${carl}"]`)).toBeVisible();
  await expect(page.getByLabel("User name")).toHaveValue("");
  await page.getByLabel(`Role of ${bob}`).selectOption("admin");
  const audit = page.getByRole("region", { name: "Audit log" });
  await expect(audit).toContainText("POST /api/set_member (update members)");
  await expect(audit).toContainText(`PUT /api/v1/namespaces/${mine}/members/${alice}`);
  await page.getByRole("button", { name: `Remove ${alice}` }).click();
  await expect(page.locator(`tr[data-member="${alice}"]`)).toHaveCount(0);
  await page.getByRole("button", { name: "Make public" }).click();
  await expect(page.getByText("Public: anyone may read this namespace without signing in.")).toBeVisible();
  await accessible(page);
  await photograph(page, "namespace-admin");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.locator(".user-menu").getByRole("link", { name: "Sign in" })).toBeVisible();
  await page.goto(`${AUTH}/admin/prune`);
  await expect(page.locator("#server-prune-refused").getByRole("link", { name: "Sign in" })).toBeVisible();
  // Public now: the stream reads without signing in.
  await page.goto(`${AUTH}/`);
  await expect(page.locator(`tr[data-key="${mine}/app"]`)).toBeVisible();
  expect(problems).toEqual([]);
});
