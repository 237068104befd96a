// Administrators: when a service's professionals take bookings. Weekly hours are a plain
// list per professional (weekday, opens, closes), saved together
// (PUT /api/services/<id>/hours); closures (a holiday for the whole service, one
// professional's absence) are added and removed one by one. Wall times are in the
// staff zone (KOTA_TIMEZONE); the server turns them into instants.

import { del, get, post, put } from "../api.js";
import { announce, clear, h } from "../dom.js";
import { errorText, t } from "../i18n.js";
import { confirmDialog } from "./confirm.js";
import { longDate } from "./staff_format.js";
import { clockText, staffZone, zoneClock, zoneDate } from "./staff_zone.js";

// Monday first, as the server counts them (0 = Monday).
const WEEKDAYS = [
  "dates.weekday.1", "dates.weekday.2", "dates.weekday.3", "dates.weekday.4",
  "dates.weekday.5", "dates.weekday.6", "dates.weekday.7",
];

/** One weekly opening (weekday, opens, closes) with Remove; ``person.id`` names the list. */
export function hoursRow(person, row, index) {
  const base = `h-${person.id}-${index}`;
  const weekday = h("select", { id: `${base}-day`, class: "h-weekday" },
    WEEKDAYS.map((key, i) => h("option", { value: String(i), i18n: key })));
  weekday.value = String(row.weekday);
  const opens = h("input", { id: `${base}-opens`, type: "time", required: true, value: row.opens,
    class: "h-opens" });
  const closes = h("input", { id: `${base}-closes`, type: "time", required: true,
    value: row.closes, class: "h-closes" });
  const item = h("li", { class: "hours-row", dataset: { staff: String(person.id) } },
    h("div", { class: "field" }, h("label", { htmlFor: `${base}-day`, i18n: "services.weekday" }), weekday),
    h("div", { class: "field" }, h("label", { htmlFor: `${base}-opens`, i18n: "services.opens" }), opens),
    h("div", { class: "field" }, h("label", { htmlFor: `${base}-closes`, i18n: "services.closes" }), closes),
    h("button", { type: "button", class: "button secondary small", i18n: "services.remove_hours",
      on: { click: () => item.remove() } }));
  return item;
}

/** The weekly hours of every professional serving ``service``, as one form. */
export function hoursEditor({ service, staff }) {
  const status = h("p", { class: "notice", hidden: true, attrs: { role: "status" } });
  let rows = 0;
  const lists = new Map(staff.map((s) => [s.id, h("ul", { class: "hours-list" })]));
  for (const hour of service.hours || []) {
    const list = lists.get(Number(hour.staff_id));
    if (list) list.append(hoursRow({ id: hour.staff_id }, hour, rows++));
  }
  const form = h("form", { class: "form hours-form", on: { submit: (e) => save(e) } },
    staff.length ? null : h("p", { class: "hint", i18n: "services.no_staff" }),
    staff.map((person) => h("fieldset", { class: "hours-person", dataset: { staff: String(person.id) } },
      h("legend", {}, person.display_name),
      lists.get(person.id),
      h("button", { type: "button", class: "button secondary small", i18n: "services.add_hours",
        dataset: { action: "add-hours" },
        on: { click: () => {
          const list = lists.get(person.id);
          const last = list.lastElementChild;
          const weekday = last ? (Number(last.querySelector(".h-weekday").value) + 1) % 7 : 0;
          const row = hoursRow(person, { weekday, opens: "09:00", closes: "15:00" }, rows++);
          list.append(row);
          row.querySelector("select").focus();
        } } }))),
    status,
    staff.length ? h("div", { class: "actions" },
      h("button", { type: "submit", class: "button primary", i18n: "services.save_hours",
        dataset: { action: "save-hours" } })) : null);

  async function save(event) {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const hours = [...form.querySelectorAll(".hours-row")].map((row) => ({
      staff_id: Number(row.dataset.staff),
      weekday: Number(row.querySelector(".h-weekday").value),
      opens: row.querySelector(".h-opens").value,
      closes: row.querySelector(".h-closes").value,
    }));
    status.classList.remove("error");
    try {
      await put(`/api/services/${service.id}/hours`, { hours });
      status.textContent = t("services.hours_saved");
    } catch (failure) {
      status.classList.add("error");
      status.textContent = errorText(failure.code);
    }
    status.hidden = false;
    announce(status.textContent);
  }

  return h("section", { class: "service-hours", attrs: { "aria-labelledby": "hours-title" } },
    h("h2", { id: "hours-title", i18n: "services.hours_title" }),
    h("p", { class: "hint", i18n: "services.hours_hint", vars: { zone: staffZone() } }),
    form);
}

