// GET / : the replay list. Its state (search, time range, filters, sort, cursor) lives in the
// URL, so a view can be bookmarked and the back button works.
import {
  api,
  authMode,
  el,
  formatDuration,
  formatTime,
  header,
  pickOrg,
  start,
  storedToken,
  timeParams,
  withOrg,
} from "./common.js";

const PAGE_SIZE = 25;
const PERIODS = [
  ["1h", "last hour"],
  ["24h", "last 24 hours"],
  ["7d", "last 7 days"],
  ["14d", "last 14 days"],
  ["30d", "last 30 days"],
  ["90d", "last 90 days"],
];
const FIELDS = [
  "id",
  "project_id",
  "started_at",
  "duration",
  "user",
  "urls",
  "browser",
  "os",
  "count_errors",
  "count_dead_clicks",
  "count_rage_clicks",
  "is_archived",
];
// [heading, sort key or null]
const COLUMNS = [
  ["User", "user.email"],
  ["Start", "started_at"],
  ["Duration", "duration"],
  ["URL", null],
  ["Browser / OS", "browser.name"],
  ["Errors", "count_errors"],
  ["Dead clicks", "count_dead_clicks"],
  ["Rage clicks", "count_rage_clicks"],
];

function state() {
  const params = new URLSearchParams(location.search);
  return {
    query: params.get("query") || "",
    statsPeriod: params.get("statsPeriod") || (params.get("start") ? "" : "7d"),
    start: params.get("start") || "",
    end: params.get("end") || "",
    project: params.get("project") || "",
    environment: params.get("environment") || "",
    sort: params.get("sort") || "-started_at",
    cursor: params.get("cursor") || "",
  };
}

function go(org, changes) {
  const next = { ...state(), cursor: "", ...changes, org };
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(next)) if (value) params.set(key, value);
  history.pushState(null, "", `/?${params}`);
  window.dispatchEvent(new Event("popstate"));
}

// datetime-local inputs hold UTC wall time here; the API takes ISO 8601 with an offset.
const toInput = (iso) => (iso ? new Date(iso).toISOString().slice(0, 16) : "");
const fromInput = (value) => (value ? `${value}:00Z` : "");

function filters(org, projects, environments, current) {
  const search = el("input", {
    id: "search",
    name: "query",
    type: "search",
    value: current.query,
    placeholder: "search, e.g. count_errors:>0 AND url:*checkout*",
    spellcheck: "false",
    "aria-describedby": "search-error",
  });
  const period = el(
    "select",
    { id: "period", name: "statsPeriod", "aria-label": "time range" },
    PERIODS.map(([value, text]) =>
      el("option", { value, selected: current.statsPeriod === value }, text),
    ),
    el("option", { value: "", selected: !current.statsPeriod }, "between…"),
  );
  const from = el("input", { id: "start", type: "datetime-local", value: toInput(current.start) });
  const to = el("input", { id: "end", type: "datetime-local", value: toInput(current.end) });
  const range = el("span", { class: "range", hidden: Boolean(current.statsPeriod) }, from, "–", to, " UTC");
  period.addEventListener("change", () => {
    range.hidden = Boolean(period.value);
  });
  const project = el(
    "select",
    { id: "project", "aria-label": "project" },
    el("option", { value: "" }, "all projects"),
    projects.map((p) => el("option", { value: p.id, selected: current.project === p.id }, p.slug)),
  );
  const environment = el(
    "select",
    { id: "environment", "aria-label": "environment" },
    el("option", { value: "" }, "all environments"),
  );
  fillEnvironments(environment, environments, current.environment);
  return el(
    "form",
    {
      id: "filters",
      class: "filters",
      onsubmit: (event) => {
        event.preventDefault();
        const custom = !period.value;
        go(org, {
          query: search.value.trim(),
          statsPeriod: period.value,
          start: custom ? fromInput(from.value) : "",
          end: custom ? fromInput(to.value) : "",
          project: project.value,
          environment: environment.value,
        });
      },
    },
    el("div", { class: "search-row" }, search, el("button", { type: "submit" }, "Search")),
    el("p", { id: "search-error", class: "error", role: "alert" }),
    el("div", { class: "filter-row" }, period, range, project, environment),
  );
}

function sortHeader(org, [title, key], sort) {
  if (!key) return el("th", {}, title);
  const active = sort.replace(/^-/, "") === key;
  const descending = sort.startsWith("-");
  const next = active && descending ? key : `-${key}`;
  return el(
    "th",
    { "aria-sort": active ? (descending ? "descending" : "ascending") : null },
    el(
      "button",
      { type: "button", class: "sort", dataset: { sort: key }, onclick: () => go(org, { sort: next }) },
      title,
      active ? (descending ? " ▼" : " ▲") : "",
    ),
  );
}

function userName(user) {
  return user?.display_name || user?.email || user?.username || user?.id || "anonymous";
}

