// A service's free times, a week at a time, as big buttons by day. Used to book
// (pages/book.js) and to move a booking (pages/book_manage.js). Times come from
// GET /api/book/<slug>/times and are shown in the service's zone (dates.js).

import { get } from "../api.js";
import { dayOf, formatDay } from "../dates.js";
import { clear, h } from "../dom.js";
import { errorText, t } from "../i18n.js";

const WEEK = 7;

/** "2026-12-11": ``n`` calendar days after ``day`` (no clocks, so no zone). */
export function addDays(day, n) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/** A start time as a big button; ``onChoose(iso)`` when tapped. */
export function timeButton(startsAt, onChoose) {
  // Through i18n's {time: iso} placeholder, so a language change rewrites it in place.
  const button = h("button", { type: "button", class: "button time-button",
    dataset: { startsAt }, i18n: "book.time", vars: { time: { time: startsAt } } });
  button.addEventListener("click", () => onChoose(startsAt, button));
  return button;
}

/** A few start times (the next free ones after a clash) as a row of big buttons. */
export function timeChoices(times, onChoose) {
  return h("ul", { class: "time-grid" },
    times.map((iso) => h("li", {},
      h("span", { class: "time-day", i18n: "book.date", vars: { date: { date: iso } } }),
      timeButton(iso, onChoose))));
}

/**
 * The week view. ``horizonDays``: how far ahead the service books (the next-week
 * button stops there). ``skip``: a start time not to offer (the booking being moved).
 * Returns {view, reload()}.
 */
export function freeTimes({ slug, horizonDays, onChoose, skip = null, headingLevel = "h2" }) {
  const today = dayOf(Date.now());
  const last = addDays(today, Math.max(0, (horizonDays || 60) - 1));
  let from = today;
  let days = null;
  let error = null;

  const title = h(headingLevel, { id: "week-title", class: "week-title" });
  const status = h("p", { class: "visually-hidden", attrs: { role: "status" } });
  const previous = h("button", { type: "button", class: "button secondary",
    dataset: { action: "previous-week" }, i18n: "book.previous_week",
    on: { click: () => go(addDays(from, -WEEK)) } });
  const next = h("button", { type: "button", class: "button secondary",
    dataset: { action: "next-week" }, i18n: "book.next_week",
    on: { click: () => go(addDays(from, WEEK)) } });
  const list = h("div", { class: "week-days" });
  const view = h("div", { class: "free-times", attrs: { "aria-labelledby": "week-title" } },
    h("div", { class: "week-head" }, title,
      h("nav", { class: "week-nav", i18nAttrs: { "aria-label": "book.week_nav" } }, previous, next)),
    status,
    list);

  function go(day) {
    from = day < today ? today : day;
    load();
  }

  async function load() {
    days = null;
    error = null;
    render();
    list.setAttribute("aria-busy", "true");
    const asked = from;
    try {
      const data = await get(`/api/book/${encodeURIComponent(slug)}/times?from=${asked}&days=${WEEK}`);
      if (asked !== from) return; // a later week was asked for meanwhile
      days = data.days;
    } catch (failure) {
      if (asked !== from) return;
      error = failure.code;
    }
    list.removeAttribute("aria-busy");
    render();
  }

  function render() {
    const to = addDays(from, WEEK - 1);
    title.textContent = `${formatDay(from, t, { year: false })} – ${formatDay(to, t, { year: false })}`;
    previous.disabled = from <= today;
    next.disabled = addDays(from, WEEK) > last;
    clear(list);
    if (error) {
      list.append(h("p", { class: "notice error", attrs: { role: "alert" } }, errorText(error)),
        h("button", { type: "button", class: "button primary", i18n: "common.try_again",
          on: { click: () => load() } }));
      return;
    }
    if (!days) {
      list.append(h("p", { class: "hint", i18n: "common.loading" }));
      return;
    }
    const free = days.map((d) => ({ date: d.date, times: d.times.filter((x) => x.starts_at !== skip) }));
    const count = free.reduce((n, d) => n + d.times.length, 0);
    if (!count) {
      list.append(h("div", { class: "notice none-this-week" },
        h("p", { i18n: next.disabled ? "book.none_left" : "book.none_this_week" }),
        next.disabled ? null : h("button", { type: "button", class: "button primary",
          i18n: "book.next_week", on: { click: () => go(addDays(from, WEEK)) } })));
      status.textContent = t(next.disabled ? "book.none_left" : "book.none_this_week");
      return;
    }
    status.textContent = t("book.times_found", { n: count });
    for (const day of free) {
      const dayTitle = h("h3", { class: "day-title" }, formatDay(day.date, t, { year: false }));
      list.append(h("section", { class: "free-day", dataset: { date: day.date } },
        dayTitle,
        day.times.length
          ? h("ul", { class: "time-grid" },
            day.times.map((x) => h("li", {}, timeButton(x.starts_at, onChoose))))
          : h("p", { class: "hint", i18n: "book.day_full" })));
    }
  }

  document.addEventListener("localechange", () => {
    if (view.isConnected) render();
  });
  load();
  return { view, reload: load };
}
