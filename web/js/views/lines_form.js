// Administrators: create or edit a contact line (#/lines/setup/new, #/lines/setup/7): its
// name and address, kind and modes, queue cap, grace after closing, when a family may ask
// for a call back, who serves it, its weekly hours and closed days, all saved together
// (POST /api/lines, PUT /api/lines/<id>); deactivate it; and for a personal line, its
// enrolled families (lines_enrolments.js).

import { del, get, post, put } from "../api.js";
import { announce, clear, h } from "../dom.js";
import { errorText, t } from "../i18n.js";
import { confirmDialog } from "./confirm.js";
import { enrolmentsEditor } from "./lines_enrolments.js";
import { KIND_KEYS, MODE_KEYS } from "./lines_setup.js";
import { hoursRow } from "./service_hours.js";
import { copyField } from "./services_view.js";
import { staffZone } from "./staff_zone.js";

// The numbers of a line: [field, label, hint, min, max, default for a new line].
const NUMBERS = [
  ["queue_cap", "lines.queue_cap", "lines.queue_cap_hint", 1, 1000, 20],
  ["grace_minutes", "lines.grace_minutes", "lines.grace_minutes_hint", 0, 120, 10],
  ["callback_after_minutes", "lines.callback_after", "lines.callback_after_hint", 1, 240, 15],
];
const HOURS_OWNER = { id: "line" };

function field(id, labelKey, input, hintKey) {
  const hint = hintKey ? h("p", { id: `${id}-hint`, class: "hint", i18n: hintKey }) : null;
  if (hint) input.setAttribute("aria-describedby", `${id}-hint`);
  return h("div", { class: "field" }, h("label", { htmlFor: id, i18n: labelKey }), input, hint);
}

function choice(name, value, labelKey, checked) {
  const id = `${name}-${value}`;
  return h("label", { class: "check", htmlFor: id },
    h("input", { id, type: "radio", name, value, checked }),
    h("span", { i18n: labelKey }));
}

let closureRows = 0;
function closureRow(closure = { starts_on: "", ends_on: "", note: "" }) {
  const base = `lc-${closureRows++}`;
  const item = h("li", { class: "hours-row closure-row" },
    h("div", { class: "field" }, h("label", { htmlFor: `${base}-starts`, i18n: "lines.closure_starts" }),
      h("input", { id: `${base}-starts`, type: "date", required: true, value: closure.starts_on,
        class: "lc-starts" })),
    h("div", { class: "field" }, h("label", { htmlFor: `${base}-ends`, i18n: "lines.closure_ends" }),
      h("input", { id: `${base}-ends`, type: "date", required: true, value: closure.ends_on,
        class: "lc-ends" })),
    h("div", { class: "field" }, h("label", { htmlFor: `${base}-note`, i18n: "lines.closure_note" }),
      h("input", { id: `${base}-note`, type: "text", maxLength: 100, value: closure.note || "",
        class: "lc-note" })),
    h("button", { type: "button", class: "button secondary small", i18n: "lines.remove_closure",
      on: { click: () => item.remove() } }));
  return item;
}

