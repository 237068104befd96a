// Administrators: the contact lines (#/lines/setup), public ones with the address to give
// out. One line's settings are in lines_form.js; a personal line's families in
// lines_enrolments.js.

import { get } from "../api.js";
import { clear, h } from "../dom.js";
import { errorText } from "../i18n.js";

export const KIND_KEYS = { public: "lines.kind_public", personal: "lines.kind_personal" };
export const MODE_KEYS = { chat: "lines.mode_chat", video: "lines.mode_video", both: "lines.mode_both" };

export function linesSetupView() {
  const list = h("div", { class: "lines-setup-list", attrs: { "aria-busy": "true" } });
  const view = h("section", { class: "card wide", attrs: { "aria-labelledby": "lines-setup-title" } },
    h("p", {}, h("a", { href: "#/lines", i18n: "lines.back_to_board" })),
    h("div", { class: "day-head" },
      h("h1", { id: "lines-setup-title", i18n: "lines.setup_title" }),
      h("a", { href: "#/lines/setup/new", class: "button primary", i18n: "lines.new",
        dataset: { action: "new-line" } })),
    h("p", { class: "lead", i18n: "lines.setup_lead" }),
    list);

  load();
  async function load() {
    let data;
    try {
      data = await get("/api/lines");
    } catch (error) {
      list.replaceWith(h("p", { class: "notice error" }, errorText(error.code)));
      return;
    }
    list.removeAttribute("aria-busy");
    clear(list);
    const lines = data.lines || [];
    if (!lines.length) {
      list.append(h("p", { class: "empty", i18n: "lines.none" }));
      return;
    }
    list.append(h("ul", { class: "service-list" }, lines.map((line) =>
      h("li", { class: "service-item", dataset: { line: String(line.id) } },
        h("div", { class: "service-head" },
          h("a", { href: `#/lines/setup/${line.id}`, class: "service-link" }, line.name),
          h("span", { class: "tag kind", i18n: KIND_KEYS[line.kind] }),
          h("span", { class: line.active ? "tag open" : "tag",
            i18n: line.active ? "lines.active" : "lines.inactive" })),
        h("span", { class: "hint" },
          h("span", { i18n: MODE_KEYS[line.modes] }), " · ",
          (line.staff || []).map((s) => s.display_name).join(", ")),
        line.public_url
          ? h("span", { class: "service-url" },
            h("span", { class: "visually-hidden", i18n: "lines.public_url" }),
            h("code", {}, line.public_url))
          : null))));
  }
  return view;
}
