// Ops: dead-letter queue depths with a redrive button, and the settings (VIP audit rate, banned terms).
import { get, post, put } from "../api.js";
import { h, fill } from "../dom.js";
import { t, msg } from "../i18n.js";
import { failure, spinner } from "../util.js";

export function render(root, { toast }) {
  const dlq = h("div", { id: "dlq" }, spinner());
  const settings = h("div", { id: "settings" }, spinner());
  root.append(h("div", { class: "page-head" }, h("h1", {}, t("ops.title"))),
    h("div", { class: "grid-2" }, h("section", { class: "card" }, h("h2", {}, t("ops.dlq")), dlq),
      h("section", { class: "card" }, h("h2", {}, t("ops.settings")), settings)));

  async function redrive(queue) {
    try {
      const r = await post(`/api/ops/dlq/${encodeURIComponent(queue)}/redrive`);
      toast(t("ops.dlq.moved", { n: r.moved ?? 0 }), "ok");
    } catch (e) { toast(msg(e.body) || e.message, "error"); }
    loadDlq();
  }

  async function loadDlq() {
    let doc;
    try { doc = await get("/api/ops/dlq"); } catch (e) { fill(dlq, failure(e, "/api/ops/dlq")); return; }
    const rows = Object.entries(doc.depths || {});
    if (!rows.length) { fill(dlq, h("div", { class: "empty small" }, t("ops.dlq.empty"))); return; }
    fill(dlq, h("table", { class: "table" },
      h("thead", {}, h("tr", {}, h("th", {}, t("ops.dlq.queue")), h("th", { class: "num" }, t("ops.dlq.depth")), h("th", {}))),
      h("tbody", {}, rows.map(([q, n]) => h("tr", { dataset: { queue: q } },
        h("td", {}, h("code", {}, q)), h("td", { class: "num" }, String(n)),
        h("td", {}, h("button", { type: "button", class: "small", disabled: !n, onclick: () => redrive(q) }, t("ops.dlq.redrive"))))))));
  }

  async function save(name, value) {
    try {
      await put(`/api/settings/${encodeURIComponent(name)}`, { value });
      toast(t("common.saved"), "ok");
      loadSettings();
    } catch (e) { toast(msg(e.body) || e.message, "error"); }
  }

  async function loadSettings() {
    let doc;
    try { doc = await get("/api/settings"); } catch (e) { fill(settings, failure(e, "/api/settings")); return; }
    const rows = Object.entries(doc.settings || {}).map(([name, s]) => {
      const input = h("input", { id: `setting-${name}`, value: typeof s.value === "object" ? JSON.stringify(s.value) : String(s.value ?? "") });
      const parse = (v) => (v.trim() !== "" && !Number.isNaN(Number(v)) ? Number(v) : v);
      return h("div", { class: "setting" },
        h("label", { for: `setting-${name}` }, h("code", {}, name), name === "audit_sample_rate" ? ` · ${t("ops.settings.audit")}` : ""),
        s.about ? h("div", { class: "muted small" }, s.about) : null,
        h("div", { class: "row" }, input, h("button", { type: "button", onclick: () => save(name, parse(input.value)) }, t("common.save")),
          s.default !== undefined && s.default !== null ? h("span", { class: "muted small" }, t("ops.settings.default", { value: String(s.default) })) : null));
    });
    // the list in force, summed up; a new list is a whole document (data/banned_terms.json's format)
    const bt = doc.banned_terms || {};
    const summary = h("dl", { class: "kv small", id: "banned-summary" }, Object.entries(bt)
      .filter(([, v]) => v === null || typeof v !== "object").map(([k, v]) => [h("dt", {}, k), h("dd", {}, v === null ? "—" : String(v))]));
    const terms = h("textarea", { id: "banned-terms", rows: 6, class: "mono", spellcheck: "false", placeholder: '{"version": "...", "groups": [...]}' });
    const err = h("p", { class: "error" });
    fill(settings, rows,
      h("label", { for: "banned-terms" }, t("ops.settings.banned")), summary, terms, err,
      h("div", { class: "row" }, h("button", { type: "button", id: "save-banned", onclick: () => {
        let value;
        try { value = JSON.parse(terms.value); } catch (e) { err.textContent = t("ops.settings.json", { message: e.message }); return; }
        err.textContent = "";
        save("banned_terms", value);
      } }, t("common.save"))));
  }

  loadDlq();
  loadSettings();
}
