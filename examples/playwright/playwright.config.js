// Playwright starts mockllm once for the whole run (global-setup.js) and every
// test points the page at it. Chromium: Playwright's own, or the system's with
// CHROMIUM_PATH=/usr/bin/chromium (as this repository's CI does).
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "./tests",
  globalSetup: "./global-setup.js",
  reporter: "list",
  use: {
    launchOptions: process.env.CHROMIUM_PATH ? { executablePath: process.env.CHROMIUM_PATH } : {},
  },
});
