// Merchant portal: upload (presigned POST, real progress), batches with live progress by stage,
// a batch's errors with fix hints, the report download, listings and readiness per channel.
import { get, post, qs, uploadPresigned, ApiError } from "../api.js";
import { h, fill } from "../dom.js";
import { t, label, msg, hint } from "../i18n.js";
import { poll, when, failure, spinner, pill, download, clock } from "../util.js";

const SHEET = /\.(xlsx|xlsm|csv)$/i;
const STAGE_ORDER = ["uploaded", "validating", "needs_fix", "invalid", "valid", "in_review", "pre_review", "final_review",
  "approved", "rejected", "scheduled", "publishing", "published", "failed", "refused", "unchanged"];
const GOOD = new Set(["published", "approved", "settled", "done", "completed", "valid"]);
const BAD = new Set(["failed", "needs_fix", "rejected", "refused", "invalid"]);

export function render(root, { me, toast }) {
  const staff = me.role !== "merchant";
  let merchant = me.merchant_id || (me.merchants && me.merchants[0]) || "";
  let selected = null, lastDetailKey = "";
  const files = [];

  // --- header: the template, and for staff the merchant they act for
  const merchantPick = staff ? (me.role === "editor" && me.merchants && me.merchants.length
    ? h("select", { id: "merchant-pick", onchange: (e) => { merchant = e.target.value; refresh(); } },
      me.merchants.map((m) => h("option", { value: m }, m)))
    : h("input", { id: "merchant-pick", placeholder: t("portal.merchant.pick"), value: merchant,
      onchange: (e) => { merchant = e.target.value.trim(); refresh(); } })) : null;
  root.append(h("div", { class: "page-head" },
    h("h1", {}, t("portal.title")),
    staff ? h("label", { class: "inline" }, t("portal.merchant"), merchantPick) : null,
    h("button", { type: "button", id: "template", onclick: async () => {
      try { download((await get("/api/template")).url); } catch (e) { toast(e.message, "error"); }
    } }, t("portal.template"))));

  // --- upload
  const input = h("input", { type: "file", id: "file-input", multiple: true, class: "visually-hidden",
    accept: ".xlsx,.xlsm,.csv,.zip,image/*", onchange: (e) => { addFiles(e.target.files); e.target.value = ""; } });
  const list = h("ul", { class: "files", id: "files" });
  const overall = h("div", { class: "bar" }, h("div", { class: "fill", id: "overall-fill" }));
  const overallText = h("span", { class: "muted", id: "overall-text" });
  const startBtn = h("button", { type: "button", class: "primary", id: "upload-start", disabled: true, onclick: start }, t("portal.start"));
  const drop = h("div", { class: "drop", id: "drop", tabindex: 0,
    ondragover: (e) => { e.preventDefault(); drop.classList.add("over"); },
    ondragleave: () => drop.classList.remove("over"),
    ondrop: (e) => { e.preventDefault(); drop.classList.remove("over"); addFiles(e.dataTransfer.files); },
    onclick: () => input.click(),
    onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } } },
  h("div", { class: "drop-icon", "aria-hidden": "true" }, "⇪"),
  h("p", {}, t("portal.drop")),
  h("span", { class: "button" }, t("portal.choose")), input);
  root.append(h("section", { class: "card" }, h("h2", {}, t("portal.upload")), drop, list,
    h("div", { class: "upload-actions", id: "upload-actions", hidden: true }, overall, overallText, startBtn,
      h("button", { type: "button", class: "link", onclick: () => { files.length = 0; drawFiles(); } }, t("portal.clear")))));

  function addFiles(fileList) {
    for (const f of fileList) files.push({ file: f, progress: 0, state: "waiting", error: "" });
    drawFiles();
  }

  function drawFiles() {
    fill(list, files.map((f, i) => h("li", { class: `file ${f.state}`, dataset: { index: i } },
      h("span", { class: "file-name" }, f.file.name),
      h("span", { class: "file-size muted" }, `${(f.file.size / 1024).toFixed(1)} KB`),
      (() => { const bar = h("div", { class: "bar small" }, h("div", { class: "fill" })); bar.firstChild.style.width = `${Math.round(f.progress * 100)}%`; return bar; })(),
      h("span", { class: "file-state" }, f.state === "done" ? t("portal.file.done") : f.state === "failed"
        ? t("portal.file.failed", { message: f.error }) : f.state === "uploading"
          ? t("portal.file.uploading", { pct: Math.round(f.progress * 100) }) : t("portal.file.waiting")))));
    const total = files.reduce((s, f) => s + f.file.size, 0) || 1;
    const done = files.reduce((s, f) => s + f.file.size * f.progress, 0);
    overall.firstChild.style.width = `${Math.round((100 * done) / total)}%`;
    const done_ = files.filter((f) => f.state === "done").length;
    overallText.textContent = !files.length ? "" : done_ === files.length
      ? t("portal.files.done", { n: done_ }) : t("portal.files", { n: files.length - done_ });
    startBtn.disabled = !files.some((f) => f.state === "waiting" || f.state === "failed");
    startBtn.parentElement.hidden = !files.length;
  }

  async function start() {
    startBtn.disabled = true;
    // images and zips first: the sheet that names them arrives after them
    // one upload folder for the lot (a sheet beside its images): the first ticket names it
    const order = files.filter((f) => f.state !== "done").sort((a, b) => SHEET.test(a.file.name) - SHEET.test(b.file.name));
    let uploadId = null;
    for (const f of order) {
      f.state = "uploading"; f.progress = 0; drawFiles();
      try {
        const body = { filename: f.file.name };
        if (staff) body.merchant_id = merchant;
        if (uploadId) body.upload_id = uploadId;
        const presigned = await post("/api/uploads", body);
        uploadId = presigned.upload_id || uploadId;
        if (presigned.max_bytes && f.file.size > presigned.max_bytes) {
          throw new Error(t("portal.file.too_big", { mb: (presigned.max_bytes / 1048576).toFixed(0) }));
        }
        await uploadPresigned(presigned, f.file, (p) => { f.progress = p; drawFiles(); });
        f.state = "done";
      } catch (e) {
        f.state = "failed"; f.error = e instanceof ApiError ? msg(e.body) || e.message : e.message;
      }
      drawFiles();
    }
    refresh();
  }

  // --- batches, live
  const batchesBox = h("div", { id: "batches" }, spinner());
  const updated = h("span", { class: "muted small", id: "batches-updated" });
  const detail = h("section", { class: "card", id: "batch-detail", hidden: true });
  const notices = h("div", { id: "notices" });
  root.append(h("div", { class: "grid-2-1" },
    h("section", { class: "card" }, h("div", { class: "card-head" }, h("h2", {}, t("portal.batches")), updated), batchesBox),
    h("section", { class: "card" }, h("h2", {}, t("portal.notices")), notices)),
  detail);

  async function refresh() {
    const path = `/api/batches${qs({ merchant_id: staff ? merchant : "" })}`;
    if (staff && !merchant) { fill(batchesBox, h("div", { class: "empty" }, t("portal.merchant.pick"))); return; }
    let items;
    loadNotices();
    try { items = (await get(path)).items || []; } catch (e) { fill(batchesBox, failure(e, "/api/batches")); return; }
    updated.textContent = t("common.updated", { time: clock() });
    drawBatches(items);
    const sel = selected && items.find((b) => b.batch_id === selected);
    if (sel) {
      const key = JSON.stringify(sel);
      if (key !== lastDetailKey) { lastDetailKey = key; drawDetail(sel); }
    }
  }

  function drawBatches(items) {
    if (!items.length) { fill(batchesBox, h("div", { class: "empty" }, t("portal.batches.empty"))); return; }
    fill(batchesBox, h("table", { class: "table", id: "batch-table" },
      h("thead", {}, h("tr", {}, [t("portal.batch.file"), staff ? t("common.merchant") : null, t("common.created"),
        t("common.status"), t("portal.batch.progress"), t("portal.batch.products"), ""].filter((x) => x !== null).map((c) => h("th", {}, c)))),
      h("tbody", {}, items.map((b) => h("tr", { class: b.batch_id === selected ? "selected" : "", dataset: { batch: b.batch_id } },
        h("td", { class: "file-name" }, b.filename || b.batch_id),
        staff ? h("td", {}, b.merchant_id) : null,
        h("td", { class: "nowrap" }, when(b.created_at)),
        h("td", {}, pill(label("stage", b.status), statusKind(b.status))),
        h("td", { class: "progress-cell" }, stageBar(b.progress || {})),
        h("td", { class: "num" }, String(total(b))),
        h("td", {}, h("button", { type: "button", class: "small", onclick: () => { selected = b.batch_id; lastDetailKey = ""; refresh(); } },
          t("portal.batch.open"))))))));
  }

  async function drawDetail(b) {
    detail.hidden = false;
    const head = h("div", { class: "card-head" },
      h("h2", {}, t("portal.batch.title", { id: b.filename || b.batch_id })),
      h("button", { type: "button", class: "primary", id: "report-download", disabled: b.report_ready === false,
        title: b.report_ready === false ? t("portal.report.pending") : null, onclick: async (e) => {
        const btn = e.currentTarget; btn.disabled = true; btn.textContent = t("portal.report.busy");
        try {
          const links = await get(`/api/batches/${encodeURIComponent(b.batch_id)}/report`);
          download(links.xlsx_url || links.json_url);
        } catch (err) { toast(msg(err.body) || err.message, "error"); }
        btn.disabled = false; btn.textContent = t("portal.report");
      } }, t("portal.report")));
    fill(detail, head, spinner());
    let items;
    try { items = (await get(`/api/batches/${encodeURIComponent(b.batch_id)}/products`)).items || []; } catch (e) {
      fill(detail, head, failure(e, "/api/batches/{id}/products")); return;
    }
    const errors = items.flatMap((p) => (p.errors || []).map((e) => ({ ...e, spu: p.spu || p.spu_code })));
    const refused = b.rejection ? h("div", { class: "banner bad", id: "batch-rejection" },
      h("strong", {}, msg(b.rejection)), hint(b.rejection) ? h("div", {}, hint(b.rejection)) : null,
      h("code", { class: "small" }, b.rejection.code || "")) : null;
    fill(detail, head, refused,
      h("h3", {}, t("portal.errors"), " ", pill(String(errors.length), errors.length ? "bad" : "good")),
      errors.length ? h("div", { class: "scroll" }, h("table", { class: "table errors", id: "errors-table" },
        h("thead", {}, h("tr", {}, ["portal.errors.spu", "portal.errors.row", "portal.errors.column", "portal.errors.code",
          "portal.errors.message", "portal.errors.hint"].map((k) => h("th", {}, t(k))))),
        h("tbody", {}, errors.map((e) => h("tr", {},
          h("td", {}, e.spu || ""), h("td", { class: "num" }, e.row ?? ""), h("td", {}, e.column ?? ""),
          h("td", {}, h("code", {}, e.code || "")), h("td", {}, msg(e)), h("td", { class: "hint" }, hint(e)))))))
        : h("div", { class: "empty small" }, t("portal.errors.none")),
      h("h3", {}, t("portal.listings")), listingsTable(items),
      h("h3", {}, t("portal.readiness")), readinessTable(items));
  }

  async function loadNotices() {
    try {
      const doc = await get(`/api/notices${qs({ merchant_id: staff ? merchant : "" })}`);
      const items = (doc.items || []).slice(0, 8);
      fill(notices, items.length ? h("ul", { class: "notices" }, items.map((n) => h("li", {},
        h("div", {}, msg(n) || n.subject || n.batch_id || ""),
        h("div", { class: "muted small" }, when(n.at || n.created_at || n.sent_at)))))
        : h("div", { class: "empty small" }, t("portal.notices.none")));
    } catch (e) { fill(notices, failure(e, "/api/notices")); }
  }

  return poll(refresh, 3000);
}

