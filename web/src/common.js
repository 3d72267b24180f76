// What every page shares: the token gate, API calls, DOM building and formatting.
// Data is only ever put into the page as text (never as HTML), so nothing a replay holds
// can run as script here.

const TOKEN_KEY = "replaystore.token";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

/** Whether the server wants a bearer token ("token") or runs without auth ("none"). */
export function authMode() {
  const meta = document.querySelector('meta[name="replaystore-auth"]');
  return meta ? meta.content : "token";
}

export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** `el("a", {href: "/"}, "text", child)`: an element with attributes and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function headers(token) {
  const out = { Accept: "application/json" };
  if (token) out.Authorization = `Bearer ${token}`;
  return out;
}

/** Build `/api/0/...?params`; array values repeat the parameter. */
export function apiUrl(path, params = {}) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null && item !== "") search.append(key, item);
    }
  }
  const query = search.toString();
  return `/api/0${path}${query ? `?${query}` : ""}`;
}

let onUnauthorized = () => {};

/** GET/DELETE an API route: `{data, link}`; an ApiError carrying the API's `detail` otherwise. */
export async function api(path, params = {}, { method = "GET", raw = false } = {}) {
  const response = await fetch(apiUrl(path, params), {
    method,
    headers: headers(storedToken()),
    credentials: "omit",
  });
  if (response.status === 401) {
    forgetToken();
    onUnauthorized();
  }
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      detail = (await response.json()).detail ?? detail;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(response.status, detail);
  }
  const link = parseLink(response.headers.get("Link"));
  if (response.status === 204) return { data: null, link };
  return { data: raw ? await response.text() : await response.json(), link };
}

/** Sentry's Link header -> {previous, next}: each `{cursor, results}`. */
export function parseLink(value) {
  const out = {};
  for (const part of (value || "").split(/,\s*(?=<)/)) {
    const rel = /rel="(\w+)"/.exec(part);
    const cursor = /cursor="([^"]*)"/.exec(part);
    const results = /results="(\w+)"/.exec(part);
    if (rel && cursor) out[rel[1]] = { cursor: cursor[1], results: results?.[1] === "true" };
  }
  return out;
}

/** The organizations this visitor may read; asks for a token first when auth is on. */
export async function start(app, render) {
  onUnauthorized = () => location.reload();
  if (authMode() === "token" && !storedToken()) {
    showTokenForm(app, render);
    return;
  }
  try {
    const { data } = await api("/organizations/");
    await render(data);
  } catch (error) {
    if (error.status === 401) return; // the reload shows the token form
    app.replaceChildren(el("p", { class: "error", role: "alert" }, error.message));
  }
}

function showTokenForm(app, render) {
  const input = el("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "off",
    required: true,
    placeholder: "bearer token from `replaystore token add`",
  });
  const message = el("p", { id: "token-error", class: "error", role: "alert" });
  const form = el(
    "form",
    {
      id: "token-form",
      class: "token-form",
      onsubmit: async (event) => {
        event.preventDefault();
        message.textContent = "";
        const token = input.value.trim();
        const response = await fetch(apiUrl("/organizations/"), {
          headers: headers(token),
          credentials: "omit",
        });
        if (!response.ok) {
          message.textContent =
            response.status === 401 ? "This token is not valid here." : `Error ${response.status}`;
          return;
        }
        sessionStorage.setItem(TOKEN_KEY, token);
        app.replaceChildren();
        await render(await response.json());
      },
    },
    el("h1", {}, "replaystore"),
    el("label", { for: "token" }, "API token"),
    input,
    el("button", { type: "submit" }, "Open"),
    message,
    el("p", { class: "hint" }, "The token is kept in this browser tab only (session storage)."),
  );
  app.replaceChildren(form);
  input.focus();
}

/** The page header: navigation, the organization and (with auth) a way to drop the token. */
export function header(active, org) {
  const link = (href, text, name) =>
    el("a", { href: withOrg(href, org), class: active === name ? "active" : null }, text);
  return el(
    "header",
    { class: "top" },
    el("a", { class: "brand", href: withOrg("/", org) }, "replaystore"),
    el("nav", {}, link("/", "Replays", "list"), link("/selectors/", "Dead & rage selectors", "selectors")),
    el("span", { class: "org" }, org ? `organization ${org}` : ""),
    authMode() === "token"
      ? el("button", { type: "button", class: "link", id: "forget-token", onclick: () => {
          forgetToken();
          location.reload();
        } }, "Forget token")
      : el("span", { class: "hint" }, "no auth (loopback)"),
  );
}

export function withOrg(href, org) {
  if (!org) return href;
  const url = new URL(href, location.origin);
  url.searchParams.set("org", org);
  return url.pathname + url.search;
}

/** The organization named in `?org=`, else the first one readable. */
export function pickOrg(orgs) {
  const wanted = new URLSearchParams(location.search).get("org");
  const slugs = orgs.map((o) => o.slug);
  return slugs.includes(wanted) ? wanted : slugs[0];
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

/** A playback position as m:ss, cut to the second as rrweb-player's own clock shows it. */
export function formatClock(ms) {
  return formatDuration(Math.floor(Math.max(0, ms) / 1000));
}

export function formatTime(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return date.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

/** The time-range parameters of the current URL, to carry from the list into the player. */
export function timeParams(search = location.search) {
  const params = new URLSearchParams(search);
  const out = {};
  for (const key of ["statsPeriod", "start", "end"]) {
    if (params.get(key)) out[key] = params.get(key);
  }
  return out;
}
