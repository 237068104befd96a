// Dates and times as staff see them: the browser's own time zone and language.

import { intlTag } from "../i18n.js";

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

export function longDate(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Intl.DateTimeFormat(intlTag(), {
    weekday: "long", day: "numeric", month: "long", year: "numeric",
  }).format(new Date(y, m - 1, d));
}

export function timeRange(startIso, endIso) {
  const f = new Intl.DateTimeFormat(intlTag(), { hour: "2-digit", minute: "2-digit" });
  return `${f.format(new Date(startIso))}–${f.format(new Date(endIso))}`;
}

/** An ISO instant from a local date and a local time ("2026-03-03", "10:30"). */
export function toInstant(day, time) {
  const [y, m, d] = day.split("-").map(Number);
  const [hh, mm] = time.split(":").map(Number);
  return new Date(y, m - 1, d, hh, mm).toISOString();
}
