// Dates and times as staff see them. Shown dates and times come from dates.js (Kota's
// own strings, the server's zone, the zone in words when the device is elsewhere).

import * as dates from "../dates.js";
import { t } from "../i18n.js";

export function localDate(date = new Date()) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

export function localTime(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function addDays(day, n) {
  const [y, m, d] = day.split("-").map(Number);
  return localDate(new Date(y, m - 1, d + n));
}

/** A calendar day ("2026-12-05") as "lauantai 5. joulukuuta 2026". */
export function longDate(day) {
  return dates.formatDay(day, t);
}

/** "9.00–9.45" in the server's zone ("… Suomen aikaa" when the device is elsewhere). */
export function timeRange(startIso, endIso) {
  return dates.formatTimeRange(startIso, endIso, t);
}

/** An ISO instant from a local date and a local time ("2026-03-03", "10:30"). */
export function toInstant(day, time) {
  const [y, m, d] = day.split("-").map(Number);
  const [hh, mm] = time.split(":").map(Number);
  return new Date(y, m - 1, d, hh, mm).toISOString();
}
