// The weekly failure report: by root cause (error code), category, merchant and channel, each with
// last week's count beside it, and the week against the one before. Charts are inline SVG.
import { get, qs } from "../api.js";
import { h, fill } from "../dom.js";
import { t, label, msg } from "../i18n.js";
import { failure, spinner, pill, download } from "../util.js";
import { barChart, trendChart } from "../charts.js";

export function render(root) {
  const picker = h("select", { id: "week-pick", onchange: (e) => load(e.target.value) });
  const body = h("div", { id: "failures" }, spinner());
  root.append(h("div", { class: "page-head" }, h("h1", {}, t("failures.title")),
    h("label", { class: "inline" }, t("failures.week"), picker)), body);

  async function weeks() {
    try {
      const doc = await get("/api/failures/weeks");
      const list = (doc.weeks || doc.items || []).map((w) => (typeof w === "string" ? w : w.week)).filter(Boolean);
      fill(picker, list.map((w) => h("option", { value: w }, w)));
      picker.parentElement.hidden = !list.length;
    } catch { picker.parentElement.hidden = true; }
  }

  async function load(week) {
    fill(body, spinner());
    let doc;
    try { doc = await get(`/api/failures/weekly${qs({ week })}`); } catch (e) {
      if (e.status === 404 && e.body && e.body.code) { fill(body, h("div", { class: "empty", id: "failures-empty" }, t("failures.empty"))); return; }
      fill(body, e.status === 404 ? h("div", { class: "empty", id: "failures-empty" }, t("failures.empty")) : failure(e, "/api/failures/weekly"));
      return;
    }
    const r = doc.report || doc;
    if (!r || !r.week) { fill(body, h("div", { class: "empty", id: "failures-empty" }, t("failures.empty"))); return; }
    if (picker.value !== r.week) {
      if (![...picker.options].some((o) => o.value === r.week)) picker.prepend(h("option", { value: r.week }, r.week));
      picker.parentElement.hidden = false;
      picker.value = r.week;
    }
    const totals = r.totals || {};
    const change = (totals.change ?? ((totals.failures || 0) - (totals.previous || 0)));
    const rows = (list, key, fmt = (v) => v) => (list || []).slice(0, 10).map((x) => ({ label: fmt(x[key]), value: x.count, prev: x.previous }));
    const legend = h("div", { class: "legend" }, h("span", { class: "swatch now" }), t("failures.this_week"),
      h("span", { class: "swatch prev thin" }), t("failures.prev_week"));
    const trendPoints = [{ label: t("common.total"), value: totals.failures || 0, prev: totals.previous || 0 },
      ...(r.by_code || []).slice(0, 5).map((c) => ({ label: c.code, value: c.count, prev: c.previous }))];
    fill(body, 
      h("div", { class: "stats" },
        h("div", { class: "stat card" }, h("div", { class: "stat-value", id: "failures-total" }, String(totals.failures ?? 0)),
          h("div", { class: "muted" }, t("failures.total", { n: totals.failures ?? 0 }))),
        h("div", { class: "stat card" }, h("div", { class: `stat-value ${change > 0 ? "up" : change < 0 ? "down" : ""}` },
          `${change > 0 ? "▲ +" : change < 0 ? "▼ " : ""}${change}`), h("div", { class: "muted" }, t("failures.prev", { n: totals.previous ?? 0 }))),
        h("div", { class: "stat card" }, h("div", { class: "muted small" }, `${r.period ? `${(r.period.start || "").slice(0, 10)} – ${(r.period.end || "").slice(0, 10)}` : r.week}`),
          doc.xlsx_url ? h("button", { type: "button", id: "failures-xlsx", onclick: () => download(doc.xlsx_url) }, t("failures.xlsx")) : null)),
      h("div", { class: "charts" },
        h("section", { class: "card", id: "chart-trend" }, trendChart(trendPoints, { title: t("failures.trend"), names: [t("failures.this_week"), t("failures.prev_week")] })),
        h("section", { class: "card", id: "chart-code" }, barChart(rows(r.by_code, "code"), { title: t("failures.by_code"), legend })),
        h("section", { class: "card", id: "chart-category" }, barChart(rows(r.by_category, "category"), { title: t("failures.by_category"), legend: legend.cloneNode(true) })),
        h("section", { class: "card", id: "chart-merchant" }, barChart(rows(r.by_merchant, "merchant_id"), { title: t("failures.by_merchant"), legend: legend.cloneNode(true) })),
        h("section", { class: "card", id: "chart-channel" }, barChart(rows(r.by_channel, "channel", (c) => (c === "-" ? t("failures.no_channel") : label("channel", c))),
          { title: t("failures.by_channel"), legend: legend.cloneNode(true) }))),
      (r.by_code || []).length ? h("section", { class: "card" }, h("h2", {}, t("failures.examples")),
        h("table", { class: "table", id: "failure-examples" },
          h("thead", {}, h("tr", {}, ["portal.errors.code", "portal.errors.message", "common.total", "failures.examples"].map((k) => h("th", {}, t(k))))),
          h("tbody", {}, r.by_code.slice(0, 20).map((c) => h("tr", {},
            h("td", {}, h("code", {}, c.code)), h("td", {}, msg(c)),
            h("td", { class: "num" }, String(c.count), " ", c.change ? pill(`${c.change > 0 ? "+" : ""}${c.change}`, c.change > 0 ? "bad" : "good") : null),
            h("td", { class: "small" }, (c.examples || []).map((x) => h("div", {},
              `${x.merchant_id || ""} · ${x.spu_code || ""}${x.row ? ` · ${t("portal.errors.row")} ${x.row}` : ""}${x.column ? ` · ${x.column}` : ""}`)))))))) : null);
  }

  weeks().then(() => load(picker.value || ""));
}
