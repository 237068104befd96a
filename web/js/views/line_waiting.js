// Waiting in a contact line: the place and the expected wait in words, updated with
// every `queue` message; a calm note when the line will likely close first; a call
// back on a personal line; Leave.

import { announce, h, setText } from "../dom.js";
import { t } from "../i18n.js";
import { icon } from "../icons.js";

/** The expected wait in words ("Expected wait: about 10 minutes"): a text key and its
 * placeholders. */
export function waitWords(seconds) {
  if (seconds === null || seconds === undefined) return { key: "line.wait.unknown" };
  const minutes = Math.round(seconds / 60);
  if (minutes < 1) return { key: "line.wait.soon" };
  if (minutes === 1) return { key: "line.wait.minute" };
  if (minutes < 60) {
    const n = minutes < 15 ? minutes : Math.round(minutes / 5) * 5;
    return { key: "line.wait.minutes", vars: { n } };
  }
  const hours = Math.round(minutes / 60);
  return hours === 1 ? { key: "line.wait.hour" } : { key: "line.wait.hours", vars: { n: hours } };
}

/**
 * ``welcome`` is the server's welcome ({line, family_name?}); ``onLeave()`` and
 * ``onCallback()`` are the person's requests. Returns {view, update(queue), handedOver(line),
 * connection(state)}.
 */
export function lineWaiting({ welcome, onLeave, onCallback }) {
  const personal = welcome.line.kind === "personal";
  const place = h("p", { class: "line-place" });
  const next = h("p", { class: "line-next", hidden: true, i18n: "line.you_are_next" });
  const wait = h("p", { class: "line-wait" });
  const status = h("div", { class: "line-status", attrs: { role: "status" } }, place, next, wait);
  const closesFirst = h("p", { class: "notice line-closes-first", hidden: true,
    i18n: "line.closes_first" });
  const nobody = h("p", { class: "hint line-nobody", hidden: true, i18n: "line.nobody_on_duty" });
  const handed = h("p", { class: "notice line-handed-over", hidden: true });
  const reconnecting = h("p", { class: "notice line-reconnecting", hidden: true,
    attrs: { role: "status" }, i18n: "line.reconnecting" });
  const callbackButton = h("button", { type: "button", class: "button secondary wide",
    i18n: "line.callback.ask", dataset: { action: "line-callback" },
    on: { click: () => { callbackButton.disabled = true; onCallback(); } } });
  const callbackOffer = h("div", { class: "line-callback", hidden: true },
    h("p", { i18n: "line.callback.offer" }), callbackButton);
  const callbackDone = h("div", { class: "notice line-callback-done", hidden: true,
    attrs: { role: "status" } },
    h("p", { class: "problem-title", i18n: "line.callback.requested" }),
    h("p", { class: "line-callback-time" }));
  const lineKey = personal ? "line.my_line" : "line.waiting_in";
  const lineName = h("p", { class: "lead line-name", i18n: lineKey,
    vars: { line: welcome.line.name } });
  const heading = personal
    ? h("h1", { id: "line-waiting-title", i18n: "line.my_welcome",
        vars: { family: welcome.family_name || "" } })
    : h("h1", { id: "line-waiting-title", i18n: "line.waiting_title" });

  const view = h("section", { class: "card line-waiting",
    attrs: { "aria-labelledby": "line-waiting-title" } },
    h("div", { class: "waiting-pulse", attrs: { "aria-hidden": "true" } }),
    heading,
    lineName,
    reconnecting,
    handed,
    status,
    closesFirst,
    nobody,
    callbackOffer,
    callbackDone,
    h("p", { i18n: personal ? "line.keep_open_my" : "line.keep_open" }),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "button secondary", dataset: { action: "line-leave" },
        on: { click: () => onLeave() } },
        icon("leave"), h("span", { i18n: "line.leave" }))));

  let lastPosition = null;
  let requestedAt = null;

  function update(queue) {
    setText(place, "line.place", { n: queue.position });
    next.hidden = queue.position !== 1;
    const words = waitWords(queue.expected_wait_s);
    setText(wait, words.key, words.vars);
    closesFirst.hidden = !queue.closes_first;
    nobody.hidden = queue.on_duty !== 0;
    const callback = queue.callback;
    callbackOffer.hidden = !callback || !callback.offered || callback.requested;
    callbackDone.hidden = !callback || !callback.requested;
    if (callback && callback.requested) {
      if (!requestedAt) requestedAt = new Date().toISOString();
      const time = callbackDone.querySelector(".line-callback-time");
      setText(time, "line.callback.asked_at", { time: { time: requestedAt } });
    } else {
      callbackButton.disabled = false;
    }
    if (queue.position !== lastPosition) {
      announce(`${t("line.place", { n: queue.position })}. ${wait.textContent}`);
      lastPosition = queue.position;
    }
  }

  function handedOver(line) {
    if (line.name) setText(lineName, lineKey, { line: line.name });
    setText(handed, "line.handed_over", { line: line.name });
    handed.hidden = false;
    announce(handed.textContent);
  }

  function connection(state) {
    reconnecting.hidden = state !== "reconnecting";
  }

  return { view, update, handedOver, connection };
}
