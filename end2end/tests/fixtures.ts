import { test as base, expect, Page, APIRequestContext, Cookie } from "@playwright/test";

/** The bootstrap admin token the server was started with (playwright.config.ts). */
export const adminToken = () => process.env.EVENTIDE_E2E_ADMIN_TOKEN!;

let adminSession: Cookie | undefined;

/**
 * Signs a browser context in as the bootstrap admin: the first time with the admin token (as the
 * admin panel's token form does), then with the same session cookie (sign-ins are throttled per
 * account, as they should be).
 */
export async function signInAsAdmin(page: Page) {
  if (adminSession) {
    await page.context().addCookies([adminSession]);
    return;
  }
  const res = await page.request.post("/api/admin/login", { data: { token: adminToken() } });
  expect(res.ok(), await res.text()).toBeTruthy();
  adminSession = (await page.context().cookies()).find((c) => c.name === "eventide_session");
  expect(adminSession, "a session cookie").toBeTruthy();
}

/**
 * `request` acts as the bootstrap admin (Bearer token), `anonymous` sends no credential, and
 * `page` starts signed in as the admin; a test that needs a stranger clears the page's cookies.
 */
export const test = base.extend<{ anonymous: APIRequestContext }>({
  request: async ({ playwright, baseURL }, use) => {
    const ctx = await playwright.request.newContext({
      baseURL,
      extraHTTPHeaders: { Authorization: `Bearer ${adminToken()}` },
    });
    await use(ctx);
    await ctx.dispose();
  },
  anonymous: async ({ playwright, baseURL }, use) => {
    const ctx = await playwright.request.newContext({ baseURL });
    await use(ctx);
    await ctx.dispose();
  },
  page: async ({ page }, use) => {
    await signInAsAdmin(page);
    await use(page);
  },
});

export { expect };
