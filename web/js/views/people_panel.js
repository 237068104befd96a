// Staff side panel in a call: who is waiting (let in, turn away, send a message) and
// who is in the call with their connection state (move back, remove).

import { clear, h, setText } from "../dom.js";
import { formatTime, t } from "../i18n.js";
import { confirmDialog } from "./confirm.js";

function roleKey(role) {
  return `role.${role || "other"}`;
}

export function peoplePanel({ call, selfName }) {
  const waitingCount = h("h3", { class: "section-title" });
  const waitingList = h("ul", { class: "people-list waiting-list" });
  const nobody = h("p", { class: "hint", i18n: "people.nobody_waiting" });
  const messageTo = h("select", { id: "message-to" });
  const messageText = h("input", { id: "message-text", type: "text", maxLength: 500,
    attrs: { autocomplete: "off" } });
  const messageSent = h("p", { class: "hint", hidden: true, attrs: { role: "status" } });
  const messageForm = h(
    "form",
    { class: "message-form", on: { submit: (e) => sendMessage(e) } },
    h("h3", { class: "section-title", i18n: "people.message_title" }),
    h("div", { class: "field" },
      h("label", { htmlFor: "message-to", i18n: "people.message_to" }), messageTo),
    h("div", { class: "field" },
      h("label", { htmlFor: "message-text", i18n: "people.message_text" }), messageText),
    h("button", { type: "submit", class: "button secondary", i18n: "people.message_send" }),
    messageSent,
  );
  const inCallTitle = h("h3", { class: "section-title" });
  const inCallList = h("ul", { class: "people-list in-call-list" });

  const element = h("div", { class: "people" },
    h("section", { class: "people-section" }, waitingCount, nobody, waitingList, messageForm),
    h("section", { class: "people-section" }, inCallTitle, inCallList));

  function sendMessage(event) {
    event.preventDefault();
    const text = messageText.value.trim();
    if (!text) return;
    if (call.messageWaiting(text, messageTo.value || null)) {
      messageText.value = "";
      setText(messageSent, "people.message_sent");
      messageSent.hidden = false;
    }
  }

  function renderWaiting() {
    const people = call.waiting;
    setText(waitingCount, "people.waiting_title", { n: people.length });
    nobody.hidden = people.length > 0;
    messageForm.hidden = people.length === 0;
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
              on: { click: () => deny(person) } }))));
    }
    const selected = messageTo.value;
    clear(messageTo).append(h("option", { value: "", i18n: "people.message_everyone" }));
    for (const person of people) {
      messageTo.append(h("option", { value: person.participant }, person.display_name));
    }
    messageTo.value = people.some((p) => p.participant === selected) ? selected : "";
  }

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
