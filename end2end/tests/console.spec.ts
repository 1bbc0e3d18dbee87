// The operator console, against its own server (playwright.config.ts: seeded journeys, the
// users projection held by the test hook, stalls after 2 s), so its poison event and its stalled
// projection disturb no other spec: lag in seconds and a stalled projection, dead letters of a
// real poison event, the event browser with its live statistics, a correlation's tree, the
// order stepper, and the small things (favicon, 401 for a wrong admin token, empty-log hint).
import { test as base, expect, Page, APIRequestContext, Cookie } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { consoleURL } from "../playwright.config";
import { gotoHydrated, screenshot } from "./helpers";

const token = () => process.env.EVENTIDE_E2E_ADMIN_TOKEN!;
let session: Cookie | undefined;

/** Signs the page in as the console server's admin (once; then its cookie). */
async function signIn(page: Page) {
  if (!session) {
    const res = await page.request.post("/api/admin/login", { data: { token: token() } });
    expect(res.ok(), await res.text()).toBeTruthy();
    session = (await page.context().cookies()).find((c) => c.name === "eventide_session");
    expect(session, "a session cookie").toBeTruthy();
  } else {
    await page.context().addCookies([session]);
  }
}

const test = base.extend<{ admin: APIRequestContext }>({
  baseURL: consoleURL,
  admin: async ({ playwright }, use) => {
    const ctx = await playwright.request.newContext({
      baseURL: consoleURL,
      extraHTTPHeaders: { Authorization: `Bearer ${token()}` },
    });
    await use(ctx);
    await ctx.dispose();
  },
  page: async ({ page }, use) => {
    await signIn(page);
    await use(page);
  },
});

/** Appends an event no projection can read, behind the server's back (as a broken import would). */
function appendPoison(streamId: string, eventId: string): number {
  const db = join(process.env.EVENTIDE_E2E_CONSOLE_DATA!, "eventide.db");
  const script = `
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
db.execute("begin immediate")
(position,) = db.execute("update log_head set position = position + 1 where id = 1 returning position").fetchone()
now = int(time.time() * 1_000_000)
db.execute("insert into events (position, event_id, stream_id, stream_type, version, event_type, schema_version, data, metadata, correlation_id, recorded_at_us) values (?, ?, ?, 'order', 1, 'OrderPlaced', 1, '{\\"garbage\\":true}', '{}', null, ?)", (position, sys.argv[3], sys.argv[2], now))
db.execute("insert into streams (stream_id, stream_type, version, created_at_us, updated_at_us) values (?, 'order', 1, ?, ?)", (sys.argv[2], now, now))
db.execute("commit")
print(position)
`;
  return Number(execFileSync("python3", ["-c", script, db, streamId, eventId]).toString().trim());
}

async function createCustomer(admin: APIRequestContext, name: string) {
  const res = await admin.post("/api/customers", {
    data: { name, email: `${name.toLowerCase().replace(/[^a-z0-9]+/g, ".")}.${Date.now()}@example.com` },
  });
  expect(res.ok(), await res.text()).toBeTruthy();
  return (await res.json()) as { id: string };
}

test("lag in seconds, the last hour's trend and a stalled projection", async ({ page, admin }) => {
  // Something for the held projection to fall behind on.
  await createCustomer(admin, `Lagging ${Date.now()}`);
  await gotoHydrated(page, "/admin");
  const held = page.locator('[data-testid="projections-table"] tr[data-projection="users"]');
  await expect(held.locator("[data-status]")).toHaveAttribute("data-status", "stalled", { timeout: 20_000 });
  await expect.poll(async () => Number(await held.getByTestId("lag-seconds").textContent())).toBeGreaterThanOrEqual(2);
  await expect(held.locator("svg.sparkline")).toBeVisible();
  const running = page.locator('[data-testid="projections-table"] tr[data-projection="orders"] [data-status]');
  await expect(running).toHaveAttribute("data-status", "running");
  // The disabled relay shows the log's head, not 0.
  await expect(page.getByTestId("relay-figures")).toContainText(/log head [1-9]\d*/);
  const ready = await page.request.get("/ready");
  expect(ready.status()).toBe(503);
  expect(JSON.stringify(await ready.json())).toContain("projection users is stalled");
  await screenshot(page, "console-stalled");
});