// --- closures ---------------------------------------------------------------------------

function when(iso) {
  return `${longDate(zoneDate(iso))} ${clockText(zoneClock(iso))}`;
}

/** Holidays and absences: a list with Remove, and a small form to add one. */
export function closuresEditor({ service, staff }) {
  const list = h("ul", { class: "closure-list", attrs: { "aria-busy": "true" } });
  const status = h("p", { class: "notice error", hidden: true, attrs: { role: "alert" } });
  const who = h("select", { id: "c-who" },
    h("option", { value: "", i18n: "services.whole_service" }),
    staff.map((s) => h("option", { value: String(s.id) }, s.display_name)));
  const starts = h("input", { id: "c-starts", type: "datetime-local", required: true });
  const ends = h("input", { id: "c-ends", type: "datetime-local", required: true });
  const note = h("input", { id: "c-note", type: "text", maxLength: 200 });
  const names = new Map(staff.map((s) => [s.id, s.display_name]));

  const form = h("form", { class: "form closure-form", on: { submit: (e) => add(e) } },
    h("div", { class: "field-row" },
      h("div", { class: "field" }, h("label", { htmlFor: "c-who", i18n: "services.closure_who" }), who),
      h("div", { class: "field" }, h("label", { htmlFor: "c-starts", i18n: "services.closure_starts" }), starts),
      h("div", { class: "field" }, h("label", { htmlFor: "c-ends", i18n: "services.closure_ends" }), ends),
      h("div", { class: "field" }, h("label", { htmlFor: "c-note", i18n: "services.closure_note" }), note)),
    status,
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "button secondary", i18n: "services.add_closure",
        dataset: { action: "add-closure" } })));

  async function load() {
    let data;
    try {
      data = await get(`/api/services/${service.id}/closures`);
    } catch (failure) {
      list.replaceWith(h("p", { class: "notice error" }, errorText(failure.code)));
      return;
    }
    list.removeAttribute("aria-busy");
    clear(list);
    const closures = data.closures || [];
    if (!closures.length) list.append(h("li", { class: "empty", i18n: "services.no_closures" }));
    for (const c of closures) {
      const whom = c.staff_id === null || c.staff_id === undefined
        ? t("services.whole_service") : names.get(Number(c.staff_id)) || "";
      list.append(h("li", { class: "closure", dataset: { closure: String(c.id) } },
        h("span", { class: "closure-when" }, `${when(c.starts_at)} – ${when(c.ends_at)}`),
        h("span", { class: "closure-who" }, whom),
        c.note ? h("span", { class: "closure-note" }, c.note) : null,
        h("button", { type: "button", class: "button secondary small", i18n: "services.remove_closure",
          on: { click: () => remove(c) } })));
    }
  }

  async function add(event) {
    event.preventDefault();
    if (!form.reportValidity()) return;
    status.hidden = true;
    try {
      await post(`/api/services/${service.id}/closures`, {
        staff_id: who.value ? Number(who.value) : null,
        starts_local: starts.value,
        ends_local: ends.value,
        note: note.value.trim(),
      });
      form.reset();
      announce(t("services.closure_added"));
      await load();
    } catch (failure) {
      status.textContent = errorText(failure.code);
      status.hidden = false;
    }
  }

  async function remove(closure) {
    const sure = await confirmDialog({ titleKey: "services.remove_closure_title",
      textKey: "services.remove_closure_text", confirmKey: "services.remove_closure", danger: true });
    if (!sure) return;
    try {
      await del(`/api/services/${service.id}/closures/${closure.id}`);
      await load();
    } catch (failure) {
      status.textContent = errorText(failure.code);
      status.hidden = false;
    }
  }

  load();
  return h("section", { class: "service-closures", attrs: { "aria-labelledby": "closures-title" } },
    h("h2", { id: "closures-title", i18n: "services.closures_title" }),
    h("p", { class: "hint", i18n: "services.closures_hint" }),
    list, form);
}
