// One appointment for staff: its people and their join links (copy, renew, revoke),
// adding and removing people, cancelling, the meeting room, and attendance afterwards.
// Once retention has removed its personal data it is read-only: a notice says when, the
// people show a neutral word for their name, and no action the server refuses is offered.

import { del, get, post, put } from "../api.js";
import { announce, clear, h, setText } from "../dom.js";
import { errorText, t } from "../i18n.js";
import { icon } from "../icons.js";
import { attendanceSection } from "./attendance.js";
import { confirmDialog } from "./confirm.js";
import { CONTACT_ERRORS, deliveryChoice, messagingChannels } from "./delivery_choice.js";
import { inFlight, messageStatus } from "./message_status.js";
import { longDate } from "./staff_format.js";
import { deviceInOtherZone, staffZone, timeRange, zoneDate } from "./staff_zone.js";
import { travelFacts } from "./travel_distances.js";

const POLL_FIRST_MS = 1500;
const POLL_LAST_MS = 60000;

export const ROLES = ["guardian", "child", "interpreter", "school_staff", "other_professional"];
// The languages a participant's link can open in; none lets their browser decide.
export const LANGUAGES = { fi: "language.fi", sv: "language.sv", en: "language.en", se: "language.se" };

/** A select of a participant's language: "" (the browser's) or fi, sv, en, se. */
export function participantLanguageSelect(id, className) {
  return h("select", { id, class: className },
    h("option", { value: "", i18n: "form.language_auto" }),
    Object.entries(LANGUAGES).map(([code, key]) => h("option", { value: code, i18n: key })));
}

