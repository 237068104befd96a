// Registry staff (#/access-report): the client's access report by contact, for a formal
// request (703/2023 § 11). A contact, "Make report", the report on screen and the same
// as a PDF. Producing either is itself on the usage log (access_report.produced).
// docs/access-report.md says what a report contains and why.

import { get } from "../api.js";
import { announce, clear, h } from "../dom.js";
import { errorText, t } from "../i18n.js";
import { appointmentTimes, onLocaleChange, roleText, staffAction, whenText }
  from "./access_entries.js";

const MAX_CONTACT = 254;

function query(contact) {
  return `contact=${encodeURIComponent(contact)}`;
}

function personText(person) {
  return `${person.display_name} (${t(`role.${person.role || "other"}`)})`;
}

function entriesTable(entries, captionId) {
  return h("table", { class: "access-table", attrs: { "aria-labelledby": captionId } },
    h("thead", {}, h("tr", {},
      h("th", { scope: "col", i18n: "access.staff.col_when" }),
      h("th", { scope: "col", i18n: "access.staff.col_who" }),
      h("th", { scope: "col", i18n: "access.staff.col_role" }),
      h("th", { scope: "col", i18n: "access.staff.col_what" }))),
    h("tbody", {}, entries.map((entry) => h("tr", { dataset: { what: entry.what } },
      h("td", {}, whenText(entry.at)),
      h("td", {}, entry.who),
      h("td", {}, roleText(entry)),
      h("td", {}, staffAction(entry))))));
}

function appointmentSection(appointment, index) {
  const id = `access-staff-appointment-${index}`;
  const people = appointment.participants || [appointment.participant];
  return h("section", { class: "access-appointment", dataset: { appointment: appointment.appointment_id },
    attrs: { "aria-labelledby": id } },
    h("h2", { id }, t("access.staff.appointment", { times: appointmentTimes(appointment),
      id: appointment.appointment_id })),
    appointment.cancelled ? h("p", { class: "hint", i18n: "access.cancelled" }) : null,
    people.map((person) => h("p", { class: "access-person" },
      t("access.staff.person", { person: personText(person) }))),
    appointment.entries.length
      ? entriesTable(appointment.entries, id)
      : h("p", { class: "hint", i18n: "access.staff.nobody" }));
}

export function accessReportStaffView() {
  const contact = h("input", { id: "access-contact", type: "text", required: true,
    maxLength: MAX_CONTACT, attrs: { autocomplete: "off", spellcheck: "false",
      "aria-describedby": "access-contact-hint" } });
  const status = h("div", { class: "access-result", attrs: { "aria-live": "polite" } });
  const form = h("form", { class: "access-form", attrs: { novalidate: true },
    on: { submit: (e) => { e.preventDefault(); make(); } } },
    h("div", { class: "field" },
      h("label", { htmlFor: "access-contact", i18n: "access.staff.contact" }),
      h("p", { id: "access-contact-hint", class: "hint", i18n: "access.staff.contact_hint" }),
      contact),
    h("button", { type: "submit", class: "button primary", i18n: "access.staff.make",
      dataset: { action: "make-access-report" } }));
  const view = h("section", { class: "card wide access-report staff-access-report",
    attrs: { "aria-labelledby": "access-staff-title" } },
    h("h1", { id: "access-staff-title", i18n: "access.staff.title" }),
    h("p", { class: "lead", i18n: "access.staff.lead" }),
    h("p", { class: "notice", i18n: "access.staff.logged" }),
    form,
    status);
  let report = null;

  function render() {
    if (!report) return;
    clear(status);
    const pdf = h("a", { class: "button secondary", href: `/api/access-reports.pdf?${query(report.contact)}`,
      i18n: "access.staff.download_pdf", dataset: { action: "download-access-pdf" },
      attrs: { download: "" } });
    status.append(
      h("h2", { id: "access-staff-result", i18n: "access.staff.result_title",
        vars: { contact: report.contact } }),
      h("p", { class: "hint" }, t("access.staff.produced", {
        who: report.produced_by.display_name, when: whenText(report.produced_at) })),
      h("div", { class: "actions start" }, pdf),
      ...(report.appointments.length
        ? report.appointments.map(appointmentSection)
        : [h("p", { class: "notice", dataset: { empty: "true" }, i18n: "access.staff.none" })]));
  }

  async function make() {
    const value = contact.value.trim();
    if (!value) {
      report = null;
      clear(status).append(h("p", { class: "notice error", attrs: { role: "alert" },
        i18n: "error.invalid_contact" }));
      contact.focus();
      return;
    }
    status.setAttribute("aria-busy", "true");
    try {
      report = await get(`/api/access-reports?${query(value)}`);
      report.contact = report.contact || value;
    } catch (error) {
      report = null;
      clear(status).append(h("p", { class: "notice error", attrs: { role: "alert" },
        dataset: { error: error.code } }, errorText(error.code)));
      return;
    } finally {
      status.removeAttribute("aria-busy");
    }
    render();
    announce(t("access.staff.made", { n: report.appointments.length }));
  }

  view.dispose = onLocaleChange(render);
  return view;
}
