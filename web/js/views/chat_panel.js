// Text chat in a call: lines go to the admitted participants only and are never
// stored, here or on the server; they vanish when the page closes.

import { h } from "../dom.js";
import { formatTime, t } from "../i18n.js";

const MAX_LENGTH = 2000;

export function chatPanel({ call, onUnread }) {
  let unread = 0;
  // The list stays a list (its items are list items); the live region is around it.
  const log = h("ol", { class: "chat-log" });
  const region = h("div", {
    class: "chat-region",
    attrs: { role: "log", "aria-live": "polite" },
    i18nAttrs: { "aria-label": "chat.log_label" },
  }, log);
  const empty = h("p", { class: "hint chat-empty", i18n: "chat.empty" });
  const input = h("textarea", {
    id: "chat-input",
    rows: 2,
    maxLength: MAX_LENGTH,
    attrs: { autocomplete: "off" },
  });
  const form = h(
    "form",
    { class: "chat-form", on: { submit: (e) => send(e) } },
    h("label", { htmlFor: "chat-input", class: "visually-hidden", i18n: "chat.input_label" }),
    input,
    h("button", { type: "submit", class: "button primary", i18n: "chat.send" }),
  );
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  const element = h("div", { class: "chat" },
    h("p", { class: "hint", i18n: "chat.privacy" }), empty, region, form);

  function isVisible() {
    return element.isConnected && element.offsetParent !== null;
  }

  function send(event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    if (call.sendChat(text.slice(0, MAX_LENGTH))) input.value = "";
  }

  call.addEventListener("chat", (event) => {
    const { from, name, text, at, own } = event.detail;
    const who = own ? t("chat.you") : name || t("call.someone");
    log.append(
      h("li", { class: own ? "chat-line own" : "chat-line", dataset: { from } },
        h("span", { class: "chat-meta" }, `${who} · ${formatTime(at)}`),
        h("span", { class: "chat-text" }, text)),
    );
    empty.hidden = true;
    log.scrollTop = log.scrollHeight;
    if (!own && !isVisible()) {
      unread += 1;
      onUnread(unread);
    }
  });
  call.addEventListener("state", (event) => {
    if (event.detail.state === "ended") {
      // Nothing of the conversation outlives the call.
      log.replaceChildren();
      empty.hidden = false;
    }
  });

  return {
    element,
    onOpen() {
      unread = 0;
      onUnread(0);
      input.focus();
    },
  };
}
