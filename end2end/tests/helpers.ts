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

import { APIRequestContext } from "@playwright/test";

let counter = 0;
/** A unique suffix so tests never collide on one database. */
export function unique(): string {
  counter += 1;
  return `${Date.now().toString(36)}${counter}`;
}

/** Creates a customer through the REST API (commands, never SQL). */
export async function createCustomer(request: APIRequestContext, name: string) {
  const res = await request.post("/api/customers", {
    data: { name, email: `${name.toLowerCase().replace(/[^a-z0-9]+/g, ".")}.${unique()}@example.com` },
  });
  expect(res.ok(), await res.text()).toBeTruthy();
  return (await res.json()) as { id: string; version: number; position: number };
}

/** Creates a product through the REST API, with `stock` units on hand (plenty by default). */
export async function createProduct(request: APIRequestContext, name: string, priceCents: number, stock = 100000) {
  const sku = `SKU-${unique()}`.toUpperCase().slice(0, 32);
  const res = await request.post("/api/products", { data: { sku, name, price_cents: priceCents, initial_stock: stock } });
  expect(res.ok(), await res.text()).toBeTruthy();
  return { ...((await res.json()) as { id: string; version: number; position: number }), sku, name };
}
