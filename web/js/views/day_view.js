// Today's appointments (or another day's) for the signed-in professional.

import { get } from "../api.js";
import { clear, h } from "../dom.js";
import { errorText } from "../i18n.js";
import { longDate } from "./staff_format.js";
import { addDays, deviceInOtherZone, staffZone, timeRange, today as zoneToday } from "./staff_zone.js";

export function dayView({ day, navigate }) {
  const list = h("ul", { class: "appointment-list", attrs: { "aria-busy": "true" } });
  const heading = h("h1", { id: "day-title" }, longDate(day));
  const picker = h("input", { id: "day-picker", type: "date", value: day });
  picker.addEventListener("change", () => picker.value && navigate(`#/day/${picker.value}`));
  const today = zoneToday();

  const view = h("section", { class: "card wide", attrs: { "aria-labelledby": "day-title" } },
    h("div", { class: "day-head" },
      heading,
      h("a", { href: `#/new?date=${day}`, class: "button primary", i18n: "day.new" })),
    h("nav", { class: "day-nav", i18nAttrs: { "aria-label": "day.nav_label" } },
      h("a", { href: `#/day/${addDays(day, -1)}`, class: "button secondary", i18n: "day.previous" }),
      day === today ? null :
        h("a", { href: `#/day/${today}`, class: "button secondary", i18n: "day.today" }),
      h("a", { href: `#/day/${addDays(day, 1)}`, class: "button secondary", i18n: "day.next" }),
      h("div", { class: "field inline" },
        h("label", { htmlFor: "day-picker", i18n: "day.pick" }), picker)),
    deviceInOtherZone()
      ? h("p", { class: "hint zone-hint", i18n: "day.zone_hint", vars: { zone: staffZone() } })
      : null,
    list);

  let appointments = null;
  load();
  async function load() {
    try {
      ({ appointments } = await get(`/api/appointments?date=${encodeURIComponent(day)}`));
    } catch (error) {
      list.replaceWith(h("p", { class: "notice error" }, errorText(error.code)));
      return;
    }
    list.removeAttribute("aria-busy");
    render();
  }
  function render() {
    clear(list);
    if (!appointments.length) {
      list.append(h("li", { class: "empty", i18n: "day.none" }));
      return;
    }
    for (const a of appointments) list.append(appointmentItem(a));
  }
  // The date and the times are written in the page's language: redraw them on a switch.
  document.addEventListener("localechange", () => {
    if (!view.isConnected) return;
    heading.textContent = longDate(day);
    if (appointments) render();
  });
  return view;
}

/** One appointment in the list; one whose personal data retention removed says so in
 * place of the names, and offers no room (it is long over). */
function appointmentItem(a) {
  const cancelled = a.status === "cancelled";
  const removed = Boolean(a.personal_data_removed_at);
  const names = removed ? "" : a.participants.map((p) => p.display_name).join(", ");
  const classes = ["appointment", cancelled ? "cancelled" : null, removed ? "removed" : null];
  return h("li", { class: classes.filter(Boolean).join(" "),
    dataset: { appointment: String(a.id) } },
    h("div", { class: "appointment-time" }, timeRange(a.starts_at, a.ends_at)),
    h("div", { class: "appointment-info" },
      h("a", { href: `#/appointment/${a.id}`, class: "appointment-link",
        i18n: `kind.${a.kind}` }),
      names ? h("span", { class: "appointment-people" }, names) : null,
      cancelled ? h("span", { class: "tag", i18n: "appointment.cancelled" }) : null,
      removed ? h("span", { class: "tag removed", i18n: "day.personal_data_removed" }) : null),
    cancelled || removed ? null :
      h("a", { href: `/staff/call?appointment=${a.id}`, class: "button primary small",
        i18n: "appointment.open_room" }));
}
