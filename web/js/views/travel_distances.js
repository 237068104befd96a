// Travel for the organisation report. Administrators list, in a service's form, the
// one-way distance and travel time from each municipality to the service's office
// (PUT /api/services/<id>/travel replaces the list). The appointment form offers a
// service, the family's municipality (the service's list, or typed) and an optional
// distance for that one meeting; the appointment page shows them.

import { get, put } from "../api.js";
import { announce, clear, h, setText } from "../dom.js";
import { errorText, t } from "../i18n.js";
import { formatNumber } from "./report_charts.js";

const MAX_KM = 2000;
const MAX_MINUTES = 2000;

function numberField(id, labelKey, value, { step, cls }) {
  const input = h("input", { id, type: "number", min: 0, max: step === 1 ? MAX_MINUTES : MAX_KM,
    step, class: `number ${cls}`, value: value === null || value === undefined ? "" : String(value),
    attrs: { inputmode: step === 1 ? "numeric" : "decimal" } });
  return { input, field: h("div", { class: "field number-field" },
    h("label", { htmlFor: id, i18n: labelKey }), input) };
}

let rowCount = 0;

function distanceRow(distance = { municipality: "", km: "", minutes: "" }) {
  rowCount += 1;
  const base = `tr-${rowCount}`;
  const name = h("input", { id: `${base}-name`, type: "text", required: true, maxLength: 60,
    class: "t-municipality", value: distance.municipality, attrs: { autocomplete: "off" } });
  const km = numberField(`${base}-km`, "travel.km", distance.km, { step: "0.1", cls: "t-km" });
  const minutes = numberField(`${base}-min`, "travel.minutes", distance.minutes, { step: 1, cls: "t-minutes" });
  km.input.required = true;
  minutes.input.required = true;
  const row = h("li", { class: "travel-row" },
    h("div", { class: "field" }, h("label", { htmlFor: `${base}-name`, i18n: "travel.municipality" }), name),
    km.field, minutes.field,
    h("button", { type: "button", class: "button secondary small", i18n: "travel.remove",
      dataset: { action: "remove-travel" }, on: { click: () => {
        const list = row.parentElement;
        row.remove();
        const next = list && list.querySelector(".t-municipality");
        if (next) next.focus();
      } } }));
  return row;
}

/** The service form's "Travel distances": rows of municipality, km and minutes. */
export function travelEditor({ service }) {
  const list = h("ul", { class: "travel-list", attrs: { "aria-busy": "true" } });
  const status = h("p", { class: "notice", hidden: true, attrs: { role: "status" } });
  const empty = h("p", { class: "hint travel-empty", i18n: "travel.none", hidden: true });
  const form = h("form", { class: "form travel-form", on: { submit: (e) => save(e) } },
    list, empty,
    h("button", { type: "button", class: "button secondary", i18n: "travel.add",
      dataset: { action: "add-travel" }, on: { click: () => {
        const row = distanceRow();
        list.append(row);
        empty.hidden = true;
        row.querySelector("input").focus();
      } } }),
    status,
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "button primary", i18n: "travel.save",
        dataset: { action: "save-travel" } })));

  function show(distances) {
    clear(list).append(...distances.map((d) => distanceRow(d)));
    list.removeAttribute("aria-busy");
    empty.hidden = distances.length > 0;
  }

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", isError);
    status.hidden = false;
    announce(text);
  }

  async function load() {
    try {
      show((await get(`/api/services/${service.id}/travel`)).distances);
    } catch (failure) {
      say(errorText(failure.code), true);
    }
  }

  async function save(event) {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const distances = [...list.querySelectorAll(".travel-row")].map((row) => ({
      municipality: row.querySelector(".t-municipality").value.trim(),
      km: Number(row.querySelector(".t-km").value),
      minutes: Number(row.querySelector(".t-minutes").value),
    }));
    try {
      show((await put(`/api/services/${service.id}/travel`, { distances })).distances);
      say(t("travel.saved"), false);
    } catch (failure) {
      say(errorText(failure.code), true);
    }
  }

  load();
  return h("section", { class: "service-travel", attrs: { "aria-labelledby": "travel-title" } },
    h("h2", { id: "travel-title", i18n: "travel.title" }),
    h("p", { class: "hint", i18n: "travel.hint" }),
    form);
}

/**
 * The appointment form's optional service, family's municipality and own travel.
 * ``body()`` gives service_id, municipality, travel_km and travel_minutes (null when
 * empty); ``fill(appointment)`` shows a saved appointment's.
 */
