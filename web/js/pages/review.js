// Review desk: the queue, claim, the buyer's view of the detail page (mobile and PC), the automated
// findings, approve / reject with reason codes. Keys: j/k move, c claim, a approve, r reject, ? help.
import { get, post, qs } from "../api.js";
import { h, fill } from "../dom.js";
import { t, label, msg, hint } from "../i18n.js";
import { poll, when, failure, spinner, pill } from "../util.js";
import { getLang } from "../i18n.js";

export const REASONS = ["REVIEW_TITLE_MISLEADING", "REVIEW_IMAGE_QUALITY", "REVIEW_PRICE_SUSPICIOUS",
  "REVIEW_CATEGORY_WRONG", "REVIEW_PROHIBITED", "REVIEW_DESCRIPTION_INCOMPLETE"];

export function render(root, { me, toast }) {
  let stage = "pre", tasks = [], index = -1, preview = null, busy = false, device = "mobile";
  const titles = new Map();         // task id -> product title, once its preview has been read
  const tabs = h("div", { class: "tabs", role: "tablist" }, ["pre", "final"].map((s) => h("button", {
    type: "button", role: "tab", id: `tab-${s}`, class: s === stage ? "active" : "",
    onclick: () => { stage = s; index = -1; tabs.querySelectorAll("button").forEach((b) => b.classList.toggle("active", b.id === `tab-${s}`)); load(); },
  }, t(`review.stage.${s}`))));
  const queue = h("ol", { class: "queue", id: "queue" }, spinner());
  const pane = h("section", { class: "card review-pane", id: "review-pane" }, h("div", { class: "empty" }, t("review.pick")));
  const help = h("div", { class: "overlay", id: "help", hidden: true },
    h("div", { class: "card dialog" }, h("h2", {}, t("review.help")),
      h("dl", { class: "keys" }, [["j", "review.help.j"], ["k", "review.help.k"], ["c", "review.help.c"], ["a", "review.help.a"],
        ["r", "review.help.r"], ["?", "review.help.q"], ["Esc", "review.help.esc"]].map(([k, d]) => [h("dt", {}, h("kbd", {}, k)), h("dd", {}, t(d))])),
      h("button", { type: "button", onclick: () => { help.hidden = true; } }, t("common.close"))));
  const dialog = h("div", { class: "overlay", id: "reject-dialog", hidden: true });
  root.append(h("div", { class: "page-head" }, h("h1", {}, t("review.title")),
    h("button", { type: "button", class: "link", id: "help-button", onclick: () => { help.hidden = !help.hidden; } }, `? ${t("review.help")}`)),
  h("div", { class: "review" }, h("aside", { class: "card queue-card" }, h("h2", {}, t("review.queue")), tabs, queue), pane), help, dialog);

  async function load() {
    let open, mine;
    try {
      [open, mine] = await Promise.all([
        get(`/api/review/tasks${qs({ stage, state: "open" })}`),
        get(`/api/review/tasks${qs({ stage, assignee: "me" })}`),
      ]);
    } catch (e) { fill(queue, failure(e, "/api/review/tasks")); return; }
    const current = tasks[index] && tasks[index].task_id;
    const byId = new Map();
    for (const x of [...((mine.tasks || mine.items || []).filter((x) => x.stage === stage && x.state === "claimed")),
      ...(open.tasks || open.items || [])]) byId.set(x.task_id, x);
    tasks = [...byId.values()];
    index = tasks.findIndex((x) => x.task_id === current);
    if (index < 0 && tasks.length && current === undefined) index = -1;
    drawQueue();
  }

  function drawQueue() {
    if (!tasks.length) { fill(queue, h("li", { class: "empty" }, t("review.empty"))); return; }
    fill(queue, tasks.map((x, i) => h("li", { class: `task${i === index ? " current" : ""}`, dataset: { task: x.task_id },
      onclick: () => select(i) },
    h("div", { class: "task-title" }, titles.get(x.task_id) || x.title || x.spu_code || x.spu || x.task_id),
    h("div", { class: "muted small" }, `${x.merchant_id || ""} · ${x.spu_code || x.spu || ""}`),
    h("div", { class: "small" }, x.state === "claimed"
      ? pill(x.assignee === me.id || x.assignee === me.username ? t("review.claimed.me") : t("review.claimed", { who: x.assignee }), "busy")
      : pill(t("review.open"), ""), x.sla_deadline ? h("span", { class: "muted" }, ` ${t("review.sla", { time: when(x.sla_deadline) })}`) : null))));
  }

  async function select(i) {
    if (i < 0 || i >= tasks.length) return;
    index = i;
    drawQueue();
    const el = queue.children[i];
    if (el && el.scrollIntoView) el.scrollIntoView({ block: "nearest" });
    const task = tasks[i];
    fill(pane, spinner());
    try { preview = await get(`/api/review/tasks/${encodeURIComponent(task.task_id)}/preview`); } catch (e) {
      preview = null; fill(pane, failure(e, "/api/review/tasks/{id}/preview")); return;
    }
    if (preview && preview.product && preview.product.title) titles.set(task.task_id, preview.product.title);
    // the queue may have been re-read meanwhile (new objects): the task is the same by its id
    if (tasks[index] && tasks[index].task_id === task.task_id) { drawQueue(); drawPane(tasks[index]); }
  }

  function drawPane(task) {
    const p = (preview && preview.product) || {};
    const findings = (preview && preview.findings) || task.findings || [];
    const claimedByMe = task.state === "claimed" && (task.assignee === me.id || task.assignee === me.username);
    const frame = (which) => {
      const url = preview && (which === "mobile" ? preview.mobile_url : preview.pc_url);
      if (!url) {       // not rendered yet (the final stage's checks write it): the same page, drawn here
        return p.title || p.skus ? buyerView(p, (preview && preview.images) || [], which)
          : h("div", { class: "empty small" }, t("review.preview.none"));
      }
      // sandboxed: the preview is merchant content, it runs no script and reaches nothing of ours
      return h("div", { class: `device device-${which}` }, h("iframe", { src: url, sandbox: "", title: `${which} preview`, id: `preview-${which}` }));
    };
    const frames = h("div", { class: "frames" }, frame(device));
    const deviceTabs = h("div", { class: "tabs" }, ["mobile", "pc"].map((d) => h("button", { type: "button", class: d === device ? "active" : "",
      id: `device-${d}`, onclick: () => { device = d; drawPane(task); } }, t(`review.preview.${d}`))));
    fill(pane, 
      h("div", { class: "card-head" },
        h("div", {}, h("h2", { id: "task-title" }, p.title || task.spu_code || task.task_id),
          h("div", { class: "muted small" }, `${task.merchant_id || ""} · ${task.spu_code || ""} · ${t(`review.stage.${task.stage}`) || task.stage}`
            + (p.category ? ` · ${p.category}` : ""))),
        h("div", { class: "actions" },
          h("button", { type: "button", id: "claim", disabled: task.state === "claimed" || busy, onclick: claim }, t("review.claim")),
          h("button", { type: "button", class: "good", id: "approve", disabled: busy || (task.state === "claimed" && !claimedByMe), onclick: approve }, t("review.approve")),
          h("button", { type: "button", class: "bad", id: "reject", disabled: busy || (task.state === "claimed" && !claimedByMe), onclick: openReject }, t("review.reject")))),
      h("div", { class: "review-body" },
        h("div", {}, h("h3", {}, t("review.preview")), deviceTabs, frames,
          (preview && preview.images && preview.images.length) ? [h("h3", {}, t("review.images")),
            h("div", { class: "thumbs" }, preview.images.slice(0, 12).map((u) => h("img", { src: u, alt: "", loading: "lazy" })))] : null),
        h("div", {}, h("h3", {}, t("review.findings")),
          findings.length ? h("ul", { class: "findings", id: "findings" }, findings.map((f) => h("li", { class: `finding ${f.severity || ""}` },
            h("code", {}, f.code || ""), " ", msg(f), hint(f) ? h("div", { class: "muted small" }, hint(f)) : null)))
            : h("div", { class: "empty small", id: "findings" }, t("review.findings.none")))));
  }

  async function act(fn) {
    if (busy || index < 0) return;
    busy = true;
    try { await fn(tasks[index]); } catch (e) { toast(msg(e.body) || e.body.error || e.message, "error"); }
    busy = false;
    const task = tasks[index];
    if (task && preview && (preview.task_id || task.task_id) === task.task_id) drawPane(task);
  }

  async function doClaim(task) {
    const r = await post(`/api/review/tasks/${encodeURIComponent(task.task_id)}/claim`);
    task.state = r.state || "claimed";
    task.assignee = r.assignee || me.id;
  }

  function claim() { return act(async (task) => { await doClaim(task); drawQueue(); }); }

  async function decide(task, decision, reasons = [], note = "") {
    if (task.state !== "claimed") await doClaim(task);
    await post(`/api/review/tasks/${encodeURIComponent(task.task_id)}/decision`, { decision, reasons, note });
    toast(t("review.decided", { decision: t(`review.decision.${decision}`), spu: task.spu_code || task.task_id }), "ok");
    tasks.splice(index, 1);
    if (index >= tasks.length) index = tasks.length - 1;
    drawQueue();
    if (index >= 0) select(index); else fill(pane, h("div", { class: "empty" }, t("review.empty")));
  }

  function approve() { return act((task) => decide(task, "approve")); }

  function openReject() {
    if (index < 0) return;
    const task = tasks[index];
    const codes = [...new Set([...REASONS, ...((preview && preview.findings) || task.findings || []).map((f) => f.code).filter(Boolean)])];
    const boxes = codes.map((c, i) => h("label", { class: "reason" },
      h("input", { type: "checkbox", value: c, name: "reason", dataset: { key: String(i + 1) } }),
      h("kbd", {}, String(i + 1)), " ", label("reason", c), h("code", { class: "muted small" }, ` ${c}`)));
    const note = h("textarea", { id: "reject-note", rows: 2, maxlength: 2000 });
    const err = h("p", { class: "error" });
    const confirm = async () => {
      const reasons = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
      if (!reasons.length && !note.value.trim()) { err.textContent = t("review.reasons"); return; }
      dialog.hidden = true;
      await act((tk) => decide(tk, "reject", reasons, note.value.trim()));
    };
    fill(dialog, h("form", { class: "card dialog", onsubmit: (e) => { e.preventDefault(); confirm(); } },
      h("h2", {}, t("review.reject")), h("p", { class: "muted" }, t("review.reasons")),
      h("div", { class: "reasons" }, boxes), h("label", { for: "reject-note" }, t("review.note")), note, err,
      h("div", { class: "actions" }, h("button", { type: "submit", class: "bad", id: "reject-confirm" }, t("review.confirm")),
        h("button", { type: "button", onclick: () => { dialog.hidden = true; } }, t("review.cancel")))));
    dialog.hidden = false;
    boxes[0].querySelector("input").focus();
  }

  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName) && e.target.type !== "checkbox";
    if (e.key === "Escape") { dialog.hidden = true; help.hidden = true; return; }
    if (!dialog.hidden) {
      if (!typing && /^[1-9]$/.test(e.key)) {
        const box = dialog.querySelector(`input[data-key="${e.key}"]`);
        if (box) { box.checked = !box.checked; e.preventDefault(); }
      } else if (e.key === "Enter" && e.target.tagName !== "TEXTAREA") {
        e.preventDefault(); dialog.querySelector("form").requestSubmit();
      }
      return;
    }
    if (typing) return;
    const k = e.key;
    if (k === "j") select(Math.min(tasks.length - 1, index + 1));
    else if (k === "k") select(Math.max(0, index - 1));
    else if (k === "c") claim();
    else if (k === "a") approve();
    else if (k === "r") openReject();
    else if (k === "?") help.hidden = !help.hidden;
    else return;
    e.preventDefault();
  }
  document.addEventListener("keydown", onKey);

  // keep the lease of the task I hold while it is on screen
  const beat = setInterval(() => {
    const task = tasks[index];
    if (task && task.state === "claimed") post(`/api/review/tasks/${encodeURIComponent(task.task_id)}/heartbeat`).catch(() => {});
  }, 60000);
  const stop = poll(load, 5000);
  return () => { stop(); clearInterval(beat); document.removeEventListener("keydown", onKey); };
}

