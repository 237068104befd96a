// "Who has handled my information": the family's own access report, from the join
// link's token (POSTed, never in a URL). Per appointment its date and time only, never
// its kind; per entry who (name and role) did what and when, in plain words. No camera,
// no join window: it works after the appointment too. docs/access-report.md.

import { post } from "../api.js";
import { setServerZone } from "../dates.js";
import { clear, h } from "../dom.js";
import { errorText, t } from "../i18n.js";
import { appointmentTimes, familySentence, onLocaleChange } from "./access_entries.js";

/** Refusals said in the report's own words (what happened, and where to ask instead). */
const PLAIN_ERRORS = {
  link_revoked: "access.family.error.link_revoked",
  appointment_cancelled: "access.family.error.appointment_cancelled",
  participant_not_found: "access.family.error.participant_not_found",
  network: "access.family.error.network",
};

/** The quiet button the join page shows under its pages. */
export function accessReportButton(onOpen) {
  return h("p", { class: "access-report-open" },
    h("button", { type: "button", class: "link-button", i18n: "access.family.open",
      dataset: { action: "access-report" }, on: { click: onOpen } }));
}

function appointmentSection(appointment, index) {
  const id = `access-appointment-${index}`;
  const heading = h("h2", { id },
    t("access.family.appointment", { times: appointmentTimes(appointment) }));
  const cancelled = appointment.cancelled
    ? h("p", { class: "hint", i18n: "access.cancelled" }) : null;
  const list = appointment.entries.length
    ? h("ul", { class: "access-entries" },
        appointment.entries.map((entry) => h("li", { dataset: { what: entry.what } },
          familySentence(entry))))
    : h("p", { class: "hint", i18n: "access.family.nobody" });
  return h("section", { class: "access-appointment", attrs: { "aria-labelledby": id } },
    heading, cancelled, list);
}

/**
 * The report view for ``token``; ``onBack()`` returns to where the family was.
 * Returns {element, dispose}.
 */
export function familyAccessReport({ token, onBack }) {
  const body = h("div", { class: "access-body", attrs: { "aria-busy": "true" } },
    h("p", { class: "hint", i18n: "common.loading" }));
  const element = h("section", { class: "card access-report family-access-report",
    attrs: { "aria-labelledby": "access-title" } },
    h("h1", { id: "access-title", i18n: "access.family.title" }),
    h("p", { class: "lead", i18n: "access.family.lead" }),
    h("p", { i18n: "access.family.no_content" }),
    body,
    h("div", { class: "actions" },
      h("button", { type: "button", class: "button secondary wide", i18n: "common.back",
        dataset: { action: "access-report-back" }, on: { click: onBack } })));
  let report = null;

  function render() {
    if (!report) return;
    clear(body);
    body.removeAttribute("aria-busy");
    if (!report.appointments.length) {
      body.append(h("p", { class: "hint", i18n: "access.family.nobody" }));
      return;
    }
    body.append(...report.appointments.map(appointmentSection),
      h("p", { class: "hint", i18n: "access.family.questions" }));
  }

  function fail(code) {
    clear(body);
    body.removeAttribute("aria-busy");
    const said = PLAIN_ERRORS[code]
      ? h("p", { i18n: PLAIN_ERRORS[code] }) : h("p", {}, errorText(code));
    body.append(h("div", { class: "notice error", dataset: { error: code },
      attrs: { role: "alert" } },
      said,
      h("p", { i18n: "access.family.error.ask" })));
  }

  const stop = onLocaleChange(render);
  post("/api/join/access-report", { token }).then((answer) => {
    setServerZone(answer.timezone);
    report = answer;
    render();
  }, (error) => fail(error.code));
  return { element, dispose: stop };
}
