// How a person's join link reaches them: by e-mail, by text message, or by hand.
// Only the channels the server can send on (the session's `messaging` flags) are offered;
// the contact field's label and input type follow the choice, and the server's refusals
// of the contact (422 contact_required, invalid_email, ...) show next to it.

import { h, setText } from "../dom.js";
import { errorText } from "../i18n.js";

/** The server's refusals that are about one person's contact or channel. */
export const CONTACT_ERRORS = [
  "contact_required", "invalid_email", "invalid_phone",
  "email_not_configured", "sms_not_configured",
];

const CHOICES = { email: "delivery.email", sms: "delivery.sms", manual: "delivery.manual" };
const LABELS = { email: "delivery.email_label", sms: "delivery.sms_label", manual: "form.contact" };
const HINTS = { email: "delivery.email_hint", sms: "delivery.sms_hint" };
const INPUT_TYPES = { email: "email", sms: "tel", manual: "text" };
const AUTOCOMPLETE = { email: "email", sms: "tel", manual: "off" };

let messaging = { email: false, sms: false };

/** From the session (or the sign-in answer): which channels the server sends on. */
export function setMessaging(flags) {
  messaging = { email: Boolean(flags && flags.email), sms: Boolean(flags && flags.sms) };
}

export function messagingChannels() {
  return ["email", "sms"].filter((channel) => messaging[channel]);
}

/**
 * The radio group and the contact field for one person. ``prefix`` makes the ids unique;
 * ``initial`` ({delivery, contact}) fills in a person's current choice.
 * Returns {element, delivery(), contact(), input, showError(code), clearError()}.
 */
export function deliveryChoice(prefix, initial = null) {
  const channels = messagingChannels();
  const contactId = `${prefix}-contact`;
  const errorId = `${prefix}-contact-error`;
  const hintId = `${prefix}-contact-hint`;
  const label = h("label", { htmlFor: contactId, i18n: LABELS.manual });
  const input = h("input", { id: contactId, class: "p-contact", type: "text", maxLength: 200,
    attrs: { autocomplete: "off" } });
  const hint = h("p", { id: hintId, class: "hint", hidden: true });
  const error = h("p", { id: errorId, class: "field-error", hidden: true });
  const contactField = h("div", { class: "field contact-field" }, label, input, hint, error);
  let chosen = "manual";

  function choose(value) {
    chosen = value;
    setText(label, LABELS[value]);
    input.type = INPUT_TYPES[value];
    input.setAttribute("autocomplete", AUTOCOMPLETE[value]);
    if (value === "sms") input.setAttribute("inputmode", "tel");
    else input.removeAttribute("inputmode");
    hint.hidden = !HINTS[value];
    if (HINTS[value]) setText(hint, HINTS[value]);
    describe();
    clearError();
  }

  function describe() {
    const ids = [hint.hidden ? null : hintId, error.hidden ? null : errorId].filter(Boolean);
    if (ids.length) input.setAttribute("aria-describedby", ids.join(" "));
    else input.removeAttribute("aria-describedby");
  }

  function showError(code) {
    // Every code here has its text (tests/test_locales.py), so it follows a language change.
    if (CONTACT_ERRORS.includes(code)) setText(error, `error.${code}`);
    else error.textContent = errorText(code);
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
    describe();
    input.focus();
  }

  function clearError() {
    error.hidden = true;
    input.removeAttribute("aria-invalid");
    describe();
  }

  input.addEventListener("input", () => {
    if (!error.hidden) clearError();
  });

  const start = initial && channels.includes(initial.delivery) ? initial.delivery : "manual";
  if (initial && initial.contact) input.value = initial.contact;
  let group = null;
  if (channels.length) {
    const name = `${prefix}-delivery`;
    group = h("fieldset", { class: "delivery-choice" },
      h("legend", { i18n: "delivery.legend" }),
      h("div", { class: "choices" },
        [...channels, "manual"].map((value) => {
          const id = `${prefix}-delivery-${value}`;
          return h("div", { class: "choice" },
            h("input", { type: "radio", id, name, value, checked: value === start,
              class: "p-delivery", on: { change: () => choose(value) } }),
            h("label", { htmlFor: id, i18n: CHOICES[value] }));
        })));
  }

  choose(start);
  return {
    element: h("div", { class: "delivery" }, group, contactField),
    input,
    delivery: () => chosen,
    contact: () => input.value.trim() || null,
    showError,
    clearError,
  };
}

/**
 * Which of several people a refusal of ``code`` is about, when the server did not say:
 * the first whose channel and contact fit it. ``people``: [{delivery, contact}].
 */
export function refusedIndex(code, people) {
  const fits = {
    contact_required: (p) => p.delivery !== "manual" && !p.contact,
    invalid_email: (p) => p.delivery === "email"
      && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(p.contact || ""),
    invalid_phone: (p) => p.delivery === "sms",
    email_not_configured: (p) => p.delivery === "email",
    sms_not_configured: (p) => p.delivery === "sms",
  }[code];
  if (!fits) return -1;
  const exact = people.findIndex(fits);
  if (exact >= 0 || code !== "invalid_email") return exact;
  return people.findIndex((p) => p.delivery === "email");
}
