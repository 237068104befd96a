// The family's side of waiting-room texts: what the worker wrote, and a short reply.
// The reply box appears once the worker has written; texts are kept on screen only and
// are cleared when the stay in the waiting room ends (admitted, moved back, cleared).

import { announce, clear, h, setText } from "../dom.js";
import { t } from "../i18n.js";

/** The server's limit for a reply (docs/protocol.md, "Limits"). */
export const REPLY_MAX_CHARS = 300;

/** Refusals of a reply, shown under the box; the text goes back into it. */
const REPLY_ERRORS = ["text_empty", "text_too_long", "too_many_texts", "no_staff_present",
  "not_waiting"];

export function waitingTexts({ call }) {
  const list = h("ul", { class: "waiting-texts" });
  const replyText = h("textarea", { id: "reply-text", rows: 2, maxLength: REPLY_MAX_CHARS,
    attrs: { autocomplete: "off", "aria-describedby": "reply-hint reply-status" } });
  const replyStatus = h("p", { id: "reply-status", class: "hint reply-status", hidden: true,
    attrs: { role: "status" } });
  const form = h("form", { class: "reply-form", hidden: true,
    on: { submit: (e) => { e.preventDefault(); send(); } } },
    h("label", { htmlFor: "reply-text", i18n: "waiting.reply_label" }),
    h("p", { id: "reply-hint", class: "hint", i18n: "waiting.reply_hint",
      vars: { n: REPLY_MAX_CHARS } }),
    replyText,
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "button primary wide", dataset: { action: "reply" },
        i18n: "waiting.reply_send" })),
    replyStatus);
  const element = h("div", { class: "notice staff-message", hidden: true },
    h("h2", { class: "label", i18n: "waiting.texts_title" }), list, form);
  let lastOwn = null;

  function add(mine, text) {
    const item = h("li", { class: mine ? "text-own" : "text-from-staff" },
      h("strong", { class: "text-sender", i18n: mine ? "waiting.text_you" : "waiting.text_staff" }),
      " ",
      h("span", { class: mine ? "own-text" : "staff-message-text" }, text));
    list.append(item);
    element.hidden = false;
    return item;
  }

  function status(key, isError) {
    setText(replyStatus, key);
    replyStatus.classList.toggle("error-text", isError);
    replyStatus.hidden = false;
  }

  function send() {
    const text = replyText.value.trim();
    if (!text) {
      status("error.text_empty", true);
      replyText.focus();
      return;
    }
    if (!call.reply(text)) return;
    lastOwn = add(true, text);
    replyText.value = "";
    status("waiting.reply_sent", false);
  }

  /** The stay ended (or the server said so): nothing of it stays on screen. */
  function reset() {
    clear(list);
    replyText.value = "";
    replyStatus.hidden = true;
    form.hidden = true;
    element.hidden = true;
    lastOwn = null;
  }

  call.addEventListener("staff-message", (e) => {
    add(false, e.detail.text);
    form.hidden = false;
    announce(`${t("waiting.message_from_staff")}: ${e.detail.text}`);
  });
  call.addEventListener("texts-cleared", reset);
  call.addEventListener("problem", (e) => {
    if (!REPLY_ERRORS.includes(e.detail.code)) return;
    if (lastOwn) {
      // Not sent after all: the text goes back into the box to be fixed or sent later.
      replyText.value = lastOwn.querySelector(".own-text").textContent;
      lastOwn.remove();
      lastOwn = null;
    }
    status(`error.${e.detail.code}`, true);
  });
  return { element, reset };
}
