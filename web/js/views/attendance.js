// Who attended an appointment's call and for how long, from the usage log's call rows.

import { get } from "../api.js";
import { clear, h } from "../dom.js";
import { formatTime, t } from "../i18n.js";
import { staffZone } from "./staff_zone.js";

function duration(seconds) {
  const total = Math.max(0, Math.round(seconds || 0));
  return t("attendance.duration", { m: Math.floor(total / 60), s: total % 60 });
}

/**
 * A section that loads and shows attendance; it says so when there is none yet.
 * ``removed``: the appointment's personal data was removed (retention), so the blank
 * names say "removed" rather than "someone".
 */
export function attendanceSection(appointmentId, { removed = false } = {}) {
  const body = h("div", { class: "attendance-body" }, h("p", { class: "hint", i18n: "common.loading" }));
  const section = h("section", { class: "attendance" },
    h("h2", { i18n: "attendance.title" }), body);
  load();
  async function load() {
    let data;
    try {
      data = await get(`/api/appointments/${appointmentId}/attendance`);
    } catch {
      clear(body).append(h("p", { class: "hint", i18n: "attendance.unavailable" }));
      return;
    }
    const rows = (data.participants || []).filter((row) => row.first_joined);
    if (!rows.length) {
      clear(body).append(h("p", { class: "hint", i18n: "attendance.none" }));
      return;
    }
    const table = h("table", { class: "table" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col", i18n: "attendance.name" }),
        h("th", { scope: "col", i18n: "attendance.first_joined" }),
        h("th", { scope: "col", i18n: "attendance.last_left" }),
        h("th", { scope: "col", i18n: "attendance.time" }))),
      h("tbody", {}, rows.map((row) =>
        h("tr", {},
          h("td", {}, row.display_name
            || t(removed && row.kind === "participant" ? "appointment.removed_name" : "call.someone")),
          h("td", {}, row.first_joined ? formatTime(row.first_joined, staffZone()) : "–"),
          h("td", {}, row.last_left ? formatTime(row.last_left, staffZone()) : "–"),
          h("td", {}, duration(row.connected_seconds))))));
    clear(body).append(table);
  }
  return section;
}
