// What the family's and the registry's access reports share: how one entry, an
// appointment's time and a person's role read in the page's language. Dates are
// numeric ("3.3.2026"), from dates.js's wall clock in the server's zone.

import { formatTimeRange, serverZone, wallClock } from "../dates.js";
import { formatTime, t } from "../i18n.js";

/** Each kind of entry a report names (docs/access-report.md, "What a report contains"):
 * [the family's words ("you"), the registry's words]. */
const WHATS = {
  opened: ["access.family.what.opened", "access.staff.what.opened"],
  changed: ["access.family.what.changed", "access.staff.what.changed"],
  link: ["access.family.what.link", "access.staff.what.link"],
  admitted: ["access.family.what.admitted", "access.staff.what.admitted"],
  spoke: ["access.family.what.spoke", "access.staff.what.spoke"],
  messaged: ["access.family.what.messaged", "access.staff.what.messaged"],
  report: ["access.family.what.report", "access.staff.what.report"],
};
const ROLES = { admin: "access.role.admin", professional: "access.role.professional" };

/** "3.3.2026" (fi), "3/3/2026" (en): the day an instant falls on in the server's zone. */
export function numericDate(iso) {
  const c = wallClock(iso, serverZone());
  return t("access.date", { day: c.day, month: c.month, year: c.year });
}

/** "3.3.2026 klo 9.12". */
export function whenText(iso) {
  return t("access.when", { date: numericDate(iso), time: formatTime(iso) });
}

/** "3.3.2026 klo 9.00–9.45": an appointment's date and times, never its kind. */
export function appointmentTimes(appointment) {
  return t("access.when", { date: numericDate(appointment.starts_at),
    time: formatTimeRange(appointment.starts_at, appointment.ends_at, t) });
}

/** The job title as stored, else the staff role in the page's language. */
export function roleText(entry) {
  return entry.title || t(ROLES[entry.role_code] || ROLES.professional);
}

/** A title inside a sentence: "Sosiaalityöntekijä" → "sosiaalityöntekijä" (not "IT-tuki"). */
function inSentence(role) {
  const rest = role.slice(1);
  if (!rest || rest !== rest.toLocaleLowerCase()) return role;
  return role.charAt(0).toLocaleLowerCase() + rest;
}

function whatKeys(entry) {
  return WHATS[entry.what] || WHATS.opened;
}

/** "Sanna Virtanen, sosiaalityöntekijä, avasi tietosi 3.3.2026 klo 9.12 (3 kertaa)". */
export function familySentence(entry) {
  const text = t("access.entry", {
    who: entry.who,
    role: inSentence(roleText(entry)),
    action: t(whatKeys(entry)[0]),
    when: whenText(entry.at),
  });
  return entry.count > 1 ? `${text} ${t("access.times", { n: entry.count })}` : text;
}

/** The registry's table: what the staff member did, in a few words. */
export function staffAction(entry) {
  const text = t(whatKeys(entry)[1]);
  return entry.count > 1 ? `${text} ${t("access.times", { n: entry.count })}` : text;
}

/** Call ``render`` again when the page's language changes; returns the way to stop. */
export function onLocaleChange(render) {
  document.addEventListener("localechange", render);
  return () => document.removeEventListener("localechange", render);
}
