// Administrators: create or edit a service families book themselves (#/services/new,
// #/services/7): its name and address, the slot rules, the kinds it offers (never child
// protection) and the professionals who serve it; then their weekly hours and the
// closures (service_hours.js), the travel distances per municipality (travel_distances.js),
// and the public page's address to copy.

import { get, patch, post } from "../api.js";
import { announce, clear, h } from "../dom.js";
import { errorText, t } from "../i18n.js";
import { KINDS } from "./appointment_form.js";
import { closuresEditor, hoursEditor } from "./service_hours.js";
import { publicUrlField } from "./services_view.js";
import { travelEditor } from "./travel_distances.js";

// Families may book these kinds; child protection is never offered for self-booking.
export const BOOKABLE_KINDS = KINDS.filter((k) => k !== "child_protection");

// The numbers of a service: [field, label, hint, min, max, default for a new service].
const NUMBERS = [
  ["slot_minutes", "services.slot_minutes", "services.slot_minutes_hint", 10, 240, 45],
  ["buffer_minutes", "services.buffer_minutes", "services.buffer_minutes_hint", 0, 240, 15],
  ["notice_minutes", "services.notice_minutes", "services.notice_minutes_hint", 0, 129600, 240],
  ["horizon_days", "services.horizon_days", "services.horizon_days_hint", 1, 366, 60],
  ["max_per_day", "services.max_per_day", "services.max_per_day_hint", 1, 100, 8],
  ["hold_minutes", "services.hold_minutes", "services.hold_minutes_hint", 1, 1440, 10],
  ["cutoff_minutes", "services.cutoff_minutes", "services.cutoff_minutes_hint", 0, 43200, 1440],
];

function field(id, labelKey, input, hintKey) {
  const hint = hintKey ? h("p", { id: `${id}-hint`, class: "hint", i18n: hintKey }) : null;
  if (hint) input.setAttribute("aria-describedby", `${id}-hint`);
  return h("div", { class: "field" }, h("label", { htmlFor: id, i18n: labelKey }), input, hint);
}

export function serviceForm({ id = null, navigate }) {
  const editing = id !== null;
  const error = h("div", { class: "notice error", hidden: true, attrs: { role: "alert" } });
  const name = h("input", { id: "s-name", type: "text", required: true, maxLength: 120 });
  const slug = h("input", { id: "s-slug", type: "text", required: true, maxLength: 60,
    pattern: "[a-z0-9]+(-[a-z0-9]+)*", attrs: { autocomplete: "off", spellcheck: "false" } });
  const numbers = Object.fromEntries(NUMBERS.map(([key, , , min, max, initial]) =>
    [key, h("input", { id: `s-${key}`, type: "number", required: true, min, max, step: 1,
      value: String(initial), class: "number" })]));
  const active = h("input", { id: "s-active", type: "checkbox", checked: true });
  const kinds = BOOKABLE_KINDS.map((k) => h("input", { id: `s-kind-${k}`, type: "checkbox",
    value: k, class: "s-kind" }));
  const staffBox = h("fieldset", { class: "checks" },
    h("legend", { i18n: "services.staff" }),
    h("p", { class: "hint", i18n: "services.staff_hint" }));
  const extra = h("div", { class: "service-extra" });
  const heading = h("h1", { id: "service-form-title",
    i18n: editing ? "services.edit_title" : "services.new_title" });

  const form = h("form", { class: "form service-form", on: { submit: (e) => save(e) } },
    h("div", { class: "field-row" },
      field("s-name", "services.name", name, "services.name_hint"),
      field("s-slug", "services.slug", slug, "services.slug_hint")),
    h("div", { class: "field-row numbers" },
      NUMBERS.map(([key, label, hint]) => field(`s-${key}`, label, numbers[key], hint))),
    h("fieldset", { class: "checks" },
      h("legend", { i18n: "services.kinds" }),
      h("p", { class: "hint", i18n: "services.kinds_hint" }),
      BOOKABLE_KINDS.map((k, i) => h("label", { class: "check", htmlFor: `s-kind-${k}` },
        kinds[i], h("span", { i18n: `kind.${k}` })))),
    staffBox,
    h("label", { class: "check", htmlFor: "s-active" }, active,
      h("span", { i18n: "services.active_label" })),
    error,
    h("div", { class: "actions" },
      h("a", { href: "#/services", class: "button secondary", i18n: "common.cancel" }),
      h("button", { type: "submit", class: "button primary", dataset: { action: "save-service" },
        i18n: editing ? "form.save" : "services.create" })));

  const view = h("section", { class: "card wide service", attrs: { "aria-labelledby": "service-form-title" } },
    h("p", {}, h("a", { href: "#/services", i18n: "services.back" })),
    heading, form, extra);

  let staff = [];
  let staffChecks = [];

  async function load() {
    try {
      staff = (await get("/api/staff")).staff.filter((s) => s.role !== "admin");
    } catch (failure) {
      showError(failure);
      return;
    }
    staffChecks = staff.map((s) => h("input", { id: `s-staff-${s.id}`, type: "checkbox",
      value: String(s.id), class: "s-staff" }));
    staffBox.append(...staff.map((s, i) => h("label", { class: "check", htmlFor: `s-staff-${s.id}` },
      staffChecks[i], h("span", {}, s.display_name))));
    if (!editing) {
      kinds.forEach((box) => { box.checked = box.value === "family_counselling"; });
      return;
    }
    await reload();
  }

  async function reload() {
    let answer;
    try {
      answer = await get(`/api/services/${id}`);
    } catch (failure) {
      showError(failure);
      return;
    }
    fill(answer.service || answer, answer);
  }

  function fill(service, answer) {
    name.value = service.name;
    slug.value = service.slug;
    for (const [key] of NUMBERS) numbers[key].value = String(service[key]);
    active.checked = Boolean(service.active);
    const chosenKinds = new Set(service.kinds || []);
    kinds.forEach((box) => { box.checked = chosenKinds.has(box.value); });
    const chosenStaff = new Set((service.staff_ids || []).map(Number));
    staffChecks.forEach((box) => { box.checked = chosenStaff.has(Number(box.value)); });
    const serving = staff.filter((s) => chosenStaff.has(s.id));
    clear(extra).append(
      publicUrlField(service),
      hoursEditor({ service: { ...service, hours: service.hours || answer.hours || [] },
        staff: serving }),
      closuresEditor({ service, staff: serving }),
      travelEditor({ service }));
  }

  function showError(failure) {
    clear(error).append(h("p", {}, errorText(failure.code)));
    error.hidden = false;
    announce(error.textContent);
  }

  let saving = false;
  async function save(event) {
    event.preventDefault();
    if (saving || !form.reportValidity()) return;
    saving = true;
    error.hidden = true;
    const body = {
      name: name.value.trim(),
      slug: slug.value.trim(),
      active: active.checked,
      kinds: kinds.filter((box) => box.checked).map((box) => box.value),
      staff_ids: staffChecks.filter((box) => box.checked).map((box) => Number(box.value)),
    };
    for (const [key] of NUMBERS) body[key] = Number(numbers[key].value);
    try {
      const answer = editing
        ? await patch(`/api/services/${id}`, body)
        : await post("/api/services", body);
      announce(t("services.saved"));
      if (editing) await reload();
      else navigate(`#/services/${(answer.service || answer).id}`);
    } catch (failure) {
      showError(failure);
    } finally {
      saving = false;
    }
  }

  load();
  return view;
}