function total(b) {
  const c = b.counts || {};
  return c.products_total ?? c.total ?? b.products_total ?? Object.values(b.progress || {}).reduce((s, n) => s + (Number(n) || 0), 0);
}

function statusKind(s) { return GOOD.has(s) ? "good" : BAD.has(s) ? "bad" : "busy"; }

/** A bar split by stage, each part as wide as its share of the batch's products. */
export function stageBar(progress) {
  const entries = Object.entries(progress).filter(([, n]) => Number(n) > 0)
    .sort(([a], [b]) => (STAGE_ORDER.indexOf(a) >>> 0) - (STAGE_ORDER.indexOf(b) >>> 0));
  const sum = entries.reduce((s, [, n]) => s + Number(n), 0);
  const bar = h("div", { class: "stagebar" });
  for (const [stage, n] of entries) {
    const part = h("span", { class: `seg seg-${statusKind(stage)}`, title: `${label("stage", stage)}: ${n}` });
    part.style.flexGrow = String(n);
    bar.append(part);
  }
  return h("div", {}, bar, h("div", { class: "stage-legend muted small" },
    entries.map(([stage, n]) => h("span", {}, `${label("stage", stage)} ${n}`)), sum ? null : t("common.none")));
}

function listingsTable(items) {
  const rows = items.flatMap((p) => Object.entries(p.listings || {}).map(([ch, l]) => ({ p, ch, l })));
  if (!rows.length) return h("div", { class: "empty small" }, t("portal.listings.none"));
  return h("table", { class: "table", id: "listings-table" },
    h("thead", {}, h("tr", {}, ["portal.product", "portal.channel", "portal.state", "portal.reason"].map((k) => h("th", {}, t(k))))),
    h("tbody", {}, rows.map(({ p, ch, l }) => h("tr", {},
      h("td", {}, h("div", {}, p.title || ""), h("div", { class: "muted small" }, p.spu || p.spu_code || "")),
      h("td", {}, label("channel", ch)),
      h("td", {}, pill(label("stage", l.state), statusKind(l.state))),
      h("td", {}, typeof l.reason === "object" ? msg(l.reason) : (l.reason || ""))))));
}

function readinessTable(items) {
  const channels = [...new Set(items.flatMap((p) => Object.keys(p.readiness || {})))].sort();
  if (!channels.length) return h("div", { class: "empty small" }, t("common.none"));
  return h("table", { class: "table", id: "readiness-table" },
    h("thead", {}, h("tr", {}, h("th", {}, t("portal.product")), channels.map((c) => h("th", {}, label("channel", c))))),
    h("tbody", {}, items.map((p) => h("tr", {},
      h("td", {}, h("div", {}, p.title || ""), h("div", { class: "muted small" }, p.spu || p.spu_code || "")),
      channels.map((c) => {
        const r = (p.readiness || {})[c];
        if (!r) return h("td", {}, "—");
        const findings = (r.findings || []).map((f) => (typeof f === "string" ? f : msg(f)));
        return h("td", { title: findings.join("\n") },
          pill(r.ready ? t("portal.ready") : t("portal.notready"), r.ready ? "good" : "bad"),
          findings.length ? h("div", { class: "muted small" }, findings.slice(0, 2).join("；")) : null);
      })))));
}
