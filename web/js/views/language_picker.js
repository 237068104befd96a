// Language choice: big buttons on the first screen, a compact select in the header.

import { h } from "../dom.js";
import { LOCALES, locale, setLocale } from "../i18n.js";

// Each language is named in itself, so it can be found without reading the others.
const NAMES = { fi: "Suomi", sv: "Svenska", en: "English", se: "Davvisámegiella" };

export function languageButtons() {
  const buttons = LOCALES.map((code) =>
    h("button", {
      type: "button",
      class: "button language",
      lang: code,
      dataset: { locale: code },
      attrs: { "aria-pressed": String(code === locale()) },
      on: { click: () => setLocale(code) },
    }, NAMES[code]),
  );
  document.addEventListener("localechange", () => {
    for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.locale === locale()));
  });
  return h("div", { class: "language-buttons", attrs: { role: "group" },
    i18nAttrs: { "aria-label": "common.language" } }, buttons);
}

export function languageSelect() {
  const select = h("select", { id: "language-select", class: "language-select" },
    LOCALES.map((code) => h("option", { value: code, lang: code }, NAMES[code])));
  select.value = locale();
  select.addEventListener("change", () => setLocale(select.value));
  document.addEventListener("localechange", () => {
    select.value = locale();
  });
  return h("div", { class: "language-field" },
    h("label", { htmlFor: "language-select", i18n: "common.language" }), select);
}
