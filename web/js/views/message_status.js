// What happened to the messages Kota sent a person (participant.messages): one plain line
// each ("Kutsu lähetetty sähköpostilla 4.12. klo 10.02", "Muistutus lähtee 9.12. klo
// 10.00"), and for one that failed or could not be confirmed a large "Send again" button.

import { post } from "../api.js";
import { formatShortDate, formatTime } from "../dates.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";

const PURPOSES = {
  invitation: "messages.purpose.invitation",
  update: "messages.purpose.update",
  cancellation: "messages.purpose.cancellation",
  reminder: "messages.purpose.reminder",
  booking_confirm: "messages.purpose.booking_confirm",
};
const SENT = { email: "messages.sent_email", sms: "messages.sent_sms" };
const FAILED = { email: "messages.failed_email", sms: "messages.failed_sms" };
const UNCONFIRMED = { email: "messages.unconfirmed_email", sms: "messages.unconfirmed_sms" };
const INVITING = ["invitation", "update"];

function when(iso) {
  return { date: formatShortDate(iso, t), time: formatTime(iso, t) };
}

/** A message still on its way: the page looks again soon. */
export function inFlight(message, now = Date.now()) {
  return message.state === "sending"
    || (message.state === "pending" && Date.parse(message.due_at) <= now);
}

function line(message, person, now) {
  const what = t(PURPOSES[message.purpose] || PURPOSES.invitation);
  switch (message.state) {
    case "sent":
      return t(SENT[message.channel], { what, ...when(message.sent_at || message.created_at) });
    case "failed":
      return t(FAILED[message.channel], { name: person.display_name });
    case "unconfirmed":
      return t(UNCONFIRMED[message.channel], { name: person.display_name });
    default:
      if (message.state === "pending" && Date.parse(message.due_at) > now) {
        return t("messages.due", { what, ...when(message.due_at) });
      }
      return t(message.attempts > 0 ? "messages.retrying" : "messages.due_now", { what });
  }
}

/**
 * The person's message lines, or null when nothing is sent to them.
 * ``onResent(message)`` runs after a resend was accepted; ``onError(error)`` after a refusal.
 */
export function messageStatus(appointmentId, person, { cancelled, onResent, onError }) {
  const messages = (person.messages || []).filter((m) => m.state !== "withdrawn");
  if (!messages.length) return null;
  const now = Date.now();
  const problem = (m) => m.state === "failed" || m.state === "unconfirmed";
  // A failure stays in the list, but once a newer invitation is on its way it asks nothing.
  const open = messages.filter((m) => problem(m)
    && !messages.some((later) => later.id > m.id && INVITING.includes(later.purpose)
      && !problem(later)));
  let sending = false;
  const button = open.length && !cancelled
    ? h("button", { type: "button", class: "button primary large resend-message",
        i18n: "messages.resend", on: { click: resend } })
    : null;

  async function resend() {
    if (sending) return; // a double click sends once (the server agrees)
    sending = true;
    button.disabled = true;
    button.textContent = t("messages.resending");
    try {
      const answer = await post(
        `/api/appointments/${appointmentId}/participants/${person.id}/messages`);
      onResent(answer.message);
    } catch (error) {
      sending = false;
      button.disabled = false;
      button.textContent = t("messages.resend");
      onError(error);
    }
  }

  return h("div", { class: "message-status" },
    h("ul", { class: "message-lines",
      attrs: { "aria-label": t("messages.label", { name: person.display_name }) } },
      messages.map((m) => h("li", {
        class: `message-line ${m.state}${open.includes(m) ? " problem" : ""}`,
        dataset: { message: String(m.id), state: m.state } }, line(m, person, now)))),
    button);
}
