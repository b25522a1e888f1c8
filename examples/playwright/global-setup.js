// Start `mockllm serve --port 0` before the tests, read the URL from its first
// line, hand it to the tests as MOCKLLM_URL, and stop it after them.
// MOCKLLM names the command (default: mockllm on the PATH).
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

export default async function globalSetup() {
  const server = spawn(process.env.MOCKLLM ?? "mockllm", ["serve", "--port", "0", "--speed", "10"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: server.stdout });
  const url = await new Promise((resolve, reject) => {
    server.once("exit", (code) => reject(new Error(`mockllm exited (${code}) before listening`)));
    lines.once("line", (line) => {
      const found = /^mockllm listening on (http:\/\/\S+)$/.exec(line);
      found ? resolve(found[1]) : reject(new Error(`unexpected first line: ${line}`));
    });
  });
  process.env.MOCKLLM_URL = url;
  return async () => {
    server.kill("SIGTERM");
    await new Promise((resolve) => server.once("exit", resolve));
  };
}
