// The staff pages' one time zone: KOTA_TIMEZONE, as the server tells it in the session.
// "Today", the day navigation and every time shown or typed follow it, whatever zone the
// device is in (the server turns typed wall times into instants: starts_local/ends_local).

import { formatTime, formatTimeRange, serverZone, setServerZone } from "../dates.js";
import { t } from "../i18n.js";

/** The staff pages' zone is the one dates.js formats every time in. */
export function setStaffZone(name) {
  if (name) setServerZone(name);
}

export function staffZone() {
  return serverZone();
}

function parts(date) {
  const format = new Intl.DateTimeFormat("en-GB", {
    timeZone: serverZone(), year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  return Object.fromEntries(format.formatToParts(date).map((p) => [p.type, p.value]));
}

/** "2026-12-04": the day an instant (default now) falls on in the staff zone. */
export function zoneDate(iso) {
  const p = parts(iso ? new Date(iso) : new Date());
  return `${p.year}-${p.month}-${p.day}`;
}

export function today() {
  return zoneDate();
}

/** "09:30": the wall clock of an instant in the staff zone, as a time input wants it. */
export function zoneClock(iso) {
  const p = parts(new Date(iso));
  return `${p.hour}:${p.minute}`;
}

/** A calendar day ``n`` days from ``day`` (no clocks involved, so no zone either). */
export function addDays(day, n) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/** A wall clock "03:00" as the page's language writes it ("03.00" in Finnish). */
export function clockText(hhmm) {
  return formatTime(`1970-01-01T${hhmm}:00Z`, t, { timeZone: "UTC", zoneNote: false });
}

export function timeRange(startIso, endIso) {
  return formatTimeRange(startIso, endIso, t);
}

/** True when the device's own zone is not the staff zone (so times carry the zone). */
export function deviceInOtherZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone !== serverZone();
}
