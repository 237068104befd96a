// Create an appointment (time, kind, colleagues, the people invited) or edit one.

import { get, patch, post } from "../api.js";
import { clear, h } from "../dom.js";
import { errorText } from "../i18n.js";
import { participantLanguageSelect, ROLES } from "./appointment_view.js";
import { localDate, localTime, toInstant } from "./staff_format.js";

export const KINDS = [
  "child_protection",
  "specialist_consultation",
  "school_meeting",
  "family_counselling",
  "other",
];

function field(id, labelKey, input) {
  return h("div", { class: "field" }, h("label", { htmlFor: id, i18n: labelKey }), input);
}

export function appointmentForm({ id = null, day, me, navigate }) {
  const editing = id !== null;
  const error = h("p", { class: "notice error", hidden: true, attrs: { role: "alert" } });
  const date = h("input", { id: "f-date", type: "date", required: true, value: day || localDate() });
  const start = h("input", { id: "f-start", type: "time", required: true, value: "10:00" });
  const end = h("input", { id: "f-end", type: "time", required: true, value: "11:00" });
  const kind = h("select", { id: "f-kind" }, KINDS.map((k) => h("option", { value: k, i18n: `kind.${k}` })));
  const colleagues = h("fieldset", { class: "checks" },
    h("legend", { i18n: "form.colleagues" }));
  const people = h("div", { class: "participant-rows" });
  let rowCount = 0;

  function participantRow() {
    rowCount += 1;
    const n = rowCount;
    const row = h("fieldset", { class: "participant-row" },
      h("legend", { i18n: "form.person_n", vars: { n } }),
      h("div", { class: "field-row" },
        field(`p-name-${n}`, "form.name",
          h("input", { id: `p-name-${n}`, class: "p-name", type: "text", maxLength: 80,
            attrs: { autocomplete: "off" } })),
        field(`p-role-${n}`, "form.role",
          h("select", { id: `p-role-${n}`, class: "p-role" },
            ROLES.map((r) => h("option", { value: r, i18n: `role.${r}` })))),
        field(`p-contact-${n}`, "form.contact",
          h("input", { id: `p-contact-${n}`, class: "p-contact", type: "text", maxLength: 200,
            attrs: { autocomplete: "off" } })),
        field(`p-language-${n}`, "form.language",
          participantLanguageSelect(`p-language-${n}`, "p-language"))),
      h("button", { type: "button", class: "button secondary small", i18n: "form.remove_person",
        on: { click: () => row.remove() } }));
    people.append(row);
    return row;
  }

  const form = h("form", { class: "form", on: { submit: (e) => save(e) } },
    h("div", { class: "field-row" },
      field("f-date", "form.date", date), field("f-start", "form.start", start),
      field("f-end", "form.end", end)),
    field("f-kind", "form.kind", kind),
    colleagues,
    editing ? null : h("h2", { i18n: "appointment.participants" }),
    editing ? null : h("p", { class: "hint", i18n: "form.people_hint" }),
    editing ? null : people,
    editing ? null : h("button", { type: "button", class: "button secondary", i18n: "form.add_person",
      on: { click: () => participantRow().querySelector("input").focus() } }),
    error,
    h("div", { class: "actions" },
      h("a", { href: editing ? `#/appointment/${id}` : `#/day/${day || localDate()}`,
        class: "button secondary", i18n: "common.cancel" }),
      h("button", { type: "submit", class: "button primary", i18n: editing ? "form.save" : "form.create" })));

  if (!editing) participantRow();

  async function fillColleagues(selected) {
    let staff = [];
    try {
      staff = (await get("/api/staff")).staff;
    } catch {
      staff = [];
    }
    for (const s of staff.filter((x) => x.id !== me.id && x.role !== "admin")) {
      const box = h("input", { type: "checkbox", id: `c-${s.id}`, value: String(s.id),
        checked: selected.includes(s.id) });
      colleagues.append(h("div", { class: "check" }, box,
        h("label", { htmlFor: `c-${s.id}` }, s.display_name)));
    }
    colleagues.hidden = colleagues.querySelectorAll("input").length === 0;
  }

  async function load() {
    if (!editing) return fillColleagues([]);
    const a = await get(`/api/appointments/${id}`);
    date.value = localDate(new Date(a.starts_at));
    start.value = localTime(a.starts_at);
    end.value = localTime(a.ends_at);
    kind.value = a.kind;
    return fillColleagues(a.staff.map((s) => s.id));
  }

  async function save(event) {
    event.preventDefault();
    error.hidden = true;
    const staffIds = [...colleagues.querySelectorAll("input:checked")].map((b) => Number(b.value));
    const body = {
      starts_at: toInstant(date.value, start.value),
      ends_at: toInstant(date.value, end.value),
      kind: kind.value,
      staff_ids: staffIds,
    };
    if (!editing) {
      body.participants = [...people.querySelectorAll(".participant-row")]
        .map((row) => ({
          display_name: row.querySelector(".p-name").value.trim(),
          role: row.querySelector(".p-role").value,
          contact: row.querySelector(".p-contact").value.trim() || null,
          language: row.querySelector(".p-language").value || null,
        }))
        .filter((p) => p.display_name);
    }
    try {
      const saved = editing
        ? await patch(`/api/appointments/${id}`, body)
        : await post("/api/appointments", body);
      navigate(`#/appointment/${saved.id}`);
    } catch (e) {
      error.textContent = errorText(e.code);
      error.hidden = false;
      error.focus();
    }
  }

  const view = h("section", { class: "card wide", attrs: { "aria-labelledby": "form-title" } },
    h("h1", { id: "form-title", i18n: editing ? "form.edit_title" : "form.new_title" }), form);
  load().catch((e) => {
    clear(form).append(h("p", { class: "notice error" }, errorText(e.code)));
  });
  error.tabIndex = -1;
  return view;
}


