// Modal questions on the native <dialog> (focus stays inside it; Escape cancels).

import { h } from "../dom.js";

/**
 * Resolves to the ``value`` of the chosen answer, or null on cancel or Escape.
 * ``choices``: [{value, key, vars, className}], shown after a Cancel button (``cancelKey``).
 */
export function chooseDialog({ titleKey, textKey, vars, choices, cancelKey = "common.cancel" }) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "dialog", attrs: { "aria-labelledby": "dialog-title" } },
      h("h2", { id: "dialog-title", i18n: titleKey, vars }),
      textKey ? h("p", { i18n: textKey, vars }) : null,
      h("form", { method: "dialog", class: "actions" },
        h("button", { value: "cancel", class: "button secondary", i18n: cancelKey }),
        choices.map((choice) =>
          h("button", { value: choice.value, class: `button ${choice.className || "primary"}`,
            i18n: choice.key, vars: choice.vars }))));
    dialog.addEventListener("close", () => {
      const value = dialog.returnValue;
      dialog.remove();
      resolve(choices.some((c) => c.value === value) ? value : null);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Resolves true when the person chooses ``confirmKey``. */
export async function confirmDialog({ titleKey, textKey, vars, confirmKey, danger = false,
  cancelKey }) {
  const choice = await chooseDialog({
    titleKey, textKey, vars, cancelKey,
    choices: [{ value: "ok", key: confirmKey, className: danger ? "danger" : "primary" }],
  });
  return choice === "ok";
}
