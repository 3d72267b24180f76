// GET /replays/{project}/{replay_id}/ : rrweb playback of every segment, a timeline of clicks
// (dead and rage marked), errors and URL changes, the replay's details, and deletion.
import rrwebPlayer from "rrweb-player";
import "rrweb-player/dist/style.css";
import {
  api,
  el,
  formatClock,
  formatDuration,
  formatTime,
  header,
  start,
  timeParams,
  withOrg,
} from "./common.js";
import { eventMarkers, KIND_NAMES, normalise, recordingMarkers } from "./timeline.js";

const SEGMENTS_PER_PAGE = 10;
const [, , slug, replayId] = location.pathname.split("/").map(decodeURIComponent);

async function orgOf(orgs) {
  const wanted = new URLSearchParams(location.search).get("org");
  if (orgs.some((o) => o.slug === wanted)) return wanted;
  for (const { slug: org } of orgs) {
    const { data } = await api(`/organizations/${org}/projects/`);
    if (data.some((p) => p.slug === slug)) return org;
  }
  return orgs[0]?.slug;
}

/** Every segment's rrweb events, fetched page by page with `download`. */
async function recording(base, status) {
  const segments = [];
  let cursor = "";
  for (;;) {
    const params = { download: "true", per_page: SEGMENTS_PER_PAGE, cursor, ...timeParams() };
    const { data, link } = await api(`${base}/recording-segments/`, params);
    segments.push(...data);
    status.textContent = `Loaded ${segments.length} segment${segments.length === 1 ? "" : "s"}…`;
    if (!link.next?.results) return segments;
    cursor = link.next.cursor;
  }
}

async function linkedEvents(org, replay) {
  const ids = [...replay.error_ids, ...(replay.warning_ids || []), ...(replay.info_ids || [])];
  if (!ids.length) return [];
  const { data } = await api(`/organizations/${org}/replays-events-meta/`, {
    query: `id:[${ids.join(",")}]`,
    project: replay.project_id,
    per_page: 100,
    ...timeParams(),
  });
  return data.data;
}

function detailRow(term, ...values) {
  const shown = values.flat().filter((v) => v !== null && v !== undefined && v !== "");
  return [el("dt", {}, term), el("dd", {}, shown.length ? shown.join(" ") : "–")];
}

function details(replay) {
  const user = replay.user || {};
  const list = (items) =>
    items?.length ? el("ul", {}, items.map((item) => el("li", {}, item))) : "–";
  const tags = Object.entries(replay.tags || {}).map(([k, v]) => `${k}: ${v.join(", ")}`);
  return el(
    "dl",
    { class: "details", id: "details" },
    detailRow("User", user.display_name),
    detailRow("Email", user.email),
    detailRow("User id", user.id),
    detailRow("IP", user.ip),
    detailRow("Started", formatTime(replay.started_at)),
    detailRow("Finished", formatTime(replay.finished_at)),
    detailRow("Duration", formatDuration(replay.duration)),
    detailRow("Environment", replay.environment),
    detailRow("Releases", replay.releases),
    detailRow("Browser", replay.browser?.name, replay.browser?.version),
    detailRow("OS", replay.os?.name, replay.os?.version),
    detailRow("Device", replay.device?.name || replay.device?.family),
    detailRow("SDK", replay.sdk?.name, replay.sdk?.version),
    detailRow("Errors", String(replay.count_errors ?? 0)),
    detailRow("Dead clicks", String(replay.count_dead_clicks ?? 0)),
    detailRow("Rage clicks", String(replay.count_rage_clicks ?? 0)),
    detailRow("Segments", String(replay.count_segments ?? 0)),
    el("dt", {}, "URLs"),
    el("dd", { class: "urls" }, list(replay.urls)),
    el("dt", {}, "Error ids"),
    el("dd", { class: "ids" }, list(replay.error_ids)),
    el("dt", {}, "Tags"),
    el("dd", {}, list(tags)),
    detailRow("Replay id", replay.id),
  );
}

