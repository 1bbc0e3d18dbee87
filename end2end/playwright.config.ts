import { defineConfig, devices } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// The main process picks a free port and a fresh data directory once; worker processes inherit
// them through the environment, so every process agrees on the server's address.
if (!process.env.EVENTIDE_E2E_PORT) {
  process.env.EVENTIDE_E2E_PORT = execFileSync(process.execPath, [
    "-e",
    "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close();})",
  ])
    .toString()
    .trim();
  process.env.EVENTIDE_E2E_DATA = mkdtempSync(join(tmpdir(), "eventide-e2e-"));
  process.env.EVENTIDE_E2E_CONSOLE_PORT = execFileSync(process.execPath, [
    "-e",
    "const s=require('net').createServer();s.listen(0,'127.0.0.2',()=>{console.log(s.address().port);s.close();})",
  ])
    .toString()
    .trim();
  process.env.EVENTIDE_E2E_CONSOLE_DATA = mkdtempSync(join(tmpdir(), "eventide-e2e-console-"));
  process.env.EVENTIDE_E2E_ADMIN_TOKEN = "e2e-admin-token-" + Date.now();
}
const port = process.env.EVENTIDE_E2E_PORT;
const root = resolve(__dirname, "..");
export const baseURL = `http://127.0.0.1:${port}`;
// The operator console's own server (console.spec.ts): a poison event and a held projection
// must not disturb the other specs. Another host (127.0.0.2), so its session cookie is its own.
const consolePort = process.env.EVENTIDE_E2E_CONSOLE_PORT;
export const consoleURL = `http://127.0.0.2:${consolePort}`;

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        launchOptions: {
          executablePath: "/usr/bin/chromium",
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
          ],
        },
      },
    },
  ],
  // Demo data first (through the command service, as `server seed` always does), so pages look
  // real and a rebuild runs long enough for its progress to be seen; then the server itself.
  webServer: [
    {
      command:
        `${root}/target/release/server --data-dir ${process.env.EVENTIDE_E2E_DATA} seed --orders 1500 && ` +
        // Small projection batches: the admin test must see a rebuild of the seeded log in progress.
        `exec ${root}/target/release/server --addr 127.0.0.1:${port} --data-dir ${process.env.EVENTIDE_E2E_DATA} --site-root ${root}/target/site --projection-batch-size 10`,
      url: `${baseURL}/health`,
      reuseExistingServer: false,
      timeout: 180_000,
      stdout: "pipe",
      stderr: "pipe",
      env: { EVENTIDE_ADMIN_TOKEN: process.env.EVENTIDE_E2E_ADMIN_TOKEN ?? "" },
    },
    {
      // The console's server: seeded journeys (correlations several levels deep), the users
      // projection held by the test hook (a stalled projection on demand), stalls after 2 s.
      command:
        `${root}/target/release/server --data-dir ${process.env.EVENTIDE_E2E_CONSOLE_DATA} seed --orders 60 && ` +
        `exec ${root}/target/release/server --addr 127.0.0.2:${consolePort} --data-dir ${process.env.EVENTIDE_E2E_CONSOLE_DATA} --site-root ${root}/target/site --stall-after-secs 2 --test-hold-projection users`,
      url: `${consoleURL}/health`,
      reuseExistingServer: false,
      timeout: 180_000,
      stdout: "pipe",
      stderr: "pipe",
      env: { EVENTIDE_ADMIN_TOKEN: process.env.EVENTIDE_E2E_ADMIN_TOKEN ?? "" },
    },
  ],
});