test("a poison event's dead letters: payload, error, skip with a reason, and who did it", async ({ page }) => {
  const stream = `order-${crypto.randomUUID()}`;
  const position = appendPoison(stream, crypto.randomUUID());
  await gotoHydrated(page, "/admin");
  const panel = page.getByTestId("dead-letters");
  const open = panel.locator(`li[data-state="open"]`).filter({ hasText: `at position ${position}` });
  await expect(open.first()).toBeVisible({ timeout: 30_000 });
  const letter = open.first();
  await expect(letter).toContainText(stream);
  await letter.locator("summary", { hasText: "Payload" }).click();
  await expect(letter.getByTestId("payload")).toContainText('"garbage": true');
  await screenshot(page, "console-dead-letters");
  // Every projection that reads OrderPlaced faults on it, each after its own retries: wait until
  // their number has settled (the list updates live meanwhile), then skip each one.
  const openAt = () => panel.locator(`li[data-state="open"]`).filter({ hasText: `at position ${position}` });
  let seen = -1;
  await expect
    .poll(
      async () => {
        const n = await openAt().count();
        const settled = n === seen;
        seen = n;
        return settled && n > 0;
      },
      { intervals: [2_000], timeout: 45_000 },
    )
    .toBe(true);
  // Skip every projection's dead letter on it, so this server goes on serving.
  const projections = await openAt().evaluateAll((lis) => lis.map((li) => li.getAttribute("data-projection")));
  for (const projection of projections) {
    const resolved = panel.locator(`li[data-state="skipped"][data-projection="${projection}"]`).filter({ hasText: `at position ${position}` });
    // A live update may re-render the row between typing and clicking: try again until skipped.
    await expect(async () => {
      const row = panel.locator(`li[data-state="open"][data-projection="${projection}"]`).filter({ hasText: `at position ${position}` });
      if ((await row.count()) > 0) {
        await row.getByLabel("Reason to skip").fill("garbage written by a broken import");
        await row.getByRole("button", { name: "Skip this event" }).click();
      }
      await expect(resolved.getByTestId("resolution")).toContainText("skipped by admin", { timeout: 3_000 });
    }).toPass({ timeout: 30_000 });
    await expect(resolved.getByTestId("resolution")).toContainText("garbage written by a broken import");
  }
  await expect(panel.locator(`li[data-state="open"]`)).toHaveCount(0);
});