export function appointmentTravelFields() {
  const service = h("select", { id: "f-service", dataset: { action: "travel-service" } },
    h("option", { value: "", i18n: "travel.no_service" }));
  const municipality = h("input", { id: "f-municipality", type: "text", maxLength: 60,
    attrs: { list: "f-municipalities", autocomplete: "off", "aria-describedby": "f-municipality-hint f-configured" } });
  const choices = h("datalist", { id: "f-municipalities" });
  const configured = h("p", { id: "f-configured", class: "hint", attrs: { "aria-live": "polite" } });
  const km = numberField("f-travel-km", "travel.km", null, { step: "0.1", cls: "f-travel-km" });
  const minutes = numberField("f-travel-minutes", "travel.minutes", null, { step: 1, cls: "f-travel-minutes" });
  const serviceField = h("div", { class: "field" },
    h("label", { htmlFor: "f-service", i18n: "travel.service" }), service);
  let distances = [];

  function showConfigured() {
    const name = municipality.value.trim().toLowerCase();
    const found = distances.find((d) => d.municipality.toLowerCase() === name);
    if (found) {
      setText(configured, "travel.configured", { km: formatNumber(found.km), minutes: found.minutes });
    } else {
      delete configured.dataset.i18n;
      configured.textContent = "";
    }
  }

  async function loadDistances() {
    distances = [];
    if (service.value) {
      try {
        distances = (await get(`/api/services/${service.value}/travel`)).distances;
      } catch {
        distances = [];
      }
    }
    clear(choices).append(...distances.map((d) => h("option", { value: d.municipality })));
    showConfigured();
  }

  service.addEventListener("change", loadDistances);
  municipality.addEventListener("input", showConfigured);

  const element = h("fieldset", { class: "appointment-travel" },
    h("legend", { i18n: "travel.form_title" }),
    h("p", { class: "hint", i18n: "travel.form_hint" }),
    h("div", { class: "field-row" },
      serviceField,
      h("div", { class: "field" },
        h("label", { htmlFor: "f-municipality", i18n: "travel.family_municipality" }), municipality, choices,
        h("p", { id: "f-municipality-hint", class: "hint", i18n: "travel.municipality_hint" }))),
    configured,
    h("fieldset", { class: "travel-override" },
      h("legend", { i18n: "travel.override" }),
      h("p", { class: "hint", i18n: "travel.override_hint" }),
      h("div", { class: "field-row travel-numbers" }, km.field, minutes.field)));

  /** Services to choose from (GET /api/services, open to all staff). */
  async function loadServices(chosen) {
    let services = [];
    try {
      services = (await get("/api/services")).services;
    } catch {
      services = [];
    }
    if (chosen !== null && chosen !== undefined && !services.some((s) => s.id === chosen)) {
      services.push({ id: chosen, name: `#${chosen}` });
    }
    serviceField.hidden = services.length === 0;
    clear(service).append(h("option", { value: "", i18n: "travel.no_service" }),
      ...services.map((s) => h("option", { value: String(s.id) }, s.name)));
    service.value = chosen === null || chosen === undefined ? "" : String(chosen);
    await loadDistances();
  }

  return {
    element,
    async fill(appointment = {}) {
      municipality.value = appointment.municipality || "";
      km.input.value = appointment.travel_km ?? "";
      minutes.input.value = appointment.travel_minutes ?? "";
      await loadServices(appointment.service_id ?? null);
    },
    body() {
      const number = (input) => (input.value === "" ? null : Number(input.value));
      return {
        service_id: service.value ? Number(service.value) : null,
        municipality: municipality.value.trim() || null,
        travel_km: number(km.input),
        travel_minutes: number(minutes.input),
      };
    },
  };
}

/** The appointment page's facts about service and travel (staff only), or nothing. */
export function travelFacts(appointment) {
  const a = appointment;
  const own = a.travel_km !== null || a.travel_minutes !== null;
  if (a.service_id === null && !a.municipality && !own) return [];
  const facts = [];
  if (a.service_id !== null) {
    const name = h("dd", { class: "travel-service" }, `#${a.service_id}`);
    // Every staff member may list the services; the number stays if the list fails.
    get("/api/services").then(({ services }) => {
      const found = services.find((s) => s.id === a.service_id);
      if (found) name.textContent = found.name;
    }).catch(() => {});
    facts.push(h("dt", { i18n: "travel.service" }), name);
  }
  if (a.municipality) {
    facts.push(h("dt", { i18n: "travel.family_municipality" }), h("dd", { class: "travel-municipality" }, a.municipality));
  }
  // Only the figures staff set: "50 km", "45 min" or both.
  const parts = [
    a.travel_km === null ? null : t("travel.km_value", { km: formatNumber(a.travel_km) }),
    a.travel_minutes === null ? null : t("travel.minutes_value", { minutes: a.travel_minutes }),
  ].filter(Boolean);
  facts.push(h("dt", { i18n: "travel.one_way" }), own
    ? h("dd", { class: "travel-own" }, parts.join(", "))
    : h("dd", { class: "travel-own", i18n: "travel.uses_service" }));
  return facts;
}
