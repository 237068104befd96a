// Staff side panel in a call: who is waiting (let in, turn away, texts to and from
// each one) and who is in the call with their connection state (move back, remove).
// A text goes to one chosen person; everyone waiting only by its own button.

import { announce, clear, h, setText } from "../dom.js";
import { formatTime, t } from "../i18n.js";
import { confirmDialog } from "./confirm.js";

function roleKey(role) {
  return `role.${role || "other"}`;
}

/** Errors the server gives a refused waiting-room text; shown next to the form. */
const TEXT_ERRORS = ["text_empty", "text_too_long"];

export function peoplePanel({ call, selfName }) {
  const waitingCount = h("h3", { class: "section-title" });
  const waitingList = h("ul", { class: "people-list waiting-list" });
  const nobody = h("p", { class: "hint", i18n: "people.nobody_waiting" });
  // Texts of each waiting person's current stay: {mine, toAll, text}; cleared when it ends.
  const threads = new Map();
  const messageTo = h("select", { id: "message-to" });
  const messageToField = h("div", { class: "field message-to-field" },
    h("label", { htmlFor: "message-to", i18n: "people.message_to" }), messageTo);
  const messageToOne = h("p", { class: "message-to-one" });
  const messageText = h("input", { id: "message-text", type: "text", maxLength: 500,
    attrs: { autocomplete: "off" } });
  const messageSent = h("p", { class: "hint message-status", hidden: true,
    attrs: { role: "status" } });
  const sendAll = h("button", { type: "button", class: "button secondary send-all",
    i18n: "people.message_send_all", on: { click: () => sendMessage(null) } });
  const messageForm = h(
    "form",
    { class: "message-form",
      on: { submit: (e) => { e.preventDefault(); sendMessage(chosenRecipient()); } } },
    h("h3", { class: "section-title", i18n: "people.message_title" }),
    messageToField,
    messageToOne,
    h("div", { class: "field" },
      h("label", { htmlFor: "message-text", i18n: "people.message_text" }), messageText),
    h("div", { class: "actions message-actions" },
      h("button", { type: "submit", class: "button primary send-one",
        i18n: "people.message_send" }),
      sendAll),
    messageSent,
  );
  const inCallTitle = h("h3", { class: "section-title" });
  const inCallList = h("ul", { class: "people-list in-call-list" });

  const element = h("div", { class: "people" },
    h("section", { class: "people-section" }, waitingCount, nobody, waitingList, messageForm),
    h("section", { class: "people-section" }, inCallTitle, inCallList));

  /** The one person a text goes to: the only one waiting, or the one chosen. */
  function chosenRecipient() {
    const people = call.waiting;
    if (people.length === 1) return people[0].participant;
    return messageTo.value || "";
  }

  function status(key, vars, isError = false) {
    setText(messageSent, key, vars);
    messageSent.classList.toggle("error-text", isError);
    messageSent.hidden = false;
  }

  /** ``to`` a person's id, or null: everyone waiting (its own button). */
  function sendMessage(to) {
    const text = messageText.value.trim();
    if (!text) {
      messageText.focus();
      return;
    }
    if (to === "") {
      status("people.message_choose_first", null, true);
      messageTo.focus();
      return;
    }
    if (!call.messageWaiting(text, to)) return;
    const recipients = to ? [to] : call.waiting.map((p) => p.participant);
    for (const pid of recipients) {
      if (!threads.has(pid)) threads.set(pid, []);
      threads.get(pid).push({ mine: true, toAll: !to, text });
    }
    messageText.value = "";
    messageTo.value = ""; // with several waiting, each text is sent to a fresh choice
    if (to) {
      const person = call.waiting.find((p) => p.participant === to);
      status("people.message_sent_to", { name: person ? person.display_name : "" });
    } else {
      status("people.message_sent_all");
    }
    renderWaiting();
  }

  function thread(person) {
    const texts = threads.get(person.participant) || [];
    if (!texts.length) return null;
    return h("ul", { class: "person-texts",
      attrs: { "aria-label": t("people.texts_label", { name: person.display_name }) } },
      ...texts.map((m) => h("li", { class: m.mine || m.colleague ? "text-own" : "text-reply" },
        h("strong", { class: "text-sender" }, sender(m, person)),
        " ",
        h("span", { class: "text-body" }, m.text))));
  }

  function sender(m, person) {
    if (m.mine) return t(m.toAll ? "people.text_you_all" : "people.text_you");
    if (m.colleague) {
      return t(m.toAll ? "people.text_colleague_all" : "people.text_colleague",
        { name: m.colleague });
    }
    return t("people.text_from", { name: person.display_name });
  }

  function renderWaiting() {
    const people = call.waiting;
    setText(waitingCount, "people.waiting_title", { n: people.length });
    nobody.hidden = people.length > 0;
    messageForm.hidden = people.length === 0;
    for (const pid of [...threads.keys()]) {
      if (!people.some((p) => p.participant === pid)) threads.delete(pid);
    }
    clear(waitingList);
    for (const person of people) {
      waitingList.append(
        h("li", { class: "person waiting-person", dataset: { participant: person.participant } },
          h("div", { class: "person-info" },
            h("span", { class: "person-name" }, person.display_name),
            h("span", { class: "person-meta" },
              `${t(roleKey(person.role))} · ${t("people.since", { time: formatTime(person.since) })}`),
            person.returned
              ? h("span", { class: "person-returned", i18n: "people.returned" })
              : null),
          h("div", { class: "person-actions" },
            h("button", { type: "button", class: "button primary admit", i18n: "people.admit",
              on: { click: () => call.admit(person.participant) } }),
            h("button", { type: "button", class: "button secondary deny", i18n: "people.deny",
              on: { click: () => deny(person) } })),
          thread(person)));
    }
    // One waiting: they are the recipient. More: staff must choose; all is its own button.
    const many = people.length > 1;
    messageToField.hidden = !many;
    sendAll.hidden = !many;
    messageToOne.hidden = people.length !== 1;
    if (people.length === 1) {
      setText(messageToOne, "people.message_to_one", { name: people[0].display_name });
    }
    const selected = messageTo.value;
    clear(messageTo).append(h("option", { value: "", i18n: "people.message_choose" }));
    for (const person of people) {
      messageTo.append(h("option", { value: person.participant }, person.display_name));
    }
    messageTo.value = people.some((p) => p.participant === selected) ? selected : "";
  }

  call.addEventListener("waiting-reply", (e) => {
    const { from, name, text } = e.detail;
    if (!threads.has(from)) threads.set(from, []);
    threads.get(from).push({ mine: false, toAll: false, text });
    renderWaiting();
    announce(t("people.replied", { name, text }));
  });
  call.addEventListener("waiting-message-sent", (e) => {
    const { byName, to, toAll, text } = e.detail;
    for (const pid of to) {
      if (!threads.has(pid)) threads.set(pid, []);
      threads.get(pid).push({ mine: false, colleague: byName, toAll, text });
    }
    renderWaiting();
  });
  call.addEventListener("texts-cleared", (e) => {
    if (threads.delete(e.detail.participant)) renderWaiting();
  });
  call.addEventListener("knocked", (e) => {
    threads.delete(e.detail.person.participant); // a new stay starts with no texts
  });
  call.addEventListener("problem", (e) => {
    if (TEXT_ERRORS.includes(e.detail.code)) status(`error.${e.detail.code}`, null, true);
  });

  async function deny(person) {
    const vars = { name: person.display_name };
    const ok = await confirmDialog({
      titleKey: "people.deny_title", textKey: "people.deny_text", vars,
      confirmKey: "people.deny",
    });
    if (ok) call.deny(person.participant, false);
  }

  async function remove(peer, revoke) {
    const vars = { name: peer.name };
    const ok = await confirmDialog({
      titleKey: revoke ? "people.remove_title" : "people.to_waiting_title",
      textKey: revoke ? "people.remove_text" : "people.to_waiting_text",
      vars,
      confirmKey: revoke ? "people.remove" : "people.to_waiting",
      danger: revoke,
    });
    if (ok) call.remove(peer.id, revoke);
  }

  function renderInCall() {
    const peers = [...call.peers.values()];
    setText(inCallTitle, "people.in_call_title", { n: peers.length + 1 });
    clear(inCallList).append(
      h("li", { class: "person" },
        h("div", { class: "person-info" },
          h("span", { class: "person-name" }, selfName),
          h("span", { class: "person-meta", i18n: "people.you" }))));
    for (const peer of peers) {
      const actions = peer.info.staff
        ? null
        : h("div", { class: "person-actions" },
            h("button", { type: "button", class: "button secondary small to-waiting",
              i18n: "people.to_waiting", on: { click: () => remove(peer, false) } }),
            h("button", { type: "button", class: "button danger small remove",
              i18n: "people.remove", on: { click: () => remove(peer, true) } }));
      inCallList.append(
        h("li", { class: "person", dataset: { participant: peer.id, connection: peer.connection } },
          h("div", { class: "person-info" },
            h("span", { class: "person-name" }, peer.name || t("call.someone")),
            h("span", { class: "person-meta" },
              h("span", { class: "dot", attrs: { "aria-hidden": "true" } }),
              `${t(peer.info.staff ? "role.staff" : roleKey(peer.info.role))} · `,
              h("span", { class: "connection", i18n: `connection.${peer.connection}` }))),
          actions));
    }
  }

  call.addEventListener("waiting-list", renderWaiting);
  call.addEventListener("peers", renderInCall);
  document.addEventListener("localechange", () => {
    renderWaiting();
    renderInCall();
  });
  renderWaiting();
  renderInCall();
  return { element };
}
