// Administrators: the services families book themselves (#/services), each with its
// public page's address to copy. One service's settings, hours and closures are in
// service_form.js and service_hours.js.

import { get } from "../api.js";
import { announce, clear, h } from "../dom.js";
import { errorText, t } from "../i18n.js";

/** The family's booking page, as it is given out (the server's KOTA_PUBLIC_URL). */
export function publicUrl(service) {
  return service.url || `${window.location.origin}/book/${encodeURIComponent(service.slug)}`;
}

/** A read-only field with the address and a Copy button (a selected field without clipboard). */
export function publicUrlField(service, id = "public-url") {
  return copyField({ id, labelKey: "services.public_url", value: publicUrl(service) });
}

/** A read-only field with a text to give out, and a Copy button ("Copied" is announced). */
export function copyField({ id, labelKey, value, copyKey = "services.copy_url",
  copiedKey = "services.url_copied" }) {
  const field = h("input", { id, type: "text", readOnly: true, value, class: "link-field" });
  const copy = h("button", { type: "button", class: "button secondary small",
    i18n: copyKey, dataset: { action: "copy-url" },
    on: { click: async () => {
      try {
        await navigator.clipboard.writeText(field.value);
        announce(t(copiedKey));
      } catch {
        field.select();
        announce(t("services.url_select"));
      }
    } } });
  return h("div", { class: "field public-url" },
    h("label", { htmlFor: id, i18n: labelKey }),
    h("div", { class: "url-row" }, field, copy));
}

export function servicesView() {
  const list = h("div", { class: "services-list", attrs: { "aria-busy": "true" } });
  const view = h("section", { class: "card wide", attrs: { "aria-labelledby": "services-title" } },
    h("div", { class: "day-head" },
      h("h1", { id: "services-title", i18n: "services.title" }),
      h("a", { href: "#/services/new", class: "button primary", i18n: "services.new",
        dataset: { action: "new-service" } })),
    h("p", { class: "lead", i18n: "services.lead" }),
    list);

  load();
  async function load() {
    let data;
    try {
      data = await get("/api/services");
    } catch (error) {
      list.replaceWith(h("p", { class: "notice error" }, errorText(error.code)));
      return;
    }
    list.removeAttribute("aria-busy");
    clear(list);
    const services = data.services || [];
    if (!services.length) {
      list.append(h("p", { class: "empty", i18n: "services.none" }));
      return;
    }
    list.append(h("ul", { class: "service-list" }, services.map((s) =>
      h("li", { class: "service-item", dataset: { service: String(s.id) } },
        h("div", { class: "service-head" },
          h("a", { href: `#/services/${s.id}`, class: "service-link" }, s.name),
          h("span", { class: s.active ? "tag open" : "tag",
            i18n: s.active ? "services.active" : "services.inactive" })),
        h("span", { class: "service-url" },
          h("span", { class: "visually-hidden", i18n: "services.public_url" }),
          h("code", {}, publicUrl(s)))))));
  }
  return view;
}
