// The portal's own registry as people see it (issue 15, point 10): `podman pull` commands by
// tag and by digest on the stream and image pages, whether each image is mirrored locally and
// its stored size, the namespace's storage use, and `describe is` / `get istag -o wide` naming
// the same pull specs as the pages.
import { expect, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { accessible, hydrated, photograph, watchProblems } from "./helpers";

const cli = (...args: string[]) =>
  execFileSync(process.env.CLI!, ["--server", process.env.BASE_URL!, "-n", "demo", ...args]).toString();
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const MANIFESTS = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

test("pull commands, mirrored state and storage on the pages agree with describe and get istag -o wide", async ({ page, request }) => {
  const registry = process.env.REGISTRY;
  test.skip(!registry, "needs the test registry that scripts/e2e.sh starts");
  const problems = watchProblems(page);
  const stream = `mirror-${Date.now()}`;
  cli("import-image", `${stream}:v1`, `--from=${registry}/e2e/app:t1`, "--confirm", "--insecure", "--reference-policy=local");
  // The registry host defaults to the address the portal listens on.
  const repo = `${new URL(process.env.BASE_URL!).host}/demo/${stream}`;

  // The stream page: both commands, copyable; nothing stored yet (the import keeps metadata only).
  await page.goto(`/ns/demo/${stream}`);
  await hydrated(page);
  const row = page.locator('tr[data-tag="v1"]');
  const byTag = row.getByRole("button", { name: "Copy v1 by tag" });
  const byDigest = row.getByRole("button", { name: "Copy v1 by digest" });
  await expect(byTag).toHaveAttribute("data-copy", `podman pull ${repo}:v1`);
  await expect(byDigest).toHaveAttribute("data-copy", new RegExp(`^podman pull ${esc(repo)}@sha256:[0-9a-f]{64}$`));
  const digest = (await byDigest.getAttribute("data-copy"))!.split("@")[1];
  await expect(row.locator("code").getByText(`podman pull ${repo}:v1`, { exact: true })).toBeVisible();
  await expect(row.locator("code").getByText(`podman pull ${repo}@${digest}`, { exact: true })).toBeVisible();
  await expect(row.locator("[data-storage]")).toHaveText("Not mirrored yet (pulled through on first pull)");
  await byTag.click();
  await expect(byTag).toHaveText("Copied");

  // A client pulls the handed-out spec through the portal (manifest by tag, then every blob):
  // pull-through mirrors it.
  const manifest = await request.get(`/v2/demo/${stream}/manifests/v1`, { headers: { Accept: MANIFESTS } });
  expect(manifest.status()).toBe(200);
  expect(manifest.headers()["docker-content-digest"]).toBe(digest);
  const m = await manifest.json();
  for (const blob of [m.config.digest, ...m.layers.map((l: { digest: string }) => l.digest)]) {
    const b = await request.get(`/v2/demo/${stream}/blobs/${blob}`);
    expect(b.status(), blob).toBe(200);
    await b.body();
  }
  await expect(async () => {
    await page.reload();
    await expect(row.locator("[data-storage]")).toHaveAttribute("data-storage", "mirrored", { timeout: 1000 });
  }).toPass({ timeout: 10_000 });
  await hydrated(page);
  await expect(row.locator("[data-storage]")).toHaveText(/^Mirrored locally · \d+(\.\d)? (B|kB|MB) stored$/);
  await accessible(page);
  await photograph(page, "stream-registry");

  // The image page: the same commands, and the same storage line.
  await page.goto(`/images/${digest}`);
  await hydrated(page);
  await expect(page.locator("#pull-by-digest code")).toHaveText(`podman pull ${repo}@${digest}`);
  await expect(page.locator("#pull-by-digest button")).toHaveAttribute("data-copy", `podman pull ${repo}@${digest}`);
  await expect(page.locator("#pull-by-tag code")).toHaveText(`podman pull ${repo}:v1`);
  await expect(page.locator("#storage")).toHaveText(/^Mirrored locally · \d+(\.\d)? (B|kB|MB) stored$/);
  await accessible(page);
  await photograph(page, "image-registry");

  // The namespace's storage use: what it holds now is more than nothing.
  await page.goto("/namespaces/demo");
  await hydrated(page);
  await expect(page.locator("#namespace-storage")).toHaveText(/^[1-9]\d*(\.\d)? (B|kB|MB|GB) in the portal's registry storage/);
  await accessible(page);
  await photograph(page, "namespace-storage");

  // The CLI names the same pull specs: `describe is` per tag, `get istag -o wide` per row (and
  // under the Local policy the handed-out IMAGE REFERENCE is the by-digest spec).
  expect(cli("describe", "is", stream)).toContain(
    `    prefer registry pullthrough when referencing this tag\n  pull by tag:\t${repo}:v1\n  pull by digest:\t${repo}@${digest}\n`,
  );
  const wide = cli("get", "istag", `${stream}:v1`, "-o", "wide").split("\n");
  expect(wide[0].split(/\s+/)).toEqual(["NAME", "IMAGE", "REFERENCE", "UPDATED", "IMAGE", "NAME", "PULL", "BY", "TAG", "PULL", "BY", "DIGEST"]);
  expect(wide[1]).toMatch(new RegExp(`^${esc(stream)}:v1\\s+${esc(repo)}@${digest}\\s.*\\s${digest}\\s+${esc(repo)}:v1\\s+${esc(repo)}@${digest}$`));
  const listed = cli("get", "istag", "-o", "wide").split("\n").find((l) => l.startsWith(`${stream}:v1 `));
  // The same cells when listed (padding follows the longest cell of each column).
  const cells = (line: string) => {
    const w = line.trim().split(/\s+/);
    return [...w.slice(0, 2), ...w.slice(-3)];
  };
  expect(cells(listed!)).toEqual(cells(wide[1]));
  expect(problems).toEqual([]);
});
