// Kanban: one column per stage from GET /api/board, a card per batch or product with merchant,
// owner, age and the blocker's reason; live refresh; filters by merchant, category, channel, owner.
import { get, qs } from "../api.js";
import { h, fill } from "../dom.js";
import { t, label, msg } from "../i18n.js";
import { poll, age, failure, spinner, clock } from "../util.js";

export const COLUMNS = ["uploaded", "validating", "needs_fix", "pre_review", "final_review", "scheduled", "publishing",
  "published", "failed"];
const CHANNELS = ["own_shop", "wechat", "douyin"];

export function render(root) {
  const filters = { merchant_id: "", category: "", channel: "", owner: "" };
  const seen = { merchant_id: new Set(), category: new Set(), owner: new Set() };
  const lists = {};
  for (const k of Object.keys(seen)) lists[k] = h("datalist", { id: `dl-${k}` });
  const field = (key, labelKey) => h("label", { class: "inline" }, t(labelKey),
    h("input", { id: `filter-${key}`, list: `dl-${key}`, value: filters[key], size: 12,
      onchange: (e) => { filters[key] = e.target.value.trim(); refresh(); } }));
  const channel = h("select", { id: "filter-channel", onchange: (e) => { filters.channel = e.target.value; refresh(); } },
    h("option", { value: "" }, t("common.all")), CHANNELS.map((c) => h("option", { value: c }, label("channel", c))));
  const updated = h("span", { class: "muted small live", id: "board-updated" });
  const count = h("span", { class: "muted small", id: "board-count" });
  root.append(h("div", { class: "page-head" }, h("h1", {}, t("board.title")), count, updated),
    h("form", { class: "filters card", id: "board-filters", onsubmit: (e) => { e.preventDefault(); refresh(); } },
      field("merchant_id", "board.filter.merchant"), field("category", "board.filter.category"),
      h("label", { class: "inline" }, t("board.filter.channel"), channel), field("owner", "board.filter.owner"),
      h("button", { type: "button", class: "link", onclick: () => {
        for (const k of Object.keys(filters)) filters[k] = "";
        root.querySelectorAll(".filters input, .filters select").forEach((el) => { el.value = ""; });
        refresh();
      } }, t("board.filter.reset")), Object.values(lists)));
  const boardEl = h("div", { class: "board", id: "board" }, spinner());
  root.append(boardEl);

  async function refresh() {
    let doc;
    try { doc = await get(`/api/board${qs(filters)}`); } catch (e) { fill(boardEl, failure(e, "/api/board")); return; }
    const cols = doc.columns || {};
    let n = 0;
    fill(boardEl, COLUMNS.map((c) => {
      const cards = cols[c] || [];
      n += cards.length;
      return h("section", { class: `column col-${c}`, dataset: { column: c } },
        h("header", {}, h("span", {}, label("stage", c)), h("span", { class: "count" }, String(cards.length))),
        cards.length ? cards.map(card) : h("div", { class: "empty small" }, t("board.empty")));
    }));
    for (const cards of Object.values(cols)) for (const c of cards) {
      if (c.merchant_id) seen.merchant_id.add(c.merchant_id);
      if (c.category) seen.category.add(c.category);
      if (c.owner) seen.owner.add(c.owner);
    }
    for (const [k, set] of Object.entries(seen)) fill(lists[k], [...set].sort().map((v) => h("option", { value: v })));
    count.textContent = t("board.cards", { n });
    updated.textContent = `● ${t("board.live")} · ${t("common.updated", { time: clock() })}`;
  }
  return poll(refresh, 4000);
}

function card(c) {
  const blocker = c.blocker ? (typeof c.blocker === "object" ? msg(c.blocker) : String(c.blocker)) : "";
  return h("article", { class: `kcard kind-${c.kind}${blocker ? " blocked" : ""}`, dataset: { id: c.id || "" } },
    h("div", { class: "kcard-top" },
      h("span", { class: "kind" }, label("board.kind", c.kind)),
      h("span", { class: "age muted small" }, age(c.age_s))),
    h("div", { class: "kcard-title" }, c.title || c.spu || c.id || ""),
    h("div", { class: "kcard-meta small" }, c.merchant_id || ""),
    c.spu ? h("div", { class: "kcard-meta small muted" }, c.spu) : null,
    h("div", { class: "kcard-meta small muted" }, `${t("common.owner")}: ${c.owner || "—"}`),
    blocker ? h("div", { class: "blocker small" }, t("board.blocker", { reason: blocker })) : null);
}
