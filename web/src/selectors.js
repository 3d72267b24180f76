// GET /selectors/ : the elements with the most dead and rage clicks (replay-selectors route),
// each linking to the replays with dead or rage clicks on it.
import { api, el, header, pickOrg, start } from "./common.js";

const PERIODS = ["24h", "7d", "14d", "30d", "90d"];
const PAGE_SIZE = 50;

function state() {
  const params = new URLSearchParams(location.search);
  return {
    statsPeriod: params.get("statsPeriod") || "7d",
    project: params.get("project") || "",
    sort: params.get("sort") === "-count_rage_clicks" ? "-count_rage_clicks" : "-count_dead_clicks",
    cursor: params.get("cursor") || "",
  };
}

function go(org, changes) {
  const params = new URLSearchParams({ ...state(), cursor: "", ...changes, org });
  for (const [key, value] of [...params]) if (!value) params.delete(key);
  history.pushState(null, "", `/selectors/?${params}`);
  window.dispatchEvent(new Event("popstate"));
}

// A click.selector the search language accepts (dom_element uses display names, extra §2.5).
function searchSelector(element) {
  let out = element.tag || "*";
  if (element.id) out += `#${element.id}`;
  for (const cls of element.class || []) out += `.${cls}`;
  const attrs = [
    ["role", element.role],
    ["alt", element.alt],
    ["data-testid", element.testid],
    ["aria-label", element.aria_label],
    ["title", element.title],
  ];
  for (const [name, value] of attrs) if (value) out += `[${name}='${value.replaceAll("'", "\\'")}']`;
  return out;
}

function replaysLink(org, item, kind, current) {
  const selector = searchSelector(item.element).replaceAll('"', '\\"');
  const params = new URLSearchParams({
    org,
    query: `${kind}.selector:"${selector}"`,
    statsPeriod: current.statsPeriod,
    project: String(item.project_id),
  });
  return `/?${params}`;
}

// A count cell, linking to the replays with such clicks on the element (when there are any).
function count(org, item, kind, current) {
  const n = item[`count_${kind}_clicks`];
  const cls = `num ${kind === "dead" ? "warn" : "bad"}`;
  return el("td", { class: cls }, n ? el("a", { href: replaysLink(org, item, kind, current) }, n) : n);
}

async function render(app, orgs) {
  const org = pickOrg(orgs);
  const { data: projects } = await api(`/organizations/${org}/projects/`);
  const slugs = new Map(projects.map((p) => [Number(p.id), p.slug]));
  const show = async () => {
    const current = state();
    const controls = el(
      "form",
      { class: "filters", onsubmit: (e) => e.preventDefault() },
      el(
        "div",
        { class: "filter-row" },
        el(
          "select",
          { id: "period", "aria-label": "time range", onchange: (e) => go(org, { statsPeriod: e.target.value }) },
          PERIODS.map((p) => el("option", { value: p, selected: p === current.statsPeriod }, `last ${p}`)),
        ),
        el(
          "select",
          { id: "project", "aria-label": "project", onchange: (e) => go(org, { project: e.target.value }) },
          el("option", { value: "" }, "all projects"),
          projects.map((p) => el("option", { value: p.id, selected: p.id === current.project }, p.slug)),
        ),
        el(
          "select",
          { id: "sort", "aria-label": "sort", onchange: (e) => go(org, { sort: e.target.value }) },
          el("option", { value: "-count_dead_clicks", selected: current.sort === "-count_dead_clicks" }, "most dead clicks"),
          el("option", { value: "-count_rage_clicks", selected: current.sort === "-count_rage_clicks" }, "most rage clicks"),
        ),
      ),
    );
    const results = el("div", { id: "results", "aria-busy": "true" });
    app.replaceChildren(
      header("selectors", org),
      el("main", {}, el("h1", {}, "Dead and rage click selectors"), controls, results),
    );
    try {
      const { data, link } = await api(`/organizations/${org}/replay-selectors/`, {
        query: "!count_dead_clicks:0",
        sort: current.sort,
        statsPeriod: current.statsPeriod,
        project: current.project,
        per_page: PAGE_SIZE,
        cursor: current.cursor,
      });
      const rows = data.data.map((item) =>
        el(
          "tr",
          {},
          el("td", { class: "selector" }, el("code", {}, item.dom_element)),
          el("td", {}, slugs.get(Number(item.project_id)) || item.project_id),
          count(org, item, "dead", current),
          count(org, item, "rage", current),
        ),
      );
      const pager = el(
        "div",
        { class: "pager" },
        el("button", { type: "button", disabled: !link.previous?.results, onclick: () => go(org, { ...current, cursor: link.previous.cursor }) }, "← Previous"),
        el("button", { type: "button", disabled: !link.next?.results, onclick: () => go(org, { ...current, cursor: link.next.cursor }) }, "Next →"),
      );
      results.replaceChildren(
        rows.length
          ? el(
              "table",
              { class: "replays", id: "selectors" },
              el("thead", {}, el("tr", {}, el("th", {}, "Element"), el("th", {}, "Project"), el("th", {}, "Dead clicks"), el("th", {}, "Rage clicks"))),
              el("tbody", {}, rows),
            )
          : el("p", { class: "empty" }, "No dead clicks in this time range."),
        pager,
      );
    } catch (error) {
      results.replaceChildren(
        el("p", { class: "error", role: "alert" }, error.status === 404 ? "This server has no selectors route." : error.message),
      );
    } finally {
      results.setAttribute("aria-busy", "false");
    }
  };
  window.addEventListener("popstate", show);
  await show();
}

const app = document.getElementById("app");
start(app, (orgs) => render(app, orgs));
