// /book/manage#<token>: the family's own booking. Until the service's cut-off it can be
// moved (the same week of free times as the booking page, views/free_times.js) or
// cancelled; after it, the page says whom to contact. A cancelled or past booking says so.

import { get, post } from "../api.js";
import { setServerZone } from "../dates.js";
import { announce, clear, h, showView } from "../dom.js";
import { errorText, t } from "../i18n.js";
import { bookingFacts } from "../views/booking_facts.js";
import { confirmDialog } from "../views/confirm.js";
import { freeTimes, timeChoices } from "../views/free_times.js";
import { bookAgainLink, followBookingLanguage, problemView, rememberSlug, setTitle,
  startPublicPage, takeToken } from "../views/public_page.js";

const main = document.getElementById("main");
let token = takeToken("kota.book.manage");
let service = null; // the public facts of the booking's service (zone, horizon)

// Each state's heading and, where the page says no more, its explanation.
const STATE_TEXTS = {
  open: { title: "book.manage.open.title" },
  past_cutoff: { title: "book.manage.past_cutoff.title" },
  held: { title: "book.manage.held.title", text: "book.manage.held.text" },
  cancelled: { title: "book.manage.cancelled.title", text: "book.manage.cancelled.text" },
  expired: { title: "book.manage.expired.title", text: "book.manage.expired.text" },
  over: { title: "book.manage.over.title", text: "book.manage.over.text" },
};

function stateOf(booking) {
  if (booking.state === "cancelled") return "cancelled";
  if (booking.state === "expired") return "expired";
  if (booking.state === "held") return "held";
  if (Date.parse(booking.ends_at) <= Date.now()) return "over";
  return booking.can_change ? "open" : "past_cutoff";
}

function manageView(answer, done) {
  const { booking } = answer;
  const state = stateOf(booking);
  const status = h("div", { class: "manage-status", attrs: { role: "status" } });
  if (done) status.append(h("p", { class: "notice success", i18n: done }));
  const view = h("section", { class: "card manage", dataset: { state },
    attrs: { "aria-labelledby": "manage-title" } },
    h("h1", { id: "manage-title", i18n: STATE_TEXTS[state].title }),
    status,
    bookingFacts(booking));

  if (state === "cancelled" || state === "expired" || state === "over") {
    view.append(h("p", { class: "lead", i18n: STATE_TEXTS[state].text }),
      h("div", { class: "actions start" }, bookAgainLink(booking.slug)));
    return view;
  }
  if (state === "held") {
    view.append(h("p", { class: "lead", i18n: STATE_TEXTS.held.text }));
    return view;
  }
  if (answer.join_url) {
    view.append(h("div", { class: "actions start" },
      h("a", { class: "button primary", href: answer.join_url, i18n: "book.open_meeting",
        dataset: { action: "open-meeting" } })),
    h("p", { class: "hint", i18n: "book.meeting_opens" }));
  }
  if (state === "past_cutoff") {
    view.append(h("p", { class: "notice past-cutoff", i18n: "book.manage.past_cutoff.text",
      vars: { service: booking.service, host: booking.host_first_name,
        date: { date: booking.cutoff_at }, time: { time: booking.cutoff_at } } }));
    return view;
  }
  view.append(
    h("p", { class: "hint", i18n: "book.manage.until",
      vars: { date: { date: booking.cutoff_at }, time: { time: booking.cutoff_at } } }),
    moveSection(booking),
    cancelSection(booking));
  return view;
}

// --- move ---------------------------------------------------------------------------------

