// Joining a public contact line: the line's name, an optional nickname (never needed),
// and chat or video (only what the line offers), then one large button.

import { h } from "../dom.js";

const NICKNAME_MAX = 40;
const MODE_TEXTS = {
  chat: { title: "line.mode.chat", hint: "line.mode.chat_hint", only: "line.mode.only_chat" },
  video: { title: "line.mode.video", hint: "line.mode.video_hint", only: "line.mode.only_video" },
};

/** The modes a line's ``modes`` ("chat" | "video" | "both") lets a person choose. */
export function modesOf(modes) {
  if (modes === "chat" || modes === "video") return [modes];
  return ["chat", "video"];
}

/** ``onJoin({mode, nickname})`` when the person taps Join. */
export function lineJoinView({ line, onJoin }) {
  const modes = modesOf(line.modes);
  const nickname = h("input", {
    id: "line-nickname", type: "text", maxLength: NICKNAME_MAX,
    attrs: { autocomplete: "off", spellcheck: "false", "aria-describedby": "line-nickname-hint" },
  });
  const choices = modes.map((mode, index) =>
    h("label", { class: "mode-choice", dataset: { mode } },
      h("input", { type: "radio", name: "line-mode", value: mode, checked: index === 0 }),
      h("span", { class: "mode-text" },
        h("span", { class: "mode-title", i18n: MODE_TEXTS[mode].title }),
        h("span", { class: "mode-hint", i18n: MODE_TEXTS[mode].hint }))));
  const modeField = modes.length > 1
    ? h("fieldset", { class: "mode-choices" },
        h("legend", { class: "label", i18n: "line.mode.choose" }), choices)
    : h("p", { class: "only-mode", i18n: MODE_TEXTS[modes[0]].only });
  const form = h("form", { class: "form line-join-form", on: { submit: (event) => {
    event.preventDefault();
    const checked = form.querySelector("input[name=line-mode]:checked");
    onJoin({ mode: checked ? checked.value : modes[0], nickname: nickname.value.trim() });
  } } },
    h("div", { class: "field" },
      h("label", { htmlFor: "line-nickname", i18n: "line.nickname" }),
      h("p", { id: "line-nickname-hint", class: "hint", i18n: "line.nickname_hint" }),
      nickname),
    modeField,
    h("p", { class: "hint", i18n: "line.anonymous" }),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "button primary wide", i18n: "line.join",
        dataset: { action: "line-join" } })));
  return h("section", { class: "card line-join", attrs: { "aria-labelledby": "line-title" } },
    h("h1", { id: "line-title" }, line.name),
    h("p", { class: "lead", i18n: "line.join_lead" }),
    form);
}
