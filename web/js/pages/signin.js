// Sign-in: POST /auth/login; the ID token is kept in sessionStorage (gone when the tab closes).
import { signIn } from "../api.js";
import { h } from "../dom.js";
import { t, msg } from "../i18n.js";

export function render(root, { flash, onSignedIn }) {
  const error = h("p", { class: "error", id: "signin-error", role: "alert" }, flash || "");
  const user = h("input", { id: "username", name: "username", autocomplete: "username", required: true, autofocus: true });
  const pass = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const button = h("button", { type: "submit", class: "primary", id: "signin-submit" }, t("signin.submit"));
  const form = h("form", { class: "card signin", id: "signin", onsubmit: async (e) => {
    e.preventDefault();
    button.disabled = true;
    button.textContent = t("signin.busy");
    error.textContent = "";
    try {
      await signIn(user.value.trim(), pass.value);
      onSignedIn();
    } catch (err) {
      error.textContent = err.status === 401 ? (msg(err.body) || t("signin.failed")) : t("common.error", { message: err.message });
      button.disabled = false;
      button.textContent = t("signin.submit");
    }
  } },
  h("div", { class: "signin-brand" }, h("span", { class: "brand-mark big" }, "上"), h("h1", {}, t("signin.title"))),
  h("p", { class: "muted" }, t("signin.hint")),
  h("label", { for: "username" }, t("signin.username")), user,
  h("label", { for: "password" }, t("signin.password")), pass,
  error, button);
  root.append(h("div", { class: "signin-wrap" }, form));
}
