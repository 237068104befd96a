// A tiny element builder, so views are plain functions and no HTML string is ever parsed.

import { t } from "./i18n.js";

/**
 * h("button", {class: "big", i18n: "call.leave", on: {click: leave}}, child, ...)
 *
 * Props: class, i18n (text key), vars (its placeholders), attrs ({name: value}),
 * i18nAttrs ({attribute: key}), on ({event: handler}), dataset, hidden, and any
 * other property set directly on the element (type, value, disabled, ...).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (name === "class") el.className = value;
    else if (name === "i18n") {
      el.dataset.i18n = value;
      if (props.vars) el.dataset.i18nVars = JSON.stringify(props.vars);
      el.textContent = t(value, props.vars);
    } else if (name === "vars") continue;
    else if (name === "i18nAttrs") {
      el.dataset.i18nAttr = Object.entries(value)
        .map(([attr, key]) => `${attr}:${key}`)
        .join(";");
      for (const [attr, key] of Object.entries(value)) el.setAttribute(attr, t(key));
    } else if (name === "attrs") {
      for (const [attr, v] of Object.entries(value)) {
        if (v === false || v === null || v === undefined) continue;
        el.setAttribute(attr, v === true ? "" : String(v));
      }
    } else if (name === "on") {
      for (const [event, handler] of Object.entries(value)) el.addEventListener(event, handler);
    } else if (name === "dataset") {
      for (const [key, v] of Object.entries(value)) if (v !== undefined && v !== null) el.dataset[key] = v;
    }
    else el[name] = value;
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Change an element's translated text (and placeholders) in place. */
export function setText(el, key, vars) {
  el.dataset.i18n = key;
  if (vars) el.dataset.i18nVars = JSON.stringify(vars);
  else delete el.dataset.i18nVars;
  el.textContent = t(key, vars);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Show one view of a page: the others are hidden; focus moves to its heading. */
export function showView(container, view) {
  for (const child of container.children) child.hidden = child !== view;
  if (!view.isConnected) container.append(view);
  view.hidden = false;
  const heading = view.querySelector("h1, h2");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

/** Say something to screen readers through the page's polite live region. */
export function announce(text) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  // A new text node each time, so the same words are read again.
  requestAnimationFrame(() => {
    region.textContent = text;
  });
}