function moveSection(booking) {
  const problem = h("div", { class: "notice error", hidden: true, attrs: { role: "alert" } });
  const area = h("div", { class: "move-times", hidden: true });
  let times = null;
  let sending = false;
  const open = h("button", { type: "button", class: "button secondary wide",
    i18n: "book.manage.move", dataset: { action: "move" },
    on: { click: () => {
      area.hidden = false;
      open.hidden = true;
      if (!times) {
        times = freeTimes({ slug: booking.slug, horizonDays: service && service.horizon_days,
          onChoose: moveTo, skip: booking.starts_at, headingLevel: "h3" });
        area.append(times.view);
      }
      area.querySelector("h3").focus();
    } } });

  async function moveTo(startsAt) {
    if (sending) return;
    const sure = await confirmDialog({ titleKey: "book.manage.move_confirm_title",
      textKey: "book.manage.move_confirm_text",
      vars: { date: { date: startsAt }, time: { time: startsAt } },
      confirmKey: "book.manage.move_confirm", cancelKey: "book.manage.keep_time" });
    if (!sure) return;
    sending = true;
    area.setAttribute("aria-busy", "true");
    problem.hidden = true;
    try {
      await post("/api/book/manage/move", { token, starts_at: startsAt });
      await load("book.manage.moved");
    } catch (error) {
      if (error.code === "past_cutoff") {
        await load();
        return;
      }
      clear(problem);
      if (error.code === "slot_taken") {
        const next = ((error.extra && error.extra.next_free) || []).filter((x) => x !== booking.starts_at);
        problem.append(h("p", { class: "problem-title", i18n: "book.slot_taken" }));
        if (next.length) {
          problem.append(h("p", { i18n: "book.slot_taken_next" }), timeChoices(next, moveTo));
        }
        if (times) times.reload();
      } else {
        problem.append(h("p", {}, errorText(error.code)));
      }
      problem.hidden = false;
      problem.scrollIntoView({ block: "nearest" });
      announce(problem.textContent);
    } finally {
      sending = false;
      area.removeAttribute("aria-busy");
    }
  }

  return h("section", { class: "manage-move", attrs: { "aria-labelledby": "move-title" } },
    h("h2", { id: "move-title", i18n: "book.manage.move_title" }),
    h("p", { i18n: "book.manage.move_text" }),
    open, problem, area);
}

// --- cancel -------------------------------------------------------------------------------

function cancelSection(booking) {
  const problem = h("p", { class: "notice error", hidden: true, attrs: { role: "alert" } });
  const button = h("button", { type: "button", class: "button danger wide",
    i18n: "book.manage.cancel", dataset: { action: "cancel-booking" },
    on: { click: () => cancel() } });

  async function cancel() {
    const sure = await confirmDialog({ titleKey: "book.manage.cancel_confirm_title",
      textKey: "book.manage.cancel_confirm_text",
      vars: { date: { date: booking.starts_at }, time: { time: booking.starts_at } },
      confirmKey: "book.manage.cancel_confirm", cancelKey: "book.manage.keep_booking",
      danger: true });
    if (!sure) return;
    button.disabled = true;
    try {
      await post("/api/book/manage/cancel", { token });
      await load("book.manage.cancelled_now");
    } catch (error) {
      if (error.code === "past_cutoff") {
        await load();
        return;
      }
      problem.textContent = errorText(error.code);
      problem.hidden = false;
      button.disabled = false;
    }
  }

  return h("section", { class: "manage-cancel", attrs: { "aria-labelledby": "cancel-title" } },
    h("h2", { id: "cancel-title", i18n: "book.manage.cancel_title" }),
    h("p", { i18n: "book.manage.cancel_text" }),
    problem, button);
}

// --- start --------------------------------------------------------------------------------

function failedView(error) {
  if (error.code === "no_token") {
    return problemView({ titleKey: "book.no_token_title", textKey: "book.no_token_text",
      code: "no_token" });
  }
  const view = problemView({ titleKey: "book.manage.failed_title", textKey: null,
    code: error.code });
  view.querySelector("h1").after(h("p", { class: "lead" }, errorText(error.code)));
  if (error.code === "network" || error.status >= 500) {
    view.querySelector(".actions").append(h("button", { type: "button", class: "button primary",
      i18n: "common.try_again", on: { click: () => load() } }));
  }
  return view;
}

/** Ask for the booking's state and show it; ``done``: the text of what just happened. */
async function load(done) {
  setTitle("book.manage.page_title");
  if (!token) {
    clear(main);
    showView(main, failedView({ code: "no_token" }));
    return;
  }
  let answer;
  try {
    answer = await post("/api/book/manage", { token });
  } catch (error) {
    clear(main);
    showView(main, failedView(error));
    return;
  }
  const { booking } = answer;
  if (booking.slug) rememberSlug(booking.slug);
  if (!service && booking.slug) {
    try {
      service = await get(`/api/book/${encodeURIComponent(booking.slug)}`);
    } catch {
      service = null; // an inactive service: the booking is still shown
    }
  }
  setServerZone(service && service.timezone);
  await followBookingLanguage(booking.language);
  clear(main);
  showView(main, manageView(answer, done));
  if (done) announce(t(done));
}

async function boot() {
  await startPublicPage();
  // Another link opened in this same tab changes only the fragment: take that token.
  window.addEventListener("hashchange", () => {
    if (!window.location.hash.slice(1)) return;
    token = takeToken("kota.book.manage");
    load();
  });
  clear(main).append(h("section", { class: "card center", attrs: { "aria-busy": "true" } },
    h("p", { i18n: "common.loading" })));
  await load();
}

boot();
