// One booking in a few lines: service, day, time (and whom the family meets).
// Date and time go through i18n placeholders, so a language change rewrites them.

import { h } from "../dom.js";

export function bookingFacts(booking) {
  const service = booking.service || booking.service_name;
  const host = booking.host_first_name;
  return h("dl", { class: "facts booking-facts" },
    service ? [h("dt", { i18n: "book.fact_service" }), h("dd", { class: "fact-service" }, service)]
      : null,
    h("dt", { i18n: "book.fact_date" }),
    h("dd", { class: "fact-date", i18n: "book.date", vars: { date: { date: booking.starts_at } } }),
    h("dt", { i18n: "book.fact_time" }),
    h("dd", { class: "fact-time", i18n: "book.time_range",
      vars: { start: { time: booking.starts_at }, end: { time: booking.ends_at } } }),
    host ? [h("dt", { i18n: "book.fact_host" }), h("dd", { class: "fact-host" }, host)] : null);
}
