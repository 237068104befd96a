// The offer of sound only when a connection is too weak for video (LinkQuality says
// so): a plain sentence and a large button. The person may keep video; the offer then
// stays away until the link has recovered and weakens again. The call's own sound-only
// button works at any time either way.

import { announce, h } from "../dom.js";
import { t } from "../i18n.js";

/** ``onAudioOnly()`` switches the call to sound only. Returns {element, render()}. */
export function weakLinkBanner({ call, onAudioOnly }) {
  let dismissed = false;
  let shown = false;
  const element = h("div", { class: "quality-banner", hidden: true },
    h("p", { class: "quality-text" },
      h("strong", { i18n: "quality.weak_title" }), " ",
      h("span", { i18n: "quality.weak_text" })),
    h("div", { class: "quality-actions" },
      h("button", {
        type: "button", class: "button primary", i18n: "quality.switch",
        dataset: { action: "quality-audio-only" }, on: { click: () => onAudioOnly() },
      }),
      h("button", {
        type: "button", class: "button secondary", i18n: "quality.keep_video",
        dataset: { action: "quality-dismiss" },
        on: { click: () => { dismissed = true; render(); } },
      })));

  function render() {
    const weak = call.weakLink;
    if (!weak) dismissed = false;
    const show = weak && !dismissed && !call.audioOnly;
    element.hidden = !show;
    if (show && !shown) announce(`${t("quality.weak_title")} ${t("quality.weak_text")}`);
    shown = show;
  }

  return { element, render };
}