export function appointmentView({ id }) {
  const body = h("div", {}, h("p", { class: "hint", i18n: "common.loading" }));
  const status = h("p", { class: "notice", hidden: true, attrs: { role: "status" } });
  const view = h("section", { class: "card wide", attrs: { "aria-labelledby": "appointment-title" } },
    h("h1", { id: "appointment-title", i18n: "appointment.title" }), status, body);
  let appointment = null;

  function say(key, vars, isError = false) {
    setText(status, key, vars);
    status.classList.toggle("error", isError);
    status.hidden = false;
    announce(status.textContent);
  }

  function sayError(error) {
    status.textContent = errorText(error.code);
    status.classList.add("error");
    status.hidden = false;
  }

  // While a message is on its way the page looks again, less often each time.
  let poll = null;
  let pollDelay = POLL_FIRST_MS;

  async function load() {
    clearTimeout(poll);
    try {
      appointment = await get(`/api/appointments/${id}`);
    } catch (error) {
      clear(body).append(h("p", { class: "notice error" }, errorText(error.code)));
      return;
    }
    render();
    const waiting = appointment.participants.some((p) => (p.messages || []).some((m) => inFlight(m)));
    if (!waiting) {
      pollDelay = POLL_FIRST_MS;
    } else if (pollDelay <= POLL_LAST_MS) {
      poll = setTimeout(() => { if (view.isConnected && !view.hidden) load(); }, pollDelay);
      pollDelay *= 2;
    }
  }

  function render() {
    const a = appointment;
    const day = zoneDate(a.starts_at);
    const cancelled = a.status === "cancelled";
    const ended = !cancelled && a.session === "ended";
    const removed = Boolean(a.personal_data_removed_at);
    const readOnly = cancelled || removed;
    // h() drops null children; the DOM's own append would write them out as "null".
    clear(body).append(...[
      h("dl", { class: "facts" },
        h("dt", { i18n: "appointment.when" }),
        h("dd", {}, `${longDate(day)} ${timeRange(a.starts_at, a.ends_at)}`
          + (deviceInOtherZone() ? ` (${staffZone()})` : "")),
        h("dt", { i18n: "appointment.kind" }), h("dd", { i18n: `kind.${a.kind}` }),
        h("dt", { i18n: "appointment.host" }), h("dd", {}, a.host.display_name),
        a.staff.length ? h("dt", { i18n: "appointment.staff" }) : null,
        a.staff.length ? h("dd", {}, a.staff.map((s) => s.display_name).join(", ")) : null,
        cancelled ? h("dt", { i18n: "appointment.status" }) : null,
        cancelled ? h("dd", { i18n: "appointment.cancelled" }) : null,
        ended ? h("dt", { i18n: "appointment.session" }) : null,
        ended ? h("dd", { class: "session-ended", i18n: "appointment.session_ended" }) : null,
        travelFacts(a)),
      removed ? removedNotice(a.personal_data_removed_at) : null,
      ended
        ? h("p", { class: "notice",
            i18n: a.may_reopen ? "appointment.ended_text" : "appointment.ended_final" })
        : null,
      a.booking ? bookingSection(a.booking, removed) : null,
      readOnly ? null : h("div", { class: "actions start" },
        ended && a.may_reopen
          ? h("button", { type: "button", class: "button primary", i18n: "appointment.reopen",
              dataset: { action: "reopen" }, on: { click: reopen } })
          : null,
        ended
          ? null
          : h("a", { href: `/staff/call?appointment=${a.id}`, class: "button primary",
              i18n: "appointment.open_room" }),
        h("a", { href: `#/appointment/${a.id}/edit`, class: "button secondary",
          i18n: "appointment.edit" }),
        h("button", { type: "button", class: "button danger", i18n: "appointment.cancel",
          on: { click: cancel } })),
      h("h2", { i18n: "appointment.participants" }),
      removed ? null : h("p", { class: "hint", i18n: "appointment.links_hint" }),
      participantList(a, cancelled, removed),
      readOnly ? null : addParticipantForm(),
      attendanceSection(a.id, { removed }),
      h("p", {}, h("a", { href: `#/day/${day}`, i18n: "staff.back_to_list" })),
    ].filter(Boolean));
  }

  /** When retention removed the names and contacts, and what that means for the page. */
  function removedNotice(removedAt) {
    return h("div", { class: "notice personal-data-removed", attrs: { role: "note" } },
      h("p", { i18n: "appointment.personal_data_removed",
        vars: { date: longDate(zoneDate(removedAt)) } }),
      h("p", { class: "hint", i18n: "appointment.personal_data_removed_hint" }));
  }

  /** A time the family booked itself: the service and what they want to talk about. */
  function bookingSection(booking, removed) {
    return h("section", { class: "booking-info", attrs: { "aria-labelledby": "booking-title" } },
      h("h2", { id: "booking-title", i18n: "appointment.booking_title" }),
      h("dl", { class: "facts" },
        h("dt", { i18n: "appointment.booking_service" }), h("dd", {}, booking.service || ""),
        h("dt", { i18n: "appointment.booking_topic" }),
        removed
          ? h("dd", { class: "removed", i18n: "appointment.removed_name" })
          : booking.topic
            ? h("dd", { class: "booking-topic" }, booking.topic)
            : h("dd", { class: "hint", i18n: "appointment.booking_no_topic" })),
      h("p", { class: "hint", i18n: "appointment.booking_hint" }));
  }

  function participantList(a, cancelled, removed) {
    if (!a.participants.length) return h("p", { i18n: "appointment.no_participants" });
    return h("ul", { class: "people-list participants" }, a.participants.map((p) => {
      const link = p.link;
      const linkState = !link ? "none" : link.status;
      // The link's own actions in one group; taking the person off the appointment stands
      // apart from them, so "stop the link" and "remove the person" are not side by side.
      const actions = cancelled || removed ? null : h("div", { class: "person-actions" },
        h("div", { class: "link-actions", attrs: { role: "group" },
          i18nAttrs: { "aria-label": "link.actions_label" } },
        linkState === "active"
          ? h("button", { type: "button", class: "button primary small copy-link",
              on: { click: () => copyLink(p) } }, icon("copy"), h("span", { i18n: "link.copy" }))
          : null,
        h("button", { type: "button", class: "button secondary small renew-link",
          i18n: linkState === "active" ? "link.renew" : "link.create",
          on: { click: () => renewLink(p) } }),
        linkState === "active"
          ? h("button", { type: "button", class: "button secondary small revoke-link",
              i18n: "link.revoke", on: { click: () => revokeLink(p) } })
          : null,
        linkState === "active" && messagingChannels().length
          ? h("button", { type: "button", class: "button secondary small change-delivery",
              i18n: "delivery.change", attrs: { "aria-expanded": "false" },
              on: { click: (e) => toggleDeliveryForm(p, e.currentTarget) } })
          : null),
        h("div", { class: "person-remove" },
          h("button", { type: "button", class: "button danger small remove-participant",
            i18n: "appointment.remove_participant", on: { click: () => removeParticipant(p) } })));
      return h("li", { class: "person", dataset: { participant: String(p.id), link: linkState } },
        h("div", { class: "person-info" },
          removed
            ? h("span", { class: "person-name removed", i18n: "appointment.removed_name" })
            : h("span", { class: "person-name" }, p.display_name),
          h("span", { class: "person-meta" },
            `${t(`role.${p.role}`)}${p.contact ? ` · ${p.contact}` : ""}`),
          p.language ? h("span", { class: "person-language", i18n: "appointment.language",
            vars: { language: { key: LANGUAGES[p.language] } } }) : null,
          removed ? null
            : h("span", { class: `link-state ${linkState}`, i18n: `link.state.${linkState}` }),
          removed ? null : messageStatus(id, p, {
            cancelled,
            onResent: async () => {
              await load();
              say("messages.resent", { name: p.display_name });
            },
            onError: sayError,
          })),
        actions);
    }));
  }

  // "How does the link reach them?" for a person already on the appointment, opened in
  // place under their row; saving sends the invitation at once on e-mail or SMS.
  function toggleDeliveryForm(p, button) {
    const item = view.querySelector(`[data-participant="${p.id}"]`);
    const open = item.querySelector(".delivery-edit");
    if (open) {
      open.remove();
      button.setAttribute("aria-expanded", "false");
      return;
    }
    const choice = deliveryChoice(`p${p.id}`, { delivery: p.delivery, contact: p.contact });
    let saving = false;
    const save = h("button", { type: "submit", class: "button primary", i18n: "delivery.save" });
    // noValidate: the server's refusal shows in the page's language, not the browser's.
    const form = h("form", { class: "form delivery-edit", noValidate: true, on: { submit: async (e) => {
      e.preventDefault();
      if (saving) return; // a double click changes once (the server agrees)
      saving = true;
      save.disabled = true;
      choice.clearError();
      try {
        const person = await put(`/api/appointments/${id}/participants/${p.id}/delivery`,
          { delivery: choice.delivery(), contact: choice.contact() });
        await load();
        say(person.delivery === "manual" ? "delivery.saved_manual" : "delivery.saved_sent",
          { name: p.display_name });
      } catch (error) {
        saving = false;
        save.disabled = false;
        if (CONTACT_ERRORS.includes(error.code)) choice.showError(error.code);
        else sayError(error);
      }
    } } },
      choice.element,
      h("div", { class: "actions" }, save,
        h("button", { type: "button", class: "button secondary", i18n: "common.cancel",
          on: { click: () => toggleDeliveryForm(p, button) } })));
    item.append(form);
    button.setAttribute("aria-expanded", "true");
    const first = form.querySelector("input:checked") || choice.input;
    first.focus();
  }

  async function copyLink(p) {
    try {
      const link = await get(`/api/appointments/${id}/participants/${p.id}/link`);
      await copyText(link.url, p);
    } catch (error) {
      if (error.code) sayError(error);
    }
  }

  async function copyText(url, p) {
    try {
      await navigator.clipboard.writeText(url);
      say("link.copied", { name: p.display_name });
    } catch {
      // No clipboard access: show the link selected, ready to copy by hand.
      const field = h("input", { type: "text", readOnly: true, value: url, class: "link-field",
        i18nAttrs: { "aria-label": "link.manual_copy" } });
      const item = view.querySelector(`[data-participant="${p.id}"]`);
      item.append(field);
      field.select();
      say("link.manual_copy");
    }
  }

  async function renewLink(p) {
    if (p.link && p.link.status === "active") {
      const ok = await confirmDialog({ titleKey: "link.renew_title", textKey: "link.renew_text",
        vars: { name: p.display_name }, confirmKey: "link.renew" });
      if (!ok) return;
    }
    try {
      const link = await post(`/api/appointments/${id}/participants/${p.id}/link`);
      await load();
      await copyText(link.url, p);
    } catch (error) {
      sayError(error);
    }
  }

  async function revokeLink(p) {
    const ok = await confirmDialog({ titleKey: "link.revoke_title", textKey: "link.revoke_text",
      vars: { name: p.display_name }, confirmKey: "link.revoke", danger: true });
    if (!ok) return;
    try {
      await del(`/api/appointments/${id}/participants/${p.id}/link`);
      await load();
      say("link.revoked", { name: p.display_name });
    } catch (error) {
      sayError(error);
    }
  }

  async function removeParticipant(p) {
    const ok = await confirmDialog({ titleKey: "appointment.remove_participant_title",
      textKey: "appointment.remove_participant_text", vars: { name: p.display_name },
      confirmKey: "appointment.remove_participant", danger: true });
    if (!ok) return;
    try {
      await del(`/api/appointments/${id}/participants/${p.id}`);
      await load();
    } catch (error) {
      sayError(error);
    }
  }

  let reopening = false;

  async function reopen() {
    if (reopening) return; // a double click counts once (the server agrees)
    reopening = true;
    try {
      const reopened = await post(`/api/appointments/${id}/reopen`);
      appointment = { ...appointment, ...reopened };
      render();
      say("appointment.reopened");
    } catch (error) {
      sayReopenError(error);
    } finally {
      reopening = false;
    }
  }

  /** The overlap refusal names the other appointment, with a link to it. */
  function sayReopenError(error) {
    sayError(error);
    const other = error.extra;
    if (error.code === "reopen_overlap" && other && other.appointment_id) {
      status.append(" ", h("a", { href: `#/appointment/${other.appointment_id}`,
        i18n: "appointment.reopen_other",
        vars: { time: timeRange(other.starts_at, other.ends_at) } }));
    }
  }

  async function cancel() {
    const ok = await confirmDialog({ titleKey: "appointment.cancel_title",
      textKey: "appointment.cancel_text", confirmKey: "appointment.cancel", danger: true });
    if (!ok) return;
    try {
      appointment = await post(`/api/appointments/${id}/cancel`);
      render();
    } catch (error) {
      sayError(error);
    }
  }

  function addParticipantForm() {
    const name = h("input", { id: "new-name", type: "text", required: true, maxLength: 80,
      attrs: { autocomplete: "off" } });
    const role = h("select", { id: "new-role" },
      ROLES.map((r) => h("option", { value: r, i18n: `role.${r}` })));
    const delivery = deliveryChoice("new");
    const language = participantLanguageSelect("new-language", "p-language");
    const form = h("form", { class: "form add-participant", on: { submit: async (e) => {
      e.preventDefault();
      delivery.clearError();
      try {
        await post(`/api/appointments/${id}/participants`, {
          display_name: name.value.trim(), role: role.value, contact: delivery.contact(),
          language: language.value || null, delivery: delivery.delivery(),
        });
        await load();
        say("appointment.participant_added");
      } catch (error) {
        if (CONTACT_ERRORS.includes(error.code)) delivery.showError(error.code);
        else sayError(error);
      }
    } } },
      h("h3", { i18n: "appointment.add_participant" }),
      h("div", { class: "field-row" },
        h("div", { class: "field" }, h("label", { htmlFor: "new-name", i18n: "form.name" }), name),
        h("div", { class: "field" }, h("label", { htmlFor: "new-role", i18n: "form.role" }), role),
        h("div", { class: "field" },
          h("label", { htmlFor: "new-language", i18n: "form.language" }), language)),
      delivery.element,
      h("button", { type: "submit", class: "button secondary", i18n: "appointment.add_participant" }));
    return form;
  }

  document.addEventListener("localechange", () => {
    if (appointment && view.isConnected) render();
  });
  load();
  return view;
}
