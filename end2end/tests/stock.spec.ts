import { test, expect } from "./fixtures";
import { createCustomer, createProduct, gotoHydrated, screenshot, unique } from "./helpers";

// Stock in the browser: a confirmation without enough stock is refused with the reason on the
// order page (nothing reserved); staff receive stock on the products page, which updates on
// hand / reserved / available live; the same confirmation then succeeds and reserves.
test("a confirmation without stock says why; receiving stock lets it through", async ({ page, request }) => {
  const customer = await createCustomer(request, `Stock ${unique()}`);
  const product = await createProduct(request, `Scarce ${unique()}`, 1200, 1);
  const placed = await request.post("/api/orders", {
    data: { customer_id: customer.id, lines: [{ product_id: product.id, quantity: 3 }] },
  });
  expect(placed.ok(), await placed.text()).toBeTruthy();
  const order = (await placed.json()) as { id: string };

  await gotoHydrated(page, `/orders/${order.id}`);
  await page.getByRole("button", { name: "Confirm order" }).click();
  const refusal = page.getByRole("alert").filter({ hasText: "Not enough stock" });
  await expect(refusal).toBeVisible();
  await expect(refusal).toContainText(`${product.sku}: 3 wanted, 1 available`);
  await expect(page.getByTestId("order-status")).toContainText("draft");
  await screenshot(page, "order-refused-for-stock");

  await gotoHydrated(page, "/products");
  const row = page.locator(`tr[data-sku="${product.sku}"]`);
  await expect(row.locator('[data-stock="available"]')).toHaveText("1");
  const receive = page.getByRole("form", { name: `Receive stock of ${product.sku}` });
  await receive.getByLabel("Units").fill("4");
  await receive.getByRole("button", { name: "Receive" }).click();
  await expect(row.locator('[data-stock="on-hand"]')).toHaveText("5");
  await expect(row.locator('[data-stock="available"]')).toHaveText("5");

  await gotoHydrated(page, `/orders/${order.id}`);
  await page.getByRole("button", { name: "Confirm order" }).click();
  await expect(page.getByTestId("order-status")).toContainText("confirmed");

  await gotoHydrated(page, "/products");
  await expect(row.locator('[data-stock="reserved"]')).toHaveText("3");
  await expect(row.locator('[data-stock="available"]')).toHaveText("2");
  // Two available is low stock: the dashboard lists it.
  await gotoHydrated(page, "/");
  await expect(page.getByTestId("low-stock").locator(`tr[data-sku="${product.sku}"]`)).toBeVisible();
});
