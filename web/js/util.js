// Small shared pieces of the pages: polling, ages, times, the "not available" and error states.
import { h } from "./dom.js";
import { t, getLang } from "./i18n.js";

/** Call fn now and every ms while the page is shown; returns stop(). Never two calls at once. */
export function poll(fn, ms) {
  let stopped = false, timer = null;
  const tick = async () => {
    if (stopped) return;
    if (!document.hidden) { try { await fn(); } catch { /* the page shows its own error */ } }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}

export function age(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  if (s < 60) return t("age.s", { n: s });
  if (s < 3600) return t("age.m", { n: Math.floor(s / 60) });
  if (s < 86400) return t("age.h", { n: Math.floor(s / 3600) });
  return t("age.d", { n: Math.floor(s / 86400) });
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(getLang() === "zh" ? "zh-CN" : "en-GB", { dateStyle: "short", timeStyle: "short" });
}

export function clock() {
  return new Date().toLocaleTimeString(getLang() === "zh" ? "zh-CN" : "en-GB");
}

/** The state a block shows when its call failed: a missing route says so, anything else is an error. */
export function failure(err, path) {
  if (err && err.unavailable) return h("div", { class: "empty unavailable" }, t("common.unavailable", { path }));
  return h("p", { class: "error" }, t("common.error", { message: err ? err.message : "?" }));
}

export function spinner() { return h("p", { class: "muted loading" }, t("common.loading")); }

export function pill(text, kind) { return h("span", { class: `pill ${kind || ""}` }, text); }

/** A download through a presigned URL: an anchor click, so the browser's own download runs. */
export function download(url) {
  const a = h("a", { href: url, download: "", class: "hidden-link" });
  document.body.append(a);
  a.click();
  a.remove();
}
