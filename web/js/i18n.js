// Every visible string goes through t(key); texts live in web/locales/<code>.json, fetched
// next to this module (under the same versioned URL, so a page never mixes two releases).
// Elements built with data-i18n keep their key, so a language change re-translates
// the page in place (videos and forms keep their state).

export const LOCALES = ["fi", "sv", "en", "se"];
export const DEFAULT_LOCALE = "fi";
const STORAGE_KEY = "kota.locale";

let current = DEFAULT_LOCALE;
let strings = {};

export function locale() {
  return current;
}

/** The BCP 47 tag for Intl formatting; North Sámi is "se". */
export function intlTag() {
  return { fi: "fi-FI", sv: "sv-FI", en: "en-GB", se: "se-FI" }[current] || "fi-FI";
}

export function savedLocale() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (LOCALES.includes(saved)) return saved;
  } catch {
    // Storage may be blocked; Finnish is the default.
  }
  return DEFAULT_LOCALE;
}

export async function setLocale(code) {
  const wanted = LOCALES.includes(code) ? code : DEFAULT_LOCALE;
  const response = await fetch(new URL(`../locales/${wanted}.json`, import.meta.url));
  if (!response.ok) throw new Error(`locale ${wanted}: HTTP ${response.status}`);
  strings = await response.json();
  current = wanted;
  document.documentElement.lang = wanted;
  try {
    localStorage.setItem(STORAGE_KEY, wanted);
  } catch {
    // Not remembering the choice is fine.
  }
  translate(document);
  document.dispatchEvent(new CustomEvent("localechange", { detail: { locale: wanted } }));
}

/** Format a time such as "10.30" (fi) or "10:30" (en) in the given zone. */
export function formatTime(iso, timeZone) {
  return new Intl.DateTimeFormat(intlTag(), {
    hour: "2-digit",
    minute: "2-digit",
    timeZone,
  }).format(new Date(iso));
}

export function formatDate(iso, timeZone) {
  return new Intl.DateTimeFormat(intlTag(), {
    weekday: "long",
    day: "numeric",
    month: "long",
    timeZone,
  }).format(new Date(iso));
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
