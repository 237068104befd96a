// Create an appointment (host, time, kind, colleagues, the people invited) or edit one.
// Times are typed as wall times in the staff zone (KOTA_TIMEZONE) and sent as such
// (starts_local/ends_local); the server refuses a time the clocks skip and asks about one
// they show twice, and this form then asks the person which one they meant.

import { get, patch, post } from "../api.js";
import { clear, h } from "../dom.js";
import { errorText, t } from "../i18n.js";
import { participantLanguageSelect, ROLES } from "./appointment_view.js";
import { chooseDialog } from "./confirm.js";
import { CONTACT_ERRORS, deliveryChoice, refusedIndex } from "./delivery_choice.js";
import { longDate } from "./staff_format.js";
import { clockText, staffZone, timeRange, today, zoneClock, zoneDate } from "./staff_zone.js";
import { appointmentTravelFields } from "./travel_distances.js";

const DEFAULT_MINUTES = 60;

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
  const date = h("input", { id: "f-date", type: "date", required: true, value: day || today() });
  const start = h("input", { id: "f-start", type: "time", required: true, value: "10:00" });
  const end = h("input", { id: "f-end", type: "time", required: true, value: "11:00" });
  const host = h("select", { id: "f-host" });
  let timeTouched = false;
  for (const input of [date, start, end]) {
    input.addEventListener("input", () => { timeTouched = true; });
  }
  const kind = h("select", { id: "f-kind" }, KINDS.map((k) => h("option", { value: k, i18n: `kind.${k}` })));
  const colleagues = h("fieldset", { class: "checks" },
    h("legend", { i18n: "form.colleagues" }));
  const people = h("div", { class: "participant-rows" });
  // Service, family's municipality and travel, for the organisation report.
  const travel = appointmentTravelFields();
  let rowCount = 0;

  // Each person's row keeps its delivery choice (radio group and contact field).
  const choices = new Map();

  function participantRow() {
    rowCount += 1;
    const n = rowCount;
    const delivery = deliveryChoice(`p-${n}`);
    const row = h("fieldset", { class: "participant-row" },
      h("legend", { i18n: "form.person_n", vars: { n } }),
      h("div", { class: "field-row" },
        field(`p-name-${n}`, "form.name",
          h("input", { id: `p-name-${n}`, class: "p-name", type: "text", maxLength: 80,
            attrs: { autocomplete: "off" } })),
        field(`p-role-${n}`, "form.role",
          h("select", { id: `p-role-${n}`, class: "p-role" },
            ROLES.map((r) => h("option", { value: r, i18n: `role.${r}` })))),
        field(`p-language-${n}`, "form.language",
          participantLanguageSelect(`p-language-${n}`, "p-language"))),
      delivery.element,
      h("button", { type: "button", class: "button secondary small", i18n: "form.remove_person",
        on: { click: () => { choices.delete(row); row.remove(); } } }));
    choices.set(row, delivery);
    people.append(row);
    return row;
  }

  const form = h("form", { class: "form", on: { submit: (e) => save(e) } },
    field("f-host", "form.host", host),
    h("div", { class: "field-row" },
      field("f-date", "form.date", date), field("f-start", "form.start", start),
      field("f-end", "form.end", end)),
    h("p", { class: "hint zone-hint", i18n: "form.zone_hint", vars: { zone: staffZone() } }),
    field("f-kind", "form.kind", kind),
    colleagues,
    travel.element,
    editing ? null : h("h2", { i18n: "appointment.participants" }),
    editing ? null : h("p", { class: "hint", i18n: "form.people_hint" }),
    editing ? null : people,
    editing ? null : h("button", { type: "button", class: "button secondary", i18n: "form.add_person",
      on: { click: () => participantRow().querySelector("input").focus() } }),
    error,
    h("div", { class: "actions" },
      h("a", { href: editing ? `#/appointment/${id}` : `#/day/${day || today()}`,
        class: "button secondary", i18n: "common.cancel" }),
      h("button", { type: "submit", class: "button primary", i18n: editing ? "form.save" : "form.create" })));

  if (!editing) participantRow();

  let staff = [];
  let selectedColleagues = new Set();

  // Hosts: the signed-in person and the active professionals. Colleagues: the rest of them.
  async function loadStaff() {
    try {
      staff = (await get("/api/staff")).staff.filter((x) => x.role !== "admin" || x.id === me.id);
    } catch {
      staff = [me];
    }
    if (!staff.some((x) => x.id === me.id)) staff.unshift(me);
    clear(host).append(...staff.map((s) => h("option", { value: String(s.id) }, s.display_name)));
  }

  function fillColleagues() {
    for (const box of colleagues.querySelectorAll("input")) {
      if (box.checked) selectedColleagues.add(Number(box.value));
      else selectedColleagues.delete(Number(box.value));
    }
    for (const old of colleagues.querySelectorAll(".check")) old.remove();
    const hostId = Number(host.value);
    // Someone booking for another host takes part in it (the server requires it).
    const mustJoin = hostId !== me.id && me.role !== "admin";
    for (const s of staff.filter((x) => x.id !== hostId && x.role !== "admin")) {
      const mine = s.id === me.id;
      const box = h("input", { type: "checkbox", id: `c-${s.id}`, value: String(s.id),
        checked: selectedColleagues.has(s.id) || (mine && mustJoin), disabled: mine && mustJoin });
      colleagues.append(h("div", { class: "check" }, box,
        h("label", { htmlFor: `c-${s.id}` }, s.display_name)));
    }
    colleagues.hidden = colleagues.querySelectorAll("input").length === 0;
  }

  // The next free half hour of the chosen host, unless the person already chose a time.
  async function suggestStart() {
    if (editing || timeTouched) return;
    const wanted = date.value || day || today();
    let free;
    try {
      free = await get(`/api/staff/${host.value}/next_free?duration_minutes=${DEFAULT_MINUTES}`
        + `&date=${encodeURIComponent(wanted)}`);
    } catch {
      return;
    }
    if (timeTouched) return;
    date.value = zoneDate(free.starts_at);
    start.value = zoneClock(free.starts_at);
    end.value = zoneClock(free.ends_at);
  }

  host.addEventListener("change", () => {
    fillColleagues();
    suggestStart();
  });

  async function load() {
    await loadStaff();
    if (!editing) {
      host.value = String(me.id);
      fillColleagues();
      travel.fill();
      return suggestStart();
    }
    const a = await get(`/api/appointments/${id}`);
    travel.fill(a);
    date.value = zoneDate(a.starts_at);
    start.value = zoneClock(a.starts_at);
    end.value = zoneClock(a.ends_at);
    kind.value = a.kind;
    if (!staff.some((x) => x.id === a.host.id)) {
      staff.push({ ...a.host, role: "professional" });
      host.append(h("option", { value: String(a.host.id) }, a.host.display_name));
    }
    host.value = String(a.host.id);
    selectedColleagues = new Set(a.staff.map((s) => s.id));
    fillColleagues();
  }

  function showError(...content) {
    clear(error).append(...content);
    error.hidden = false;
    error.focus();
  }

  function clashMessage(clash) {
    const when = `${longDate(zoneDate(clash.starts_at))} ${timeRange(clash.starts_at, clash.ends_at)}`;
    if (!clash.appointment_id) {
      return [h("span", {}, t("form.overlap_hidden", { when }))];
    }
    return [
      h("span", {}, t("form.overlap", { when, kind: t(`kind.${clash.kind}`) })), " ",
      h("a", { href: `#/appointment/${clash.appointment_id}`, class: "clash-link",
        i18n: "form.overlap_open" }),
    ];
  }

  // A time shown twice (the clocks go back): ask which of the two is meant.
  async function askFold(extra) {
    const clock = clockText(extra.local.slice(11, 16));
    const choices = extra.choices.map((c) => ({
      value: String(c.fold),
      key: c.summer_time ? "form.fold_summer" : "form.fold_winter",
      vars: { time: clock, offset: c.utc_offset.replace(/^([+-])0?(\d+):00$/, "$1$2") },
    }));
    const picked = await chooseDialog({ titleKey: "form.fold_title", textKey: "form.fold_text",
      vars: { time: clock, date: longDate(extra.local.slice(0, 10)) }, choices });
    return picked === null ? null : Number(picked);
  }

  let sentRows = [];

  /** A refused contact is shown under that person's contact field. */
  function showContactError(e, sent) {
    const index = Number.isInteger(e.extra.participant) ? e.extra.participant
      : refusedIndex(e.code, sent);
    const row = sentRows[index];
    if (!row) return false;
    choices.get(row).showError(e.code);
    return true;
  }

  async function save(event, fold = null) {
    if (event) event.preventDefault();
    error.hidden = true;
    const staffIds = [...colleagues.querySelectorAll("input:checked")].map((b) => Number(b.value));
    const body = {
      starts_local: `${date.value}T${start.value}`,
      ends_local: `${date.value}T${end.value}`,
      kind: kind.value,
      host_id: Number(host.value),
      staff_ids: staffIds,
      ...travel.body(),
    };
    if (fold !== null) body.fold = fold;
    if (!editing) {
      sentRows = [...people.querySelectorAll(".participant-row")]
        .filter((row) => row.querySelector(".p-name").value.trim());
      body.participants = sentRows.map((row) => ({
        display_name: row.querySelector(".p-name").value.trim(),
        role: row.querySelector(".p-role").value,
        contact: choices.get(row).contact(),
        language: row.querySelector(".p-language").value || null,
        delivery: choices.get(row).delivery(),
      }));
      for (const row of sentRows) choices.get(row).clearError();
    }
    try {
      const saved = editing
        ? await patch(`/api/appointments/${id}`, body)
        : await post("/api/appointments", body);
      navigate(`#/appointment/${saved.id}`);
    } catch (e) {
      if (e.code === "ambiguous_local_time" && fold === null) {
        const chosen = await askFold(e.extra);
        if (chosen !== null) await save(null, chosen);
        return;
      }
      if (e.code === "nonexistent_local_time") {
        showError(t("form.nonexistent", {
          time: clockText(e.extra.local.slice(11, 16)), date: longDate(e.extra.local.slice(0, 10)),
          from: clockText(e.extra.jumps_from.slice(11, 16)),
          to: clockText(e.extra.jumps_to.slice(11, 16)),
        }));
        return;
      }
      if (!editing && CONTACT_ERRORS.includes(e.code) && showContactError(e, body.participants)) {
        return;
      }
      if (e.code === "appointment_overlap" && e.extra.starts_at) {
        showError(...clashMessage(e.extra));
        return;
      }
      showError(errorText(e.code));
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


