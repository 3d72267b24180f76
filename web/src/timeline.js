// The timeline's markers, read from the recording (Sentry's breadcrumbs inside rrweb custom
// events) and from the replay's linked events. Pure functions: events in, markers out.

// The dead and rage rules of replaystore/ingest/clicks.py (wire-format reference §5).
const SLOW_CLICK_TAGS = new Set(["a", "button", "input"]);
const DEAD_AFTER_MS = 7000;
const RAGE_COUNT = 5;
const CUSTOM = 5; // rrweb EventType.Custom
const META = 4; // rrweb EventType.Meta

/** Milliseconds since the epoch; the SDK writes some custom events' times in seconds. */
export function epochMs(value) {
  const n = Number(value);
  return n < 1e11 ? n * 1000 : n;
}

/** The recording's events in time order, every timestamp in milliseconds. */
export function normalise(segments) {
  const events = segments.flat().map((event) => ({ ...event, timestamp: epochMs(event.timestamp) }));
  return events.sort((a, b) => a.timestamp - b.timestamp);
}

function slowClickKind(data) {
  const tag = data?.node?.tagName;
  const after = data?.timeAfterClickMs;
  if (data?.endReason !== "timeout" || !SLOW_CLICK_TAGS.has(tag)) return null;
  if (typeof after !== "number" || after < DEAD_AFTER_MS) return null;
  return typeof data.clickCount === "number" && data.clickCount >= RAGE_COUNT ? "rage" : "dead";
}

/** Click, dead click, rage click and URL markers: `{kind, time, label}` (time in epoch ms). */
export function recordingMarkers(events) {
  const clicks = new Map(); // a click's dead or rage version replaces the plain one
  const urls = [];
  let lastUrl = null;
  const addUrl = (time, href) => {
    if (!href || href === lastUrl) return;
    lastUrl = href;
    urls.push({ kind: "url", time, label: href });
  };
  for (const event of events) {
    if (event.type === META) addUrl(event.timestamp, event.data?.href);
    if (event.type !== CUSTOM || event.data?.tag !== "breadcrumb") continue;
    const crumb = event.data.payload || {};
    const time = crumb.timestamp ? epochMs(crumb.timestamp) : event.timestamp;
    const key = `${crumb.data?.nodeId}:${Math.round(time)}`;
    if (crumb.category === "ui.click" && !clicks.has(key)) {
      clicks.set(key, { kind: "click", time, label: crumb.message || "click" });
    } else if (crumb.category === "ui.slowClickDetected") {
      const kind = slowClickKind(crumb.data);
      if (kind) clicks.set(key, { kind, time, label: crumb.message || `${kind} click` });
    } else if (crumb.category === "navigation") {
      addUrl(time, crumb.data?.to);
    }
  }
  return [...clicks.values(), ...urls].sort((a, b) => a.time - b.time);
}

/** Error, warning and info markers from the events-meta answer. */
export function eventMarkers(events) {
  return events.map((event) => ({
    kind: ["error", "fatal"].includes(event.level) ? "error" : event.level || "error",
    time: Date.parse(event.timestamp),
    label: event.title || `${event.level || "error"} ${event.id}`,
  }));
}

export const KIND_NAMES = {
  click: "Click",
  dead: "Dead click",
  rage: "Rage click",
  url: "URL",
  error: "Error",
  warning: "Warning",
  info: "Info",
  debug: "Debug",
};