function deleteControl(base, org) {
  const status = el("p", { id: "delete-status", role: "status" });
  const dialog = el(
    "dialog",
    { id: "confirm-delete" },
    el("p", {}, "Delete this replay for good? Its recording, clicks and personal data are purged."),
    el(
      "form",
      { method: "dialog" },
      el("button", { value: "cancel", id: "delete-cancel" }, "Cancel"),
      el("button", { value: "delete", id: "delete-confirm", class: "danger" }, "Delete"),
    ),
  );
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "delete") return;
    try {
      await api(`${base}/`, {}, { method: "DELETE" });
      status.replaceChildren("Replay deleted. ", el("a", { href: withOrg("/", org) }, "Back to the list"));
      document.getElementById("delete")?.setAttribute("disabled", "");
    } catch (error) {
      status.textContent = `Could not delete: ${error.message}`;
    }
  });
  const button = el(
    "button",
    { type: "button", id: "delete", class: "danger", onclick: () => dialog.showModal() },
    "Delete replay…",
  );
  return el("div", { class: "delete" }, button, dialog, status);
}

function timeline(markers, startTime, totalTime, seek) {
  const bar = el("div", { class: "timeline-bar", id: "timeline" });
  const list = el("ol", { class: "markers", id: "markers" });
  for (const marker of markers) {
    const offset = Math.min(Math.max(marker.time - startTime, 0), totalTime);
    const name = KIND_NAMES[marker.kind] || marker.kind;
    const title = `${name} at ${formatClock(offset)}: ${marker.label}`;
    const left = totalTime ? (100 * offset) / totalTime : 0;
    bar.append(
      el("button", {
        type: "button",
        class: `marker k-${marker.kind}`,
        title,
        "aria-label": title,
        dataset: { kind: marker.kind, offset: Math.round(offset) },
        style: `left: ${left.toFixed(3)}%`,
        onclick: () => seek(offset),
      }),
    );
    list.append(
      el(
        "li",
        { class: `k-${marker.kind}` },
        el(
          "button",
          { type: "button", class: "link", dataset: { kind: marker.kind, offset: Math.round(offset) }, onclick: () => seek(offset) },
          el("span", { class: "at" }, formatClock(offset)),
          el("span", { class: `kind k-${marker.kind}` }, name),
          el("span", { class: "label" }, marker.label),
        ),
      ),
    );
  }
  return el("section", { class: "timeline" }, el("h2", {}, "Timeline"), bar, list);
}

async function render(app, orgs) {
  const org = await orgOf(orgs);
  const base = `/projects/${org}/${encodeURIComponent(slug)}/replays/${replayId}`;
  const stage = el("div", { id: "player", class: "stage" });
  const status = el("p", { id: "player-status", class: "hint", role: "status" }, "Loading…");
  const side = el("aside", { class: "side" });
  app.replaceChildren(
    header("player", org),
    el("main", { class: "player-page" }, el("section", { class: "play" }, stage, status), side),
  );
  let replay;
  try {
    ({ data: { data: replay } } = await api(`${base}/`, timeParams()));
  } catch (error) {
    status.textContent = error.status === 404 ? "This replay does not exist here." : error.message;
    status.classList.add("error");
    return;
  }
  document.title = `Replay of ${replay.user?.display_name || replay.id} · replaystore`;
  side.append(el("h1", {}, replay.user?.display_name || "Replay"), details(replay));
  if (replay.is_archived) {
    status.textContent = "This replay was deleted: only its archive marker remains.";
    return;
  }
  side.append(deleteControl(base, org));
  const [segments, linked] = await Promise.all([recording(base, status), linkedEvents(org, replay)]);
  const events = normalise(segments);
  if (events.length < 2) {
    status.textContent = "This replay has no recording to play.";
    return;
  }
  const width = Math.max(320, stage.clientWidth || 800);
  const player = new rrwebPlayer({
    target: stage,
    props: { events, width, height: Math.round(width * 0.6), autoPlay: false, skipInactive: true },
  });
  const { startTime, totalTime } = player.getMetaData();
  const clock = el("span", { id: "current-time", dataset: { ms: 0 } }, formatClock(0));
  player.addEventListener("ui-update-current-time", (event) => {
    clock.dataset.ms = Math.round(event.payload);
    clock.textContent = formatClock(event.payload);
  });
  const seek = (offset) => {
    player.goto(offset, false);
    clock.dataset.ms = Math.round(offset);
    clock.textContent = formatClock(offset);
  };
  const markers = [...recordingMarkers(events), ...eventMarkers(linked)].sort((a, b) => a.time - b.time);
  status.replaceChildren(
    `${segments.length} segments, ${formatClock(totalTime)} · at `,
    clock,
  );
  status.after(timeline(markers, startTime, totalTime, seek));
  document.body.dataset.ready = "player";
}

const app = document.getElementById("app");
start(app, (orgs) => render(app, orgs));
