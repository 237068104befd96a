// The families enrolled on a personal line: each has its own long-lived link (e.g. on a
// client tablet) that opens straight into the line and reaches its own worker(s).
// Enrolling shows the link once (only its hash is kept), with a copy button and plain
// words on putting it on a tablet; revoking closes the link for good.

import { del, get, post } from "../api.js";
import { announce, clear, h } from "../dom.js";
import { LOCALES, errorText, t } from "../i18n.js";
import { confirmDialog } from "./confirm.js";
import { copyField } from "./services_view.js";

const LANGUAGE_KEYS = { fi: "language.fi", sv: "language.sv", en: "language.en", se: "language.se" };

export function enrolmentsEditor({ line }) {
  const api = `/api/lines/${line.id}/enrolments`;
  const list = h("ul", { class: "enrolment-list", attrs: { "aria-busy": "true" } });
  const status = h("div", { class: "notice error", hidden: true, attrs: { role: "alert" } });
  const fresh = h("div", { class: "enrolment-fresh", hidden: true });
  const family = h("input", { id: "e-family", type: "text", required: true, maxLength: 80,
    attrs: { autocomplete: "off" } });
  const language = h("select", { id: "e-language" },
    LOCALES.map((code) => h("option", { value: code, i18n: LANGUAGE_KEYS[code] })));
  const workers = (line.staff || []).map((s) => h("input", { id: `e-staff-${s.id}`,
    type: "checkbox", value: String(s.id), class: "e-staff" }));
  const form = h("form", { class: "form enrolment-form", on: { submit: (e) => enrol(e) } },
    h("div", { class: "field-row" },
      h("div", { class: "field" },
        h("label", { htmlFor: "e-family", i18n: "lines.family_name" }), family,
        h("p", { class: "hint", id: "e-family-hint", i18n: "lines.family_name_hint" })),
      h("div", { class: "field" },
        h("label", { htmlFor: "e-language", i18n: "lines.family_language" }), language)),
    h("fieldset", { class: "checks" },
      h("legend", { i18n: "lines.workers" }),
      h("p", { class: "hint", i18n: "lines.workers_hint" }),
      (line.staff || []).map((s, i) => h("label", { class: "check", htmlFor: `e-staff-${s.id}` },
        workers[i], h("span", {}, s.display_name)))),
    status,
    h("div", { class: "actions start" },
      h("button", { type: "submit", class: "button primary", i18n: "lines.enrol",
        dataset: { action: "enrol" } })));
  family.setAttribute("aria-describedby", "e-family-hint");
  const names = new Map((line.staff || []).map((s) => [Number(s.id), s.display_name]));

  function showError(failure) {
    status.textContent = errorText(failure.code);
    status.hidden = false;
    announce(status.textContent);
  }

  async function load() {
    let data;
    try {
      data = await get(api);
    } catch (failure) {
      showError(failure);
      return;
    }
    list.removeAttribute("aria-busy");
    clear(list);
    const enrolments = data.enrolments || [];
    if (!enrolments.length) list.append(h("li", { class: "empty", i18n: "lines.no_enrolments" }));
    for (const e of enrolments) list.append(enrolmentItem(e));
  }

  function enrolmentItem(e) {
    const staffNames = (e.staff || []).map((s) => s.display_name || names.get(Number(s.id)) || "")
      .join(", ");
    const revoked = Boolean(e.revoked_at);
    return h("li", { class: revoked ? "enrolment revoked" : "enrolment",
      dataset: { enrolment: String(e.id) } },
      h("div", { class: "enrolment-info" },
        h("strong", { class: "enrolment-family" }, e.family_name),
        h("span", { class: "hint" },
          h("span", { i18n: LANGUAGE_KEYS[e.language] || "language.fi" }), " · ",
          staffNames || t("lines.workers_everyone")),
        h("span", { class: "hint", i18n: "lines.enrolled_on", vars: { date: { date: e.created_at } } }),
        e.last_used_at
          ? h("span", { class: "hint", i18n: "lines.last_used", vars: { date: { date: e.last_used_at } } })
          : null),
      revoked
        ? h("span", { class: "tag", i18n: "lines.revoked" })
        : h("button", { type: "button", class: "button danger small", i18n: "lines.revoke",
          dataset: { action: "revoke" }, on: { click: () => revoke(e) } }));
  }

  let busy = false;
  async function enrol(event) {
    event.preventDefault();
    if (busy || !form.reportValidity()) return;
    busy = true;
    status.hidden = true;
    try {
      const made = await post(api, {
        family_name: family.value.trim(),
        language: language.value,
        staff_ids: workers.filter((box) => box.checked).map((box) => Number(box.value)),
      });
      form.reset();
      showLink(made);
      await load();
    } catch (failure) {
      showError(failure);
    } finally {
      busy = false;
    }
  }

  function showLink(made) {
    clear(fresh).append(
      h("h3", { id: "enrolment-link-title", i18n: "lines.link_title",
        vars: { family: made.enrolment.family_name } }),
      h("p", { class: "notice", i18n: "lines.link_once" }),
      copyField({ id: "enrolment-link", labelKey: "lines.link_label", value: made.link,
        copyKey: "lines.copy_link", copiedKey: "lines.link_copied" }),
      h("h4", { i18n: "lines.tablet_title" }),
      h("ol", { class: "tablet-steps" },
        h("li", { i18n: "lines.tablet_step_1" }),
        h("li", { i18n: "lines.tablet_step_2" }),
        h("li", { i18n: "lines.tablet_step_3" }),
        h("li", { i18n: "lines.tablet_step_4" })),
      h("button", { type: "button", class: "button secondary small", i18n: "lines.link_hide",
        dataset: { action: "hide-link" }, on: { click: () => {
          clear(fresh);
          fresh.hidden = true;
          family.focus();
        } } }));
    fresh.hidden = false;
    fresh.querySelector("#enrolment-link").focus();
    announce(t("lines.enrolled"));
  }

  async function revoke(e) {
    const sure = await confirmDialog({ titleKey: "lines.revoke_title", textKey: "lines.revoke_text",
      vars: { family: e.family_name }, confirmKey: "lines.revoke", danger: true });
    if (!sure) return;
    try {
      await del(`${api}/${e.id}`);
      announce(t("lines.revoked_done"));
      await load();
    } catch (failure) {
      showError(failure);
    }
  }

  load();
  return h("section", { class: "line-enrolments", attrs: { "aria-labelledby": "enrolments-title" } },
    h("h2", { id: "enrolments-title", i18n: "lines.enrolments_title" }),
    h("p", { class: "hint", i18n: "lines.enrolments_hint" }),
    fresh, list,
    h("h3", { i18n: "lines.enrol_title" }),
    form);
}