export function lineForm({ id = null, navigate }) {
  const editing = id !== null;
  const error = h("div", { class: "notice error", hidden: true, attrs: { role: "alert" } });
  const name = h("input", { id: "l-name", type: "text", required: true, maxLength: 80 });
  const slug = h("input", { id: "l-slug", type: "text", required: true, maxLength: 60,
    pattern: "[a-z0-9]([a-z0-9\\-]*[a-z0-9])?", attrs: { autocomplete: "off", spellcheck: "false" } });
  const numbers = Object.fromEntries(NUMBERS.map(([key, , , min, max, initial]) =>
    [key, h("input", { id: `l-${key}`, type: "number", required: true, min, max, step: 1,
      value: String(initial), class: "number" })]));
  const staffBox = h("fieldset", { class: "checks" },
    h("legend", { i18n: "lines.staff" }),
    h("p", { class: "hint", i18n: "lines.staff_hint" }));
  const hoursList = h("ul", { class: "hours-list" });
  const closureList = h("ul", { class: "closure-list" });
  const publicBox = h("div", { class: "line-public" });
  const extra = h("div", { class: "line-extra" });
  const deactivate = h("button", { type: "button", class: "button danger", hidden: true,
    i18n: "lines.deactivate", dataset: { action: "deactivate-line" }, on: { click: () => remove() } });
  const reactivate = h("button", { type: "button", class: "button secondary", hidden: true,
    i18n: "lines.reactivate", dataset: { action: "reactivate-line" },
    on: { click: () => saveLine({ ...body(), active: true }) } });

  const form = h("form", { class: "form line-form", on: { submit: (e) => save(e) } },
    h("div", { class: "field-row" },
      field("l-name", "lines.name", name, "lines.name_hint"),
      field("l-slug", "lines.slug", slug, "lines.slug_hint")),
    h("fieldset", { class: "checks" },
      h("legend", { i18n: "lines.kind" }),
      choice("l-kind", "public", "lines.kind_public_label", !editing),
      choice("l-kind", "personal", "lines.kind_personal_label", false)),
    h("fieldset", { class: "checks" },
      h("legend", { i18n: "lines.modes" }),
      Object.entries(MODE_KEYS).map(([mode, key]) => choice("l-modes", mode, key, mode === "both"))),
    h("div", { class: "field-row numbers" },
      NUMBERS.map(([key, label, hint]) => field(`l-${key}`, label, numbers[key], hint))),
    staffBox,
    h("section", { class: "line-hours", attrs: { "aria-labelledby": "line-hours-title" } },
      h("h2", { id: "line-hours-title", i18n: "lines.hours_title" }),
      h("p", { class: "hint", i18n: "lines.hours_hint", vars: { zone: staffZone() } }),
      hoursList,
      h("button", { type: "button", class: "button secondary small", i18n: "lines.add_hours",
        dataset: { action: "add-hours" }, on: { click: () => addHours() } })),
    h("section", { class: "line-closures", attrs: { "aria-labelledby": "line-closures-title" } },
      h("h2", { id: "line-closures-title", i18n: "lines.closures_title" }),
      h("p", { class: "hint", i18n: "lines.closures_hint" }),
      closureList,
      h("button", { type: "button", class: "button secondary small", i18n: "lines.add_closure",
        dataset: { action: "add-closure" }, on: { click: () => {
          const row = closureRow();
          closureList.append(row);
          row.querySelector("input").focus();
        } } })),
    error,
    h("div", { class: "actions" },
      deactivate, reactivate,
      h("a", { href: "#/lines/setup", class: "button secondary", i18n: "common.cancel" }),
      h("button", { type: "submit", class: "button primary", dataset: { action: "save-line" },
        i18n: editing ? "lines.save" : "lines.create" })));

  const view = h("section", { class: "card wide line-setup", attrs: { "aria-labelledby": "line-form-title" } },
    h("p", {}, h("a", { href: "#/lines/setup", i18n: "lines.back_to_setup" })),
    h("h1", { id: "line-form-title", i18n: editing ? "lines.edit_title" : "lines.new_title" }),
    publicBox, form, extra);

  let staff = [];
  let staffChecks = [];
  let hourRows = 0;

  function addHours(row) {
    const last = hoursList.lastElementChild;
    const weekday = last ? (Number(last.querySelector(".h-weekday").value) + 1) % 7 : 0;
    const item = hoursRow(HOURS_OWNER, row || { weekday, opens: "09:00", closes: "15:00" }, hourRows++);
    hoursList.append(item);
    if (!row) item.querySelector("select").focus();
  }

  async function load() {
    try {
      staff = (await get("/api/staff")).staff;
    } catch (failure) {
      showError(failure);
      return;
    }
    staffChecks = staff.map((s) => h("input", { id: `l-staff-${s.id}`, type: "checkbox",
      value: String(s.id), class: "l-staff" }));
    staffBox.append(...staff.map((s, i) => h("label", { class: "check", htmlFor: `l-staff-${s.id}` },
      staffChecks[i], h("span", {}, s.display_name))));
    if (editing) await reload();
  }

  async function reload() {
    let line;
    try {
      const answer = await get("/api/lines");
      line = (answer.lines || []).find((l) => l.id === id);
    } catch (failure) {
      showError(failure);
      return;
    }
    if (!line) {
      showError({ code: "line_not_found" });
      return;
    }
    fill(line);
  }

  function fill(line) {
    name.value = line.name;
    slug.value = line.slug;
    form.querySelector(`input[name=l-kind][value=${line.kind}]`).checked = true;
    form.querySelector(`input[name=l-modes][value=${line.modes}]`).checked = true;
    for (const [key] of NUMBERS) numbers[key].value = String(line[key]);
    const chosen = new Set((line.staff || []).map((s) => Number(s.id)));
    staffChecks.forEach((box) => { box.checked = chosen.has(Number(box.value)); });
    clear(hoursList);
    for (const row of line.hours || []) addHours(row);
    clear(closureList).append(...(line.closures || []).map((c) => closureRow(c)));
    deactivate.hidden = !line.active;
    reactivate.hidden = line.active;
    clear(publicBox);
    if (!line.active) publicBox.append(h("p", { class: "notice", i18n: "lines.inactive_notice" }));
    if (line.public_url) {
      publicBox.append(copyField({ id: "line-public-url", labelKey: "lines.public_url",
        value: line.public_url, copiedKey: "lines.url_copied" }));
    }
    clear(extra);
    if (line.kind === "personal") extra.append(enrolmentsEditor({ line }));
  }

  function showError(failure) {
    clear(error).append(h("p", {}, errorText(failure.code)));
    error.hidden = false;
    announce(error.textContent);
  }

  function body() {
    return {
      name: name.value.trim(),
      slug: slug.value.trim(),
      kind: form.querySelector("input[name=l-kind]:checked").value,
      modes: form.querySelector("input[name=l-modes]:checked").value,
      ...Object.fromEntries(NUMBERS.map(([key]) => [key, Number(numbers[key].value)])),
      staff_ids: staffChecks.filter((box) => box.checked).map((box) => Number(box.value)),
      hours: [...hoursList.querySelectorAll(".hours-row")].map((row) => ({
        weekday: Number(row.querySelector(".h-weekday").value),
        opens: row.querySelector(".h-opens").value,
        closes: row.querySelector(".h-closes").value,
      })),
      closures: [...closureList.querySelectorAll(".closure-row")].map((row) => ({
        starts_on: row.querySelector(".lc-starts").value,
        ends_on: row.querySelector(".lc-ends").value,
        note: row.querySelector(".lc-note").value.trim(),
      })),
    };
  }

  async function save(event) {
    event.preventDefault();
    if (form.reportValidity()) await saveLine(body());
  }

  let saving = false;
  async function saveLine(values) {
    if (saving) return;
    saving = true;
    error.hidden = true;
    try {
      const line = editing ? await put(`/api/lines/${id}`, values) : await post("/api/lines", values);
      announce(t("lines.saved"));
      if (editing) {
        if (line && line.id) fill(line);
        else await reload();
      }
      else navigate(`#/lines/setup/${line.id}`);
    } catch (failure) {
      showError(failure);
    } finally {
      saving = false;
    }
  }

  async function remove() {
    const sure = await confirmDialog({ titleKey: "lines.deactivate_title",
      textKey: "lines.deactivate_text", confirmKey: "lines.deactivate", danger: true });
    if (!sure) return;
    try {
      await del(`/api/lines/${id}`);
      announce(t("lines.deactivated"));
      await reload();
    } catch (failure) {
      showError(failure);
    }
  }

  load();
  return view;
}
