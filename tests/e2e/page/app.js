// The test page's script: the real Sentry browser SDK with session replay, flushing fast
// (wire format §7.2), configured by the driver through window.__E2E_CONFIG__.
import * as Sentry from "@sentry/browser";

const config = window.__E2E_CONFIG__;
window.__e2e = { slowClicks: 0, errorId: null };

Sentry.init({
  dsn: config.dsn,
  environment: config.environment,
  release: config.release,
  replaysSessionSampleRate: 1.0,
  replaysOnErrorSampleRate: 1.0,
  integrations: [
    Sentry.replayIntegration({
      flushMinDelay: 500,
      flushMaxDelay: 1000,
      minReplayDuration: 0,
      stickySession: false,
      // slowClickTimeout stays at its default 7000 ms: below that the backend sees no dead click.
      beforeAddRecordingEvent(event) {
        const payload = event.type === 5 && event.data && event.data.payload;
        if (payload && payload.category === "ui.slowClickDetected") {
          window.__e2e.slowClicks += 1;
        }
        return event;
      },
    }),
  ],
});
Sentry.setUser({ id: config.userId });
window.Sentry = Sentry;

const status = document.getElementById("status");
document.getElementById("ok-btn").addEventListener("click", () => {
  status.textContent = "added";
});
document.getElementById("coupon").addEventListener("input", (event) => {
  document.getElementById("echo").textContent = event.target.value;
});
document.getElementById("error-btn").addEventListener("click", () => {
  window.__e2e.errorId = Sentry.captureException(new Error("e2e checkout exploded"));
  status.textContent = "broken";
});
document.getElementById("nav-btn").addEventListener("click", () => {
  history.pushState({ step: 2 }, "", "/checkout?step=2");
  status.textContent = "step 2";
});