test("the event browser: filters, a pasted short id, paging, live statistics", async ({ page, admin }) => {
  await gotoHydrated(page, "/events");
  const stats = page.getByTestId("event-stats");
  await expect(stats).toBeVisible();
  const total = Number(await stats.getAttribute("data-total"));
  expect(total).toBeGreaterThan(100);
  await expect(page.getByTestId("stats-by-type").locator('tr[data-name="OrderPlaced"]')).toBeVisible();
  // Live: a new customer is counted without a reload.
  await createCustomer(admin, `Counted ${Date.now()}`);
  await expect.poll(async () => Number(await stats.getAttribute("data-total")), { timeout: 15_000 }).toBeGreaterThan(total);

  const form = page.getByRole("form", { name: "Search events" });
  // ItemAdded: more than one page of them in the seeded journeys.
  await form.getByLabel("Event type").fill("ItemAdded");
  await form.getByRole("button", { name: "Search" }).click();
  const rows = page.getByTestId("events-table").locator("tbody tr");
  await expect(rows.first()).toHaveAttribute("data-event-type", "ItemAdded");
  await expect(rows).toHaveCount(50);
  const types = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-event-type")));
  expect(new Set(types)).toEqual(new Set(["ItemAdded"]));
  const last = Number(await rows.last().getAttribute("data-position"));
  await screenshot(page, "console-event-log");
  // The next page: older events, every position below the first page's.
  const next = page.getByRole("button", { name: "Next" });
  await expect(next).toBeEnabled();
  await next.click();
  await expect.poll(async () => Number(await rows.first().getAttribute("data-position"))).toBeLessThan(last);
  await page.getByRole("button", { name: "Previous" }).click();
  await expect(rows.last()).toHaveAttribute("data-position", String(last));

  // The short id the order list shows finds its stream's events.
  const streamId = (await page.getByTestId("events-table").locator("tbody tr td:nth-child(3) a").first().textContent())!;
  const short = streamId.slice(-8);
  await form.getByLabel("Event type").fill("");
  await form.getByLabel("Stream", { exact: true }).fill(short);
  await form.getByRole("button", { name: "Search" }).click();
  // The first page's first row is this stream too: wait for the whole table to be replaced.
  await expect
    .poll(async () => new Set(await rows.evaluateAll((trs) => trs.map((tr) => tr.querySelector("td:nth-child(3)")?.textContent))))
    .toEqual(new Set([streamId]));
  // Each row opens its stream's timeline.
  await rows.first().locator("td:nth-child(3) a").click();
  await expect(page).toHaveURL(new RegExp(`/audit/${streamId}$`));
});

test("what one action caused: a seeded journey's causation tree, several levels deep", async ({ page, admin }) => {
  const res = await admin.get("/api/events?type=OrderShipped&limit=1");
  expect(res.ok()).toBeTruthy();
  const shipped = (await res.json()).events[0];
  expect(shipped.correlation_id).toBeTruthy();
  await gotoHydrated(page, `/audit/correlation/${shipped.correlation_id}`);
  const tree = page.getByTestId("correlation-tree");
  await expect(tree).toBeVisible();
  expect(Number(await tree.getAttribute("data-depth"))).toBeGreaterThanOrEqual(3);
  await expect(tree.locator('li.command[data-level="1"][data-command="place_order"]')).toHaveCount(1);
  await expect(tree.locator('li.command[data-level="3"]').first()).toBeVisible();
  await expect(tree.locator('li.command[data-command="ship"] li.event[data-event-type="OrderShipped"]')).toHaveCount(1);
  await screenshot(page, "console-correlation");
  await tree.locator('li.event[data-event-type="OrderShipped"] a').first().click();
  await expect(page).toHaveURL(/\/audit\/order-/);
});

test("the order stepper: each version as the order page shows it, the change highlighted", async ({ page, admin }) => {
  const res = await admin.get("/api/events?type=ItemAdded&limit=1");
  const added = (await res.json()).events[0];
  await gotoHydrated(page, `/audit/${added.stream_id}`);
  await page.getByRole("button", { name: `Show state at version ${added.version}` }).click();
  const order = page.getByTestId("order-at-version");
  await expect(order).toBeVisible();
  await expect(order.locator('[data-line-change="added"]')).toHaveCount(1);
  await expect(order.locator('[data-field="total"]')).toHaveAttribute("data-changed", "true");
  await page.getByRole("button", { name: "Show state at version 1" }).click();
  await expect(order.getByTestId("stepper-lines").locator("tbody tr")).toHaveCount(0);
  await expect(order.locator('[data-field="status"]')).toHaveAttribute("data-changed", "true");
  await page.getByRole("button", { name: `Show state at version ${added.version}` }).click();
  await page.getByTestId("raw-state").locator("summary").click();
  await expect(page.getByTestId("raw-state").locator('tr[data-field="lines"]')).toBeVisible();
  await screenshot(page, "console-stepper");
});

test("small things: a favicon, 401 for a wrong admin token", async ({ page }) => {
  const icon = await page.request.get("/favicon.ico");
  expect(icon.status()).toBe(200);
  const wrong = await page.request.post("/api/admin/login", { data: { token: "not-the-token" } });
  expect(wrong.status()).toBe(401);
});
