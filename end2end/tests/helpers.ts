// Shared checks: every test fails on console errors, page errors and failed requests; pages are
// scanned with axe-core and photographed in light and dark.
import { expect, type Page } from "@playwright/test";
import path from "node:path";

const AXE = path.join(__dirname, "..", "node_modules", "axe-core", "axe.min.js");

/** Collects problems. With `formErrors`, failed server-function calls (a form answered with a
 * validation error on purpose) are not problems; everything else still is. */
export function watchProblems(page: Page, opts: { formErrors?: boolean } = {}): string[] {
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() !== "error" && m.type() !== "warning") return;
    // The browser's own line about a failed request is covered by the response check.
    if (opts.formErrors && m.text().startsWith("Failed to load resource")) return;
    problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("response", (r) => {
    if (r.status() < 400) return;
    const serverFn = new URL(r.url()).pathname.startsWith("/api/") && !new URL(r.url()).pathname.startsWith("/api/v1/");
    if (opts.formErrors && serverFn) return;
    problems.push(`HTTP ${r.status()} ${r.url()}`);
  });
  return problems;
}

export async function hydrated(page: Page) {
  // Generous: on a shared two-core machine the debug WASM can take more than five seconds.
  await expect(page.locator("#hydration-state")).toHaveText("hydrated", { timeout: 15_000 });
}

/** axe-core: no serious or critical violations. */
export async function accessible(page: Page) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () => {
    // @ts-expect-error injected above
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations
      .filter((v: { impact: string }) => v.impact === "serious" || v.impact === "critical")
      .map((v: { id: string; help: string; nodes: { target: string[] }[] }) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  });
  expect(result).toEqual([]);
}

/** Screenshots of the page in light and in dark theme. */
export async function photograph(page: Page, name: string) {
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: `test-results/screens/${name}-${scheme}.png`, fullPage: true });
  }
  await page.emulateMedia({ colorScheme: "light" });
}
