// Staff sign-in.

import { post } from "../api.js";
import { h, setText } from "../dom.js";

export function loginView({ onSignedIn }) {
  const error = h("p", { class: "notice error", hidden: true, attrs: { role: "alert" } });
  const username = h("input", { id: "username", name: "username", type: "text", required: true,
    attrs: { autocomplete: "username", autocapitalize: "none", spellcheck: "false" } });
  const password = h("input", { id: "password", name: "password", type: "password", required: true,
    attrs: { autocomplete: "current-password" } });
  const submit = h("button", { type: "submit", class: "button primary wide", i18n: "login.submit" });
  const form = h("form", { class: "form", on: { submit: (e) => signIn(e) } },
    h("div", { class: "field" }, h("label", { htmlFor: "username", i18n: "login.username" }), username),
    h("div", { class: "field" }, h("label", { htmlFor: "password", i18n: "login.password" }), password),
    error,
    h("div", { class: "actions" }, submit));

  async function signIn(event) {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      const body = await post("/api/session", { username: username.value, password: password.value });
      password.value = "";
      onSignedIn(body);
    } catch (e) {
      setText(error, `error.${["bad_credentials", "too_many_attempts", "network"].includes(e.code) ? e.code : "generic"}`);
      error.hidden = false;
      password.focus();
    } finally {
      submit.disabled = false;
    }
  }

  return h("section", { class: "card narrow", attrs: { "aria-labelledby": "login-title" } },
    h("h1", { id: "login-title", i18n: "login.title" }),
    h("p", { class: "lead", i18n: "login.lead" }),
    form);
}
