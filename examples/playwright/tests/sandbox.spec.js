// The app under test here is mockllm's own sandbox page; point yours at
// process.env.MOCKLLM_URL (its OpenAI base URL is MOCKLLM_URL + "/v1").
import { expect, test } from "@playwright/test";

test.beforeEach(async ({ page }) => {
  await page.goto(process.env.MOCKLLM_URL + "/");
  await expect(page.getByRole("button", { name: "Send" })).toBeEnabled(); // the scenarios have loaded
});

test("a streamed reply reaches the page whole", async ({ page }) => {
  await page.getByLabel("Scenario").selectOption("hello");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.getByRole("status")).toHaveText("done");
  await expect(page.getByRole("region", { name: "Reply" })).toHaveText(/^Hello! I am mockllm/);
});

test("a connection reset mid-stream shows as an error, with the text so far", async ({ page }) => {
  await page.getByLabel("Scenario").selectOption("drop-reset");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.getByRole("status")).toHaveText("error");
  await expect(page.getByRole("region", { name: "Reply" })).toHaveText(/^The connection is reset/);
});
