// /book/confirm#<token>: the link in the message sent to the family's contact. The page
// takes the token out of the address bar, confirms the held time (POST /api/book/confirm;
// the same again answers the same), and shows the meeting page's and the manage links.

import { get, post } from "../api.js";
import { setServerZone } from "../dates.js";
import { clear, h, showView } from "../dom.js";
import { errorText } from "../i18n.js";
import { bookingFacts } from "../views/booking_facts.js";
import { followBookingLanguage, problemView, rememberedSlug, setTitle, startPublicPage,
  takeToken } from "../views/public_page.js";

const main = document.getElementById("main");
let token = takeToken("kota.book.confirm");

function bookedView(answer) {
  const { booking } = answer;
  return h("section", { class: "card booked", attrs: { "aria-labelledby": "booked-title" } },
    h("h1", { id: "booked-title", i18n: "book.booked_title" }),
    bookingFacts(booking),
    h("p", { i18n: "book.booked_message" }),
    h("div", { class: "actions start link-actions" },
      h("a", { class: "button primary", href: answer.join_url, i18n: "book.open_meeting",
        dataset: { action: "open-meeting" } })),
    h("p", { class: "hint", i18n: "book.meeting_opens" }),
    h("h2", { i18n: "book.change_title" }),
    h("p", { i18n: "book.change_text" }),
    h("div", { class: "actions start" },
      h("a", { class: "button secondary", href: answer.manage_url, i18n: "book.change_or_cancel",
        dataset: { action: "manage" } })));
}

function failedView(error) {
  const slug = (error.extra && error.extra.slug) || rememberedSlug();
  if (error.code === "hold_expired") {
    return problemView({ titleKey: "book.expired_title", textKey: "book.expired_text",
      code: "hold_expired", slug });
  }
  if (error.code === "no_token") {
    return problemView({ titleKey: "book.no_token_title", textKey: "book.no_token_text",
      code: "no_token", slug });
  }
  const view = problemView({ titleKey: "book.confirm_failed_title", textKey: null,
    code: error.code, slug });
  view.querySelector("h1").after(h("p", { class: "lead" }, errorText(error.code)));
  if (error.code === "network" || error.status >= 500) {
    view.querySelector(".actions").append(h("button", { type: "button", class: "button secondary",
      i18n: "common.try_again", on: { click: () => confirm() } }));
  }
  return view;
}

/** The zone the service's times are told in (KOTA_TIMEZONE), from its public page. */
async function serviceZone(slug) {
  if (!slug) return null;
  try {
    return (await get(`/api/book/${encodeURIComponent(slug)}`)).timezone;
  } catch {
    return null; // an inactive service: dates.js keeps its default zone
  }
}

async function confirm() {
  setTitle("book.confirm_title");
  clear(main).append(h("section", { class: "card center", attrs: { "aria-busy": "true" } },
    h("h1", { i18n: "book.confirming" })));
  if (!token) {
    showView(main, failedView({ code: "no_token" }));
    return;
  }
  try {
    const answer = await post("/api/book/confirm", { token });
    setServerZone(await serviceZone(answer.booking.slug));
    await followBookingLanguage(answer.booking.language);
    setTitle("book.booked_title");
    clear(main);
    showView(main, bookedView(answer));
  } catch (error) {
    setTitle("book.confirm_title");
    clear(main);
    showView(main, failedView(error));
  }
}

async function boot() {
  await startPublicPage();
  // Another link opened in this same tab changes only the fragment: take that token.
  window.addEventListener("hashchange", () => {
    if (!window.location.hash.slice(1)) return;
    token = takeToken("kota.book.confirm");
    confirm();
  });
  await confirm();
}

boot();
