// The shell: sign-in, the role's navigation, a hash router, the language switch.
import { get, session, setUnauthorizedHandler, ApiError } from "./api.js";
import { h, clear, fill } from "./dom.js";
import { t, getLang, setLang, label } from "./i18n.js";
import * as signin from "./pages/signin.js";
import * as portal from "./pages/portal.js";
import * as board from "./pages/board.js";
import * as review from "./pages/review.js";
import * as failures from "./pages/failures.js";
import * as ops from "./pages/ops.js";

// Which roles see which page. The API enforces the same rules; this only hides what would be refused.
export const PAGES = [
  { id: "portal", roles: ["merchant", "editor", "ops"], mod: portal },
  { id: "board", roles: ["editor", "reviewer", "ops"], mod: board },
  { id: "review", roles: ["reviewer", "ops"], mod: review },
  { id: "failures", roles: ["editor", "reviewer", "ops"], mod: failures },
  { id: "ops", roles: ["ops"], mod: ops },
];
const HOME = { merchant: "portal", editor: "board", reviewer: "review", ops: "board" };

const state = { me: null, cleanup: null, flash: "" };
const main = () => document.getElementById("main");

export function toast(text, kind = "info") {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.className = `toast show ${kind}`;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.className = "toast"; }, 4000);
}

function routeId() { return (location.hash.replace(/^#\/?/, "").split(/[/?]/)[0]) || ""; }

function renderTop() {
  const top = clear(document.getElementById("top"));
  const me = state.me;
  const here = routeId();
  top.append(
    h("a", { class: "brand", href: me ? `#/${HOME[me.role] || "portal"}` : "#/signin" },
      h("span", { class: "brand-mark" }, "上"), h("span", {}, t("app.name"))),
    h("nav", { class: "nav", "aria-label": "main" },
      me ? PAGES.filter((p) => p.roles.includes(me.role)).map((p) =>
        h("a", { href: `#/${p.id}`, class: p.id === here ? "active" : "", "data-page": p.id }, t(`nav.${p.id}`))) : null),
    h("div", { class: "top-right" },
      h("button", { class: "link", id: "lang", type: "button", onclick: () => { setLang(getLang() === "zh" ? "en" : "zh"); route(); } },
        t("lang.switch")),
      me ? h("span", { class: "who", id: "who" }, me.username, h("span", { class: `role role-${me.role}` }, label("role", me.role)),
        me.merchant_id ? h("span", { class: "muted" }, ` ${me.merchant_id}`) : null) : null,
      me ? h("button", { class: "link", id: "signout", type: "button", onclick: signOut }, t("nav.signout")) : null));
}

export function signOut() {
  session.clear();
  state.me = null;
  location.hash = "#/signin";
}

setUnauthorizedHandler(() => {
  if (state.me) state.flash = t("signin.expired");
  state.me = null;
  if (routeId() !== "signin") location.hash = "#/signin";
});

let routeSeq = 0;     // the newest navigation wins: an older one still awaiting /api/me must not redirect

async function route() {
  const seq = ++routeSeq;
  if (state.cleanup) { try { state.cleanup(); } catch { /* the page is gone anyway */ } state.cleanup = null; }
  document.title = `${t("app.name")} · ${t("app.tagline")}`;
  let id = routeId();
  if (!session.token) {
    state.me = null;
    renderTop();
    if (id !== "signin") { location.hash = "#/signin"; return; }
    signin.render(clear(main()), { flash: state.flash, onSignedIn });
    state.flash = "";
    return;
  }
  if (!state.me) {
    try { state.me = await get("/api/me"); } catch (e) {
      if (e instanceof ApiError && e.unavailable && session.signedIn && session.signedIn.role) {
        state.me = { ...session.signedIn, merchants: [] };     // no /api/me yet: what sign-in said
      } else if (!(e instanceof ApiError) || e.status !== 401) {
        renderTop();
        fill(main(), h("p", { class: "error" }, t("common.error", { message: e.message })));
        return;
      } else return;
    }
  }
  if (seq !== routeSeq) return;     // a newer navigation took over while /api/me was on its way
  id = routeId();
  const me = state.me;
  if (id === "signin" || id === "") { location.hash = `#/${HOME[me.role] || "portal"}`; return; }
  renderTop();
  const page = PAGES.find((p) => p.id === id);
  const root = clear(main());
  if (!page) { location.hash = `#/${HOME[me.role] || "portal"}`; return; }
  if (!page.roles.includes(me.role)) {
    root.append(h("div", { class: "empty forbidden", id: "forbidden" }, t("common.forbidden", { role: label("role", me.role) })));
    return;
  }
  document.title = `${t(`nav.${id}`)} · ${t("app.name")}`;
  state.cleanup = page.mod.render(root, { me, toast }) || null;
}

function onSignedIn() {
  state.me = null;
  location.hash = "#/";
  route();
}

window.addEventListener("hashchange", route);
route();
