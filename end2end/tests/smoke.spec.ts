import { test, expect, signInAsAdmin } from "./fixtures";
import { gotoHydrated } from "./helpers";

test("the page is rendered on the server, before any script runs", async ({ request }) => {
  const res = await request.get("/");
  expect(res.status()).toBe(200);
  const html = await res.text();
  expect(html).toContain("<nav");
  expect(html).toContain("Dashboard");
  expect(html).toContain("/pkg/eventide.js");
});

test("the app hydrates and client-side navigation reaches each section", async ({ page }) => {
  await gotoHydrated(page, "/");
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  // Client-side navigation must not reload the document: a marker on window survives.
  await page.evaluate(() => ((window as any).__sameDocument = true));
  for (const [link, heading, path] of [
    ["Orders", "Orders", "/orders"],
    ["Audit", "Audit", "/audit"],
    ["Admin", "Admin", "/admin"],
    ["Dashboard", "Dashboard", "/"],
  ]) {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: link, exact: true }).click();
    await expect(page).toHaveURL(path);
    await expect(page.getByRole("heading", { level: 1, name: heading })).toBeVisible();
  }
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
});

test("health answers 200 with JSON", async ({ request }) => {
  const res = await request.get("/health");
  expect(res.status()).toBe(200);
  expect((await res.json()).status).toBe("ok");
});
