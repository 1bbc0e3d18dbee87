import { test, expect, signInAsAdmin } from "./fixtures";
import { Browser, Page } from "@playwright/test";
import { createCustomer, createProduct, gotoHydrated, unique } from "./helpers";

/** A page in a browser context of its own, hydrated and connected to the live websocket, with a
 *  marker on `window` that a reload would lose. */
async function watcher(browser: Browser, path: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await signInAsAdmin(page);
  await gotoHydrated(page, path);
  await expect(page.locator('.status[data-live="true"]')).toBeVisible();
  await page.evaluate(() => ((window as any).__sameDocument = true));
  return page;
}

async function sameDocument(page: Page) {
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
}

test("a product created through the API appears on an open products page without a reload", async ({ browser, request }) => {
  const page = await watcher(browser, "/products");
  const table = page.getByTestId("products-table");
  await expect(table).toBeVisible();

  const product = await createProduct(request, `Live kettle ${unique()}`, 4250);
  const row = table.locator(`tr[data-sku="${product.sku}"]`);
  await expect(row).toBeVisible();
  await expect(row).toContainText(product.name);
  await expect(row).toContainText("42.50");
  await sameDocument(page);
});

test("a customer registered through the API appears on an open customers page without a reload", async ({ browser, request }) => {
  const page = await watcher(browser, "/customers");
  const table = page.getByTestId("customers-table");
  await expect(table).toBeVisible();

  const name = `Live Ada ${unique()}`;
  await createCustomer(request, name);
  await expect(table.locator("tr", { hasText: name })).toHaveCount(1);
  await sameDocument(page);
});

test("pages reached by client-side navigation subscribe to their changes too", async ({ browser, request }) => {
  // The socket opened on the dashboard; the products and customers pages subscribe later.
  const page = await watcher(browser, "/");
  const nav = page.getByRole("navigation", { name: "Main" });

  await nav.getByRole("link", { name: "Products", exact: true }).click();
  await expect(page).toHaveURL("/products");
  await expect(page.getByTestId("products-table")).toBeVisible();
  const product = await createProduct(request, `Live teapot ${unique()}`, 1999);
  await expect(page.locator(`tr[data-sku="${product.sku}"]`)).toBeVisible();

  await nav.getByRole("link", { name: "Customers", exact: true }).click();
  await expect(page).toHaveURL("/customers");
  await expect(page.getByTestId("customers-table")).toBeVisible();
  const name = `Live Grace ${unique()}`;
  await createCustomer(request, name);
  await expect(page.getByTestId("customers-table").locator("tr", { hasText: name })).toHaveCount(1);
  await sameDocument(page);
});