const yuan = (fen) => (fen == null ? "" : `¥${(Number(fen) / 100).toFixed(2)}`);

/** The product page as a buyer sees it, from the product's own data and images (text nodes only). */
function buyerView(p, images, device) {
  const skus = p.skus || [];
  const prices = skus.map((s) => s.promo_price_fen ?? s.price_fen).filter((x) => x != null);
  const low = prices.length ? Math.min(...prices) : null, high = prices.length ? Math.max(...prices) : null;
  const market = skus.map((s) => s.market_price_fen).find((x) => x != null);
  const gallery = h("div", { class: "bv-gallery" }, images.slice(0, device === "mobile" ? 1 : 5).map((u, i) =>
    h("img", { src: u, alt: "", class: i === 0 ? "bv-hero" : "bv-thumb" })));
  const info = h("div", { class: "bv-info" },
    h("div", { class: "bv-price" }, low == null ? "" : low === high ? yuan(low) : `${yuan(low)} – ${yuan(high)}`,
      market != null ? h("s", { class: "muted small" }, ` ${yuan(market)}`) : null),
    h("div", { class: "bv-title" }, p.title || ""),
    p.brand ? h("div", { class: "muted small" }, p.brand) : null,
    h("div", { class: "bv-skus" }, skus.slice(0, 12).map((s) => h("span", { class: "bv-sku" },
      Object.values(s.spec || {}).join(" / ") || s.sku_code))),
    h("button", { type: "button", class: "bv-buy", tabindex: -1 }, getLang() === "zh" ? "立即购买" : "Buy now"));
  return h("div", { class: `device device-${device} buyer`, id: `preview-${device}` },
    h("div", { class: `bv bv-${device}` }, gallery, info));
}
