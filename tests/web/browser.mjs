// A headless Debian chromium driven over stdin/stdout, one JSON command per line, so a pytest
// module launches the browser once and steps through the pages. playwright-core comes from
// tests/e2e (its pinned npm project). Each answer is one line: {"ok": value} or {"error": text}.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const require = createRequire(new URL("../e2e/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
const requests = [];
const problems = []; // page errors and console errors (a CSP violation is one)
let page;

async function newPage() {
  if (page) await page.close();
  page = await context.newPage();
  page.on("request", (request) => requests.push(request.url()));
  page.on("pageerror", (error) => problems.push(`pageerror: ${error}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
}

const ops = {
  newPage: async () => newPage(),
  goto: async ({ url }) => {
    const started = Date.now();
    await page.goto(url, { waitUntil: "load" });
    return Date.now() - started;
  },
  eval: async ({ expr }) => page.evaluate(expr),
  // Polled from here: waitForFunction evaluates with eval(), which the pages' CSP refuses.
  waitFor: async ({ expr, timeout }) => {
    const deadline = Date.now() + (timeout ?? 30000);
    for (;;) {
      const value = await page.evaluate(expr).catch(() => false);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${expr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  },
  click: async ({ selector }) => page.click(selector),
  fill: async ({ selector, value }) => page.fill(selector, value),
  press: async ({ selector, key }) => page.press(selector, key),
  select: async ({ selector, value }) => page.selectOption(selector, value),
  screenshot: async ({ path, fullPage }) => {
    await page.screenshot({ path, fullPage: Boolean(fullPage) });
    return path;
  },
  requests: async () => requests.slice(),
  problems: async () => problems.slice(),
  close: async () => {
    await browser.close();
    process.exit(0);
  },
};

await newPage();
process.stdout.write(JSON.stringify({ ok: "ready" }) + "\n");
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const { op, args } = JSON.parse(line);
  try {
    const value = await ops[op](args ?? {});
    process.stdout.write(JSON.stringify({ ok: value ?? null }) + "\n");
  } catch (error) {
    process.stdout.write(JSON.stringify({ error: String(error?.stack ?? error) }) + "\n");
  }
}
await browser.close();
