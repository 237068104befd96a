// The professional's own calendar address (webcal/.ics) for Outlook or Thunderbird:
// make it, copy it, make a new one, stop it. The address is shown once, when made (the
// server keeps only a hash of its secret).

import { del, get, post } from "../api.js";
import { announce, clear, h, setText } from "../dom.js";
import { errorText, formatDate, t } from "../i18n.js";
import { confirmDialog } from "./confirm.js";

const API = "/api/staff/me/calendar-feed";

export function calendarFeedView() {
  const status = h("p", { class: "feed-status", attrs: { role: "status" } });
  const notice = h("p", { class: "notice", hidden: true, attrs: { role: "status" } });
  const fresh = h("div", { class: "feed-fresh", hidden: true });
  const actions = h("div", { class: "actions start feed-actions" });
  const view = h("section", { class: "card wide calendar-feed",
    attrs: { "aria-labelledby": "feed-title" } },
    h("h1", { id: "feed-title", i18n: "feed.title" }),
    h("p", { i18n: "feed.intro" }),
    h("p", { class: "notice feed-privacy", i18n: "feed.privacy" }),
    status, fresh, notice, actions,
    h("p", { class: "hint", i18n: "feed.how" }));
  let busy = false;

  function say(key, vars, isError = false) {
    setText(notice, key, vars);
    notice.classList.toggle("error", isError);
    notice.hidden = false;
    announce(notice.textContent);
  }

  function sayError(error) {
    notice.textContent = errorText(error.code);
    notice.classList.add("error");
    notice.hidden = false;
  }

  function render(feed) {
    if (feed.active && feed.created_at) {
      setText(status, "feed.active", { date: { date: feed.created_at } });
    } else {
      setText(status, "feed.none");
    }
    clear(actions).append(
      h("button", { type: "button", class: `button ${feed.active ? "secondary" : "primary"} make-feed`,
        i18n: feed.active ? "feed.renew" : "feed.create", on: { click: () => make(feed.active) } }),
      feed.active
        ? h("button", { type: "button", class: "button danger revoke-feed", i18n: "feed.revoke",
            on: { click: revoke } })
        : null);
  }

  function addressField(id, labelKey, value) {
    const input = h("input", { id, type: "text", readOnly: true, value, class: "link-field feed-url" });
    const copy = h("button", { type: "button", class: "button secondary copy-feed",
      i18n: "feed.copy", on: { click: () => copyAddress(input) } });
    return h("div", { class: "field" },
      h("label", { htmlFor: id, i18n: labelKey }),
      h("div", { class: "feed-address" }, input, copy));
  }

  async function copyAddress(input) {
    try {
      await navigator.clipboard.writeText(input.value);
      say("feed.copied");
    } catch {
      input.select();
      say("feed.manual_copy");
    }
  }

  function showFresh(made) {
    clear(fresh).append(
      h("p", { class: "notice feed-once", i18n: "feed.shown_once" }),
      addressField("feed-url", "feed.address", made.url),
      addressField("feed-https-url", "feed.https_address", made.https_url));
    fresh.hidden = false;
    fresh.querySelector("#feed-url").focus();
  }

  async function load() {
    try {
      render(await get(API));
    } catch (error) {
      sayError(error);
    }
  }

  async function make(replacing) {
    if (busy) return;
    if (replacing) {
      const ok = await confirmDialog({ titleKey: "feed.renew_title", textKey: "feed.renew_text",
        confirmKey: "feed.renew" });
      if (!ok) return;
    }
    busy = true;
    notice.hidden = true;
    try {
      const made = await post(API);
      await load();
      showFresh(made);
      say("feed.created");
    } catch (error) {
      sayError(error);
    } finally {
      busy = false;
    }
  }

  async function revoke() {
    if (busy) return;
    const ok = await confirmDialog({ titleKey: "feed.revoke_title", textKey: "feed.revoke_text",
      confirmKey: "feed.revoke", danger: true });
    if (!ok) return;
    busy = true;
    try {
      await del(API);
      clear(fresh);
      fresh.hidden = true;
      await load();
      say("feed.revoked");
    } catch (error) {
      sayError(error);
    } finally {
      busy = false;
    }
  }

  load();
  return view;
}
