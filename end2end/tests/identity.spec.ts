import { test, expect } from "./fixtures";
import { Locator, Page } from "@playwright/test";
import { createCustomer, createProduct, gotoHydrated, screenshot, unique } from "./helpers";

async function chooseOption(select: Locator, text: string) {
  const option = select.locator("option", { hasText: text });
  await expect(option).toHaveCount(1);
  await select.selectOption((await option.getAttribute("value"))!);
}

async function signIn(page: Page, username: string, password: string) {
  await gotoHydrated(page, "/signin");
  const form = page.getByRole("form", { name: "Sign in" });
  await form.getByLabel("Username").fill(username);
  await form.getByLabel("Password").fill(password);
  await form.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/orders$/);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

test("a customer signs up, places and cancels an order, and sees only their own orders", async ({ page, request }) => {
  await page.context().clearCookies();
  const product = `Tea ${unique()}`;
  await createProduct(request, product, 450);
  // Someone else's order, which must not show up.
  const stranger = await createCustomer(request, `Stranger ${unique()}`);
  const theirs = await request.post("/api/orders", { data: { customer_id: stranger.id } });
  expect(theirs.ok()).toBeTruthy();
  const theirId = (await theirs.json()).id as string;

  const username = `cust${unique()}`.toLowerCase();
  await gotoHydrated(page, "/signin");
  const signUp = page.getByRole("form", { name: "Sign up" });
  await signUp.getByLabel("Username").fill(username);
  await signUp.getByLabel("Password (8+ characters)").fill("a long password");
  await signUp.getByLabel("Your name").fill("Carla Customer");
  await signUp.getByLabel("Email").fill(`${username}@example.com`);
  await signUp.getByRole("button", { name: "Sign up" }).click();
  await expect(page).toHaveURL(/\/orders$/);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");

  // Role-aware navigation: no links to what a customer may not do.
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "My orders" })).toBeVisible();
  for (const hidden of ["Dashboard", "Customers", "Audit", "Admin", "Users"]) {
    await expect(nav.getByRole("link", { name: hidden })).toHaveCount(0);
  }
  await expect(page.getByTestId("account")).toContainText("Carla Customer · customer");
  await screenshot(page, "customer-orders");

  // Place an order for themselves (the only customer they can choose), then cancel it.
  const form = page.getByRole("form", { name: "New order" });
  await chooseOption(form.getByLabel("Customer"), "Carla Customer");
  await chooseOption(form.getByLabel("Product"), product);
  await form.getByLabel("Quantity").fill("2");
  await form.getByRole("button", { name: "Add line" }).click();
  await form.getByRole("button", { name: "Place order" }).click();
  await expect(page).toHaveURL(/\/orders\/[0-9a-f-]{36}/);
  const id = page.url().match(/orders\/([0-9a-f-]{36})/)![1];
  await expect(page.getByTestId("order-total")).toHaveText("9.00");
  await expect(page.getByRole("form", { name: "Ship" })).toHaveCount(0);
  const cancel = page.getByRole("form", { name: "Cancel" });
  await cancel.getByLabel("Reason").fill("Changed my mind");
  await cancel.getByRole("button", { name: "Cancel order" }).click();
  await expect(page.getByTestId("order-status")).toContainText("cancelled");

  // Their history is theirs to read; the events name them.
  const history = await page.request.get(`/api/streams/order-${id}/events`);
  expect(history.ok()).toBeTruthy();
  for (const e of await history.json()) expect(e.user_id).toBe(username);

  // Only their own orders are listed; another customer's order is refused by id.
  await gotoHydrated(page, "/orders");
  await expect(page.getByTestId("orders-table").locator("tbody tr")).toHaveCount(1);
  expect((await page.request.get(`/api/orders/${theirId}`)).status()).toBe(403);

  // Signing out ends the session.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin$/);
  expect((await page.request.get("/api/auth/me")).status()).toBe(401);
});

test("staff sign in and ship a customer's confirmed order", async ({ page, request }) => {
  await page.context().clearCookies();
  const product = `Cup ${unique()}`;
  const p = await createProduct(request, product, 300);
  const customer = await createCustomer(request, `Bo ${unique()}`);
  const placed = await request.post("/api/orders", { data: { customer_id: customer.id, lines: [{ product_id: p.id, quantity: 1 }] } });
  expect(placed.ok()).toBeTruthy();
  const id = (await placed.json()).id as string;
  expect((await request.post(`/api/orders/${id}/confirm`)).ok()).toBeTruthy();

  // The demo staff account of `server seed`.
  await signIn(page, "staff", "staff-demo-1");
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Dashboard" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Admin" })).toHaveCount(0);
  await gotoHydrated(page, `/orders/${id}`);
  await expect(page.getByTestId("order-status")).toContainText("confirmed");
  const ship = page.getByRole("form", { name: "Ship" });
  await ship.getByLabel("Carrier").fill("UPS");
  await ship.getByLabel("Tracking number").fill("1Z999");
  await ship.getByRole("button", { name: "Ship" }).click();
  await expect(page.getByTestId("order-status")).toContainText("shipped");
  const events = await (await request.get(`/api/streams/order-${id}/events`)).json();
  const shipped = events.find((e: any) => e.event_type === "OrderShipped");
  expect(shipped.user_id).toBe("staff");
  expect(shipped.user_role).toBe("staff");
  // Staff may not operate projections.
  expect((await page.request.post("/api/projections/orders/rebuild")).status()).toBe(403);
});
