// Drives the test page in headless Debian chromium with playwright-core, then prints one JSON
// line describing what happened. Usage: node drive.mjs '<json config>'
// config: {pageUrl, dsn, userId, release, environment, userDataDir}
import { chromium } from "playwright-core";

const config = JSON.parse(process.argv[2]);
const SLOW_CLICK_WAIT_MS = 30_000; // the SDK reports slow clicks ~7-8 s after them

const context = await chromium.launchPersistentContext(config.userDataDir, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

const envelopes = [];
const pageErrors = [];
try {
  await context.addInitScript((c) => {
    window.__E2E_CONFIG__ = c;
  }, config);
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  page.on("response", (response) => {
    if (response.url().includes("/envelope/")) {
      envelopes.push({ status: response.status(), url: response.url() });
    }
  });
  page.on("requestfailed", (request) => {
    if (request.url().includes("/envelope/")) {
      envelopes.push({ status: 0, url: request.url(), failure: request.failure()?.errorText });
    }
  });

  await page.goto(config.pageUrl);
  await page.waitForFunction(() => Boolean(window.Sentry?.getReplay()?.getReplayId()));
  const flushAll = () =>
    page.evaluate(async () => {
      // Errors first, so their ids are known to the segment flushed next (wire format §2).
      await window.Sentry.flush(10_000);
      await window.Sentry.getReplay().flush();
      await window.Sentry.flush(10_000);
    });
  await flushAll(); // segment 0: the full snapshot

  await page.click("#ok-btn");
  await page.click("#coupon");
  await page.keyboard.type("SAVE10", { delay: 20 });
  await page.click("#error-btn");
  await page.waitForFunction(() => window.__e2e.errorId !== null);
  await page.click("#nav-btn");
  await flushAll();

  // Dead and rage clicks: nothing may change the page for 7 s after them.
  await page.click("#dead-btn");
  // One input command for all six clicks, so a loaded machine cannot spread them over more
  // than the SDK's multi-click window.
  await page.click("#rage-btn", { clickCount: 6 });
  await page.waitForFunction(() => window.__e2e.slowClicks >= 2, null, {
    timeout: SLOW_CLICK_WAIT_MS,
  });
  await flushAll();

  const result = await page.evaluate(() => ({
    replayId: window.Sentry.getReplay().getReplayId(),
    errorId: window.__e2e.errorId,
    slowClicks: window.__e2e.slowClicks,
    userAgent: navigator.userAgent,
    url: location.href,
  }));
  console.log(JSON.stringify({ ...result, envelopes, pageErrors }));
} finally {
  await context.close();
}
