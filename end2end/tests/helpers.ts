import { Page, expect } from "@playwright/test";

/** Opens a page and waits until the wasm app has hydrated it (clicks before that are lost). */
export async function gotoHydrated(page: Page, path: string) {
  await page.goto(path);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

/** Saves a full-page screenshot into the test output, for people reviewing changes. */
export async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: `test-results/screenshots/${name}.png`, fullPage: true });
}
