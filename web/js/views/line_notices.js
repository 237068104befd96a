// The plain pages of a contact line that ask nothing: closed now (and when it opens),
// full, the conversation ended, the line closed while waiting, left, a link that does
// not work. Kind words, one large button when there is something to do.

import { h } from "../dom.js";

/**
 * ``kind`` names the page (data-notice, for tests and styles); ``titleKey``/``textKey``
 * with ``vars``; ``name``: the line's name under the title; ``more``: extra elements;
 * ``action``: {key, run} for one button.
 */
export function lineNotice({ kind, titleKey, textKey, vars, name, more = [], action }) {
  return h("section", { class: "card center line-notice", dataset: { notice: kind },
    attrs: { "aria-labelledby": "line-notice-title" } },
    h("h1", { id: "line-notice-title", i18n: titleKey, vars }),
    name ? h("p", { class: "line-name" }, name) : null,
    textKey ? h("p", { class: "lead", i18n: textKey, vars }) : null,
    more,
    action
      ? h("div", { class: "actions" },
          h("button", { type: "button", class: "button primary wide", i18n: action.key,
            dataset: { action: `line-${kind}` }, on: { click: () => action.run() } }))
      : null);
}

/** Outside hours: when the line opens, in the page's language and Kota's zone. */
export function lineClosedNotice({ name, opensAt }) {
  return lineNotice({
    kind: "closed",
    titleKey: "line.closed.title",
    textKey: opensAt ? "line.closed.opens" : "line.closed.unknown",
    vars: opensAt ? { date: { date: opensAt }, time: { time: opensAt } } : undefined,
    name,
    more: [h("p", { i18n: opensAt ? "line.closed.keep_open" : "line.closed.later" })],
  });
}
