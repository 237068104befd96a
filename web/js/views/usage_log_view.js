// Administrators download the usage log (who did what and when; never content) as CSV.

import { h } from "../dom.js";
import { addDays, today as zoneToday } from "./staff_zone.js";

export function usageLogView() {
  const today = zoneToday();
  const from = h("input", { id: "u-from", type: "date", required: true, value: addDays(today, -30) });
  const to = h("input", { id: "u-to", type: "date", required: true, value: today });
  const link = h("a", { class: "button primary", i18n: "usage.download", attrs: { download: "" } });
  function update() {
    link.href = `/api/audit.csv?from=${from.value}&to=${to.value}`;
  }
  from.addEventListener("change", update);
  to.addEventListener("change", update);
  update();
  return h("section", { class: "card wide", attrs: { "aria-labelledby": "usage-title" } },
    h("h1", { id: "usage-title", i18n: "usage.title" }),
    h("p", { class: "lead", i18n: "usage.lead" }),
    h("div", { class: "field-row" },
      h("div", { class: "field" }, h("label", { htmlFor: "u-from", i18n: "usage.from" }), from),
      h("div", { class: "field" }, h("label", { htmlFor: "u-to", i18n: "usage.to" }), to)),
    h("div", { class: "actions start" }, link));
}
