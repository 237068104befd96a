// Every visible string goes through t(key); texts live in web/locales/<code>.json, fetched
// next to this module (under the same versioned URL, so a page never mixes two releases).
// Elements built with data-i18n keep their key, so a language change re-translates
// the page in place (videos and forms keep their state). Dates and times come from
// dates.js, built from these texts in the server's time zone.

import * as dates from "./dates.js";

export const LOCALES = ["fi", "sv", "en", "se"];
export const DEFAULT_LOCALE = "fi";
const STORAGE_KEY = "kota.locale";

let current = DEFAULT_LOCALE;
let strings = {};
// Where setLocale remembers the choice: the staff pages share one key; a family's page
// uses one per link (rememberLocaleAs), or none before the link is known.
let storageKey = STORAGE_KEY;

export function locale() {
  return current;
}

/** The BCP 47 tag for Intl formatting; North Sámi is "se". */
export function intlTag() {
  return { fi: "fi-FI", sv: "sv-FI", en: "en-GB", se: "se-FI" }[current] || "fi-FI";
}

/** The language remembered under ``key`` (the staff pages' one by default), else Finnish. */
export function savedLocale(key = STORAGE_KEY) {
  return rememberedLocale(key) || DEFAULT_LOCALE;
}

/** The language remembered under ``key``, or null. */
export function rememberedLocale(key) {
  try {
    const saved = localStorage.getItem(key);
    if (LOCALES.includes(saved)) return saved;
  } catch {
    // Storage may be blocked.
  }
  return null;
}

/** The first of the browser's languages (navigator.languages) Kota speaks, or null. */
export function browserLocale(languages = navigator.languages || [navigator.language]) {
  for (const tag of languages || []) {
    const primary = String(tag).toLowerCase().split("-")[0];
    if (LOCALES.includes(primary)) return primary;
    if (primary === "sme") return "se"; // North Sámi's three-letter code
  }
  return null;
}

/** Remember later choices under ``key`` (null: do not remember). */
export function rememberLocaleAs(key) {
  storageKey = key;
}

export async function setLocale(code) {
  const wanted = LOCALES.includes(code) ? code : DEFAULT_LOCALE;
  const response = await fetch(new URL(`../locales/${wanted}.json`, import.meta.url));
  if (!response.ok) throw new Error(`locale ${wanted}: HTTP ${response.status}`);
  strings = await response.json();
  current = wanted;
  document.documentElement.lang = wanted;
  try {
    if (storageKey) localStorage.setItem(storageKey, wanted);
  } catch {
    // Not remembering the choice is fine.
  }
  translate(document);
  document.dispatchEvent(new CustomEvent("localechange", { detail: { locale: wanted } }));
}

/**
 * A time such as "9.30" (fi) or "9:30" (en) in ``timeZone`` (the server's zone when
 * omitted), with the zone in words ("9.30 Suomen aikaa") when the device is elsewhere.
 */
export function formatTime(iso, timeZone) {
  return dates.formatTime(iso, t, { timeZone: timeZone || dates.serverZone() });
}

/** A date such as "perjantai 5. joulukuuta" in ``timeZone`` (default: the server's). */
export function formatDate(iso, timeZone) {
  return dates.formatDate(iso, t, { timeZone: timeZone || dates.serverZone() });
}

function formatVar(value) {
  if (value && typeof value === "object") {
    if (value.time) return formatTime(value.time, value.tz);
    if (value.date) return formatDate(value.date, value.tz);
    if (value.key) return t(value.key);
  }
  return String(value);
}

/** The text for ``key`` with {placeholders} filled; the key itself if it is missing. */
export function t(key, vars) {
  const text = strings[key];
  if (typeof text !== "string") {
    console.warn("kota: missing text", key);
    return key;
  }
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    name in vars ? formatVar(vars[name]) : whole,
  );
}

/** The text for an error code from the API or the call socket. */
export function errorText(code) {
  const key = `error.${code}`;
  return key in strings ? strings[key] : t("error.generic");
}

/** Fill every [data-i18n] and [data-i18n-attr] element under ``root``. */
export function translate(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    const vars = el.dataset.i18nVars ? JSON.parse(el.dataset.i18nVars) : undefined;
    el.textContent = t(el.dataset.i18n, vars);
  }
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
  const title = document.querySelector("title[data-i18n]");
  if (title) document.title = title.textContent;
}