function row(org, slugs, replay) {
  const slug = slugs.get(replay.project_id) || replay.project_id;
  const href = withOrg(`/replays/${encodeURIComponent(slug)}/${replay.id}/`, org);
  const url = new URL(href, location.origin);
  for (const [key, value] of Object.entries(timeParams())) url.searchParams.set(key, value);
  const browser = [replay.browser?.name, replay.browser?.version].filter(Boolean).join(" ");
  const os = [replay.os?.name, replay.os?.version].filter(Boolean).join(" ");
  const count = (n, kind) => el("td", { class: `num ${n ? kind : ""}` }, n ?? 0);
  return el(
    "tr",
    { dataset: { replayId: replay.id }, class: replay.is_archived ? "archived" : null },
    el(
      "td",
      {},
      el("a", { href: url.pathname + url.search, class: "replay-link" }, userName(replay.user)),
      el("div", { class: "sub" }, `${slug} · ${replay.id.slice(0, 8)}`, replay.is_archived ? " · deleted" : ""),
    ),
    el("td", { class: "time" }, formatTime(replay.started_at)),
    el("td", { class: "num" }, formatDuration(replay.duration)),
    el("td", { class: "url", title: replay.urls?.[0] || "" }, replay.urls?.[0] || "–"),
    el("td", {}, browser || "–", el("div", { class: "sub" }, os || "")),
    count(replay.count_errors, "bad"),
    count(replay.count_dead_clicks, "warn"),
    count(replay.count_rage_clicks, "bad"),
  );
}

function pager(org, link) {
  const button = (rel, text) =>
    el(
      "button",
      {
        type: "button",
        id: `page-${rel}`,
        disabled: !link[rel]?.results,
        onclick: () => go(org, { ...state(), cursor: link[rel].cursor }),
      },
      text,
    );
  return el("div", { class: "pager" }, button("previous", "← Newer"), button("next", "Older →"));
}

function requestParams(current) {
  return {
    query: current.query,
    statsPeriod: current.statsPeriod,
    start: current.statsPeriod ? "" : current.start,
    end: current.statsPeriod ? "" : current.end,
    project: current.project,
    environment: current.environment,
    sort: current.sort,
    per_page: PAGE_SIZE,
    cursor: current.cursor,
    field: FIELDS,
  };
}

async function environmentsOf(org) {
  try {
    const { data } = await api(`/organizations/${org}/tags/environment/values/`, {
      includeReplays: 1,
      statsPeriod: "90d",
      per_page: 100,
    });
    return data.map((v) => v.value).filter(Boolean);
  } catch {
    return []; // the filter still works by URL
  }
}

// The environments seen lately, plus the one the URL asks for (kept even when not seen).
function fillEnvironments(select, names, current) {
  const have = new Set([...select.options].map((o) => o.value));
  for (const name of [current, ...names]) {
    if (!name || have.has(name)) continue;
    have.add(name);
    select.append(el("option", { value: name, selected: current === name }, name));
  }
}

async function render(app, orgs) {
  const org = pickOrg(orgs);
  if (!org) {
    app.replaceChildren(header("list", null), el("p", { class: "empty" }, "No organization yet."));
    return;
  }
  // The first page of replays is asked for at once, beside the projects; the environments
  // fill their filter when they come.
  const listing = (current) => fetchList(org, current);
  let first = early && early.org === org ? early.answer : listing(state());
  first.catch(() => {}); // handled when shown
  let environments = null;
  // Asked for once the list is in: the server runs few queries at once.
  const environmentsReady = first.then(
    () => environmentsOf(org),
    () => environmentsOf(org),
  ).then((names) => {
    environments = names;
    return names;
  });
  const { data: projects } = await api(`/organizations/${org}/projects/`);
  const slugs = new Map(projects.map((p) => [p.id, p.slug]));
  const show = async () => {
    const current = state();
    const form = filters(org, projects, environments || [], current);
    if (environments === null) {
      environmentsReady.then((names) => fillEnvironments(form.querySelector("#environment"), names, current.environment));
    }
    const results = el("div", { id: "results", "aria-busy": "true" });
    app.replaceChildren(header("list", org), el("main", {}, form, results));
    try {
      const { data, link } = await (first || listing(current));
      const table = el(
        "table",
        { id: "replays", class: "replays" },
        el("thead", {}, el("tr", {}, COLUMNS.map((c) => sortHeader(org, c, current.sort)))),
        el("tbody", {}, data.data.map((replay) => row(org, slugs, replay))),
      );
      results.replaceChildren(
        data.data.length ? table : el("p", { class: "empty", id: "no-replays" }, "No replays match."),
        pager(org, link),
      );
    } catch (error) {
      if (error.status === 400) form.querySelector("#search-error").textContent = error.detail;
      else results.append(el("p", { class: "error", role: "alert" }, error.message));
    } finally {
      first = null;
      results.setAttribute("aria-busy", "false");
      // The moment the first list is on screen (ms since the page was opened), measured by
      // benchmarks/web_bench.py.
      if (!window.__replaystoreListRendered) {
        window.__replaystoreListRendered = performance.now();
      }
    }
  };
  window.addEventListener("popstate", show);
  await show();
}

function fetchList(org, current) {
  return api(`/organizations/${org}/replays/`, requestParams(current));
}

// With the organization in the URL and access settled, the first page is asked for before
// anything else (the organizations answer only confirms it).
const early = (() => {
  const org = new URLSearchParams(location.search).get("org");
  if (!org || (authMode() === "token" && !storedToken())) return null;
  const answer = fetchList(org, state());
  answer.catch(() => {});
  return { org, answer };
})();

const app = document.getElementById("app");
start(app, (orgs) => render(app, orgs));
