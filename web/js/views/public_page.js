// What the public booking pages share (/book/<slug>, /book/confirm, /book/manage):
// the language (remembered on this device, else the browser's), the header's language
// choice, the page title, and a link token taken out of the address bar.

import { h } from "../dom.js";
import { browserLocale, DEFAULT_LOCALE, LOCALES, locale, rememberedLocale, rememberLocaleAs,
  setLocale, t } from "../i18n.js";
import { languageSelect } from "./language_picker.js";

const LOCALE_KEY = "kota.book.locale";
const SLUG_KEY = "kota.book.slug";

/** Speak the language chosen before on this device, else the browser's, else Finnish. */
export async function startPublicPage() {
  // Only a language the family chooses is remembered, not the one the page started in.
  rememberLocaleAs(null);
  await setLocale(rememberedLocale(LOCALE_KEY) || browserLocale() || DEFAULT_LOCALE);
  rememberLocaleAs(LOCALE_KEY);
  const tools = document.getElementById("header-tools");
  if (tools) tools.append(languageSelect());
}

/**
 * The booking's own language (chosen when it was made) when this device has no choice
 * of its own: a confirm link opened on another device speaks the family's language.
 */
export async function followBookingLanguage(language) {
  if (!language || !LOCALES.includes(language) || rememberedLocale(LOCALE_KEY)) return;
  if (language !== locale()) await setLocale(language);
}

export function setTitle(key) {
  const title = document.querySelector("title");
  title.dataset.i18n = key;
  document.title = t(key);
}

/**
 * The token in the URL fragment, which then leaves the address bar and history at
 * once; kept only in this tab (sessionStorage) so a reload still works.
 */
export function takeToken(storageKey) {
  const fragment = window.location.hash.slice(1);
  if (fragment) {
    history.replaceState(null, "", window.location.pathname);
    try {
      sessionStorage.setItem(storageKey, fragment);
    } catch {
      // Memory only: a reload will need the link again.
    }
    return fragment;
  }
  try {
    return sessionStorage.getItem(storageKey);
  } catch {
    return null;
  }
}

/** The last booking page used on this device, to offer it again after an expired hold. */
export function rememberSlug(slug) {
  try {
    localStorage.setItem(SLUG_KEY, slug);
  } catch {
    // Only the way back is lost.
  }
}

export function rememberedSlug() {
  try {
    return localStorage.getItem(SLUG_KEY);
  } catch {
    return null;
  }
}

/** A link back to a service's booking page ("Book a new time"). */
export function bookAgainLink(slug, key = "book.book_again") {
  if (!slug) return null;
  return h("a", { class: "button primary", href: `/book/${encodeURIComponent(slug)}`, i18n: key,
    dataset: { action: "book-again" } });
}

/** A plain page for a link that does not work (expired, invalid, missing). */
export function problemView({ titleKey, textKey, vars, code, slug }) {
  return h("section", { class: "card center booking-problem", dataset: { problem: code || "" },
    attrs: { "aria-labelledby": "problem-title" } },
    h("h1", { id: "problem-title", i18n: titleKey, vars }),
    textKey ? h("p", { class: "lead", i18n: textKey, vars }) : null,
    h("div", { class: "actions" }, bookAgainLink(slug)));
}
