// Dates and times from Kota's own strings, in the server's time zone (KOTA_TIMEZONE).
//
// Browsers lack some of Kota's languages (Chromium has no North Sámi, and falls back to
// "M12 4, Fri"), so names and patterns come from the locale files: `dates.month.1`…12,
// `dates.weekday.1`…7 (Monday first), `dates.date` ("{weekday} {day}. {month}"),
// `dates.date_year`, `dates.time` ("{hour}.{minute}"). Intl is asked only for the
// wall-clock numbers in a zone, with a fixed numeric locale, which every browser has.
// No imports: `text(key)` is the caller's lookup (i18n.js passes its `t`).

const DEFAULT_ZONE = "Europe/Helsinki";

const MONTHS = [
  "dates.month.1", "dates.month.2", "dates.month.3", "dates.month.4",
  "dates.month.5", "dates.month.6", "dates.month.7", "dates.month.8",
  "dates.month.9", "dates.month.10", "dates.month.11", "dates.month.12",
];
const WEEKDAYS = [
  "dates.weekday.1", "dates.weekday.2", "dates.weekday.3", "dates.weekday.4",
  "dates.weekday.5", "dates.weekday.6", "dates.weekday.7",
];
// The zone named in words after a time when the viewer's device is elsewhere;
// a zone without a key is named by its id.
const ZONE_WORDS = {
  "Europe/Helsinki": "dates.zone.helsinki",
  "Europe/Stockholm": "dates.zone.stockholm",
  "Europe/Oslo": "dates.zone.oslo",
};

let zone = DEFAULT_ZONE;
const partsFormats = new Map();

/** Use ``name`` (the server's KOTA_TIMEZONE, from the join answer or the session). */
export function setServerZone(name) {
  if (!name) return;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    zone = name;
  } catch {
    console.warn("kota: unknown time zone", name);
  }
}

export function serverZone() {
  return zone;
}

/** The device's own zone, as the browser reports it. */
export function deviceZone() {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone;
}

function partsFormat(timeZone) {
  let format = partsFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone, hourCycle: "h23", numberingSystem: "latn",
      year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric",
    });
    partsFormats.set(timeZone, format);
  }
  return format;
}

/**
 * The wall clock in ``timeZone`` at an instant (ISO string, Date or ms):
 * {year, month 1–12, day, weekday 1–7 (Monday = 1), hour 0–23, minute}.
 */
export function wallClock(when, timeZone = zone) {
  const parts = {};
  for (const p of partsFormat(timeZone).formatToParts(new Date(when))) {
    if (p.type !== "literal") parts[p.type] = Number(p.value);
  }
  const { year, month, day, minute } = parts;
  const hour = parts.hour % 24;
  const weekday = ((new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7) + 1;
  return { year, month, day, weekday, hour, minute };
}

/** "2026-12-05": the day an instant falls on in ``timeZone``. */
export function dayOf(when, timeZone = zone) {
  const c = wallClock(when, timeZone);
  const pad = (n) => String(n).padStart(2, "0");
  return `${c.year}-${pad(c.month)}-${pad(c.day)}`;
}

function fill(pattern, values) {
  return pattern.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? values[name] : whole));
}

/** Whether the device shows another wall clock than ``timeZone`` at that instant. */
export function elsewhere(when, timeZone = zone) {
  const here = wallClock(when, deviceZone());
  const there = wallClock(when, timeZone);
  return here.hour !== there.hour || here.minute !== there.minute || here.day !== there.day;
}

/** "Suomen aikaa" when the device is in another zone at that instant, else "". */
export function zoneWords(when, text, timeZone = zone) {
  if (!elsewhere(when, timeZone)) return "";
  const key = ZONE_WORDS[timeZone];
  return key ? text(key) : timeZone;
}

function clockText(c, text) {
  return fill(text("dates.time"), { hour: String(c.hour), minute: String(c.minute).padStart(2, "0") });
}

/** "9.45", or "9.45 Suomen aikaa" when the device is elsewhere (``zoneNote: false`` drops it). */
export function formatTime(when, text, { timeZone = zone, zoneNote = true } = {}) {
  const shown = clockText(wallClock(when, timeZone), text);
  const words = zoneNote ? zoneWords(when, text, timeZone) : "";
  return words ? fill(text("dates.time_in_zone"), { time: shown, zone: words }) : shown;
}

/** "9.45–10.30", the zone in words once at the end when the device is elsewhere. */
export function formatTimeRange(start, end, text, { timeZone = zone } = {}) {
  const range = `${clockText(wallClock(start, timeZone), text)}–${clockText(wallClock(end, timeZone), text)}`;
  const words = zoneWords(start, text, timeZone);
  return words ? fill(text("dates.time_in_zone"), { time: range, zone: words }) : range;
}

function dateText(c, text, year) {
  return fill(text(year ? "dates.date_year" : "dates.date"), {
    weekday: text(WEEKDAYS[c.weekday - 1]),
    day: String(c.day),
    month: text(MONTHS[c.month - 1]),
    year: String(c.year),
  });
}

/** "perjantai 5. joulukuuta" (``year: true`` adds the year), in ``timeZone``. */
export function formatDate(when, text, { timeZone = zone, year = false } = {}) {
  return dateText(wallClock(when, timeZone), text, year);
}

/** A calendar day ("2026-12-05") as "perjantai 5. joulukuuta 2026"; no zone involved. */
export function formatDay(day, text, { year = true } = {}) {
  const [y, m, d] = day.split("-").map(Number);
  const weekday = ((new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7) + 1;
  return dateText({ year: y, month: m, day: d, weekday }, text, year);
}

/** "4.12." (fi) or "4/12" (en): a day and month number, in ``timeZone``. */
export function formatShortDate(when, text, { timeZone = zone } = {}) {
  const c = wallClock(when, timeZone);
  return fill(text("dates.short_date"), { day: String(c.day), month: String(c.month) });
}
