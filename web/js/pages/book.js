// The public booking page /book/<slug> (no account): the service's free times a week at
// a time → the family's name and e-mail or phone number → "we sent you a link". The
// time is held until the family confirms from that message (pages/book_confirm.js).

import { get, post } from "../api.js";
import { setServerZone } from "../dates.js";
import { announce, clear, h, setText, showView } from "../dom.js";
import { errorText, locale, t } from "../i18n.js";
import { freeTimes, timeChoices } from "../views/free_times.js";
import { problemView, rememberSlug, setTitle, startPublicPage } from "../views/public_page.js";

const NAME_MAX = 80;
const CONTACT_MAX = 254;
const TOPIC_MAX = 500;

const main = document.getElementById("main");
const slug = decodeURIComponent(window.location.pathname.split("/").filter(Boolean)[1] || "");
let service = null;
let times = null;
let chosen = null; // the start time chosen (ISO)
let details = null;
let sent = null; // the "check your messages" view, once a time is held

// --- step 1: a time -----------------------------------------------------------------

function timesView() {
  times = freeTimes({ slug, horizonDays: service.horizon_days, onChoose: choose });
  return h("section", { class: "card booking", attrs: { "aria-labelledby": "service-title" } },
    h("p", { class: "step", i18n: "common.step", vars: { n: 1, of: 2 } }),
    h("h1", { id: "service-title" }, service.name),
    h("p", { class: "lead", i18n: "book.lead", vars: { minutes: service.slot_minutes } }),
    times.view);
}

// The browser's Back goes from the details back to the times (one history entry per
// step; the address stays the same).
function choose(startsAt) {
  chosen = startsAt;
  showDetails();
  if (!history.state || history.state.step !== "details") {
    history.pushState({ step: "details" }, "");
  }
}

function showDetails() {
  if (!details) details = detailsView();
  details.update();
  setTitle("book.details_title");
  showView(main, details.view);
}

function showTimes() {
  setTitle("book.page_title");
  const view = main.querySelector(".card.booking");
  times.reload();
  showView(main, view);
}

/** "Choose another time": back through history when the details have their own entry. */
function backToTimes() {
  if (history.state && history.state.step === "details") history.back();
  else showTimes();
}

window.addEventListener("popstate", (event) => {
  if (!service) return;
  const step = event.state && event.state.step;
  if (step === "details" && chosen && !sent) showDetails();
  else if (step === "sent" && sent) showView(main, sent);
  else showTimes();
});

// --- step 2: who is booking ------------------------------------------------------------

function field(id, labelKey, input, hintKey, vars) {
  const hint = hintKey ? h("p", { id: `${id}-hint`, class: "hint", i18n: hintKey, vars }) : null;
  if (hint) input.setAttribute("aria-describedby", `${id}-hint`);
  return h("div", { class: "field" }, h("label", { htmlFor: id, i18n: labelKey }), hint, input);
}

function detailsView() {
  const when = h("p", { class: "chosen-time lead" });
  const name = h("input", { id: "b-name", type: "text", required: true, maxLength: NAME_MAX,
    attrs: { autocomplete: "name" } });
  // The confirmation link goes by e-mail or text message, as the server sends on.
  const channels = service.channels || ["email", "sms"];
  const only = channels.length === 1 ? channels[0] : null;
  const contact = h("input", { id: "b-contact", required: true, maxLength: CONTACT_MAX,
    type: { email: "email", sms: "tel" }[only] || "text",
    attrs: { autocomplete: only === "sms" ? "tel" : "email", spellcheck: "false" } });
  const contactKey = { email: "book.contact_email", sms: "book.contact_sms" }[only]
    || "book.contact";
  const topic = h("textarea", { id: "b-topic", rows: 3, maxLength: TOPIC_MAX });
  const kinds = service.kinds || [];
  const kind = kinds.length > 1
    ? h("select", { id: "b-kind" }, kinds.map((k) => h("option", { value: k, i18n: `kind.${k}` })))
    : null;
  const problem = h("div", { class: "notice error", hidden: true, attrs: { role: "alert" } });
  const submit = h("button", { type: "submit", class: "button primary wide", i18n: "book.submit",
    dataset: { action: "book" } });
  const form = h("form", { class: "form booking-form", noValidate: false,
    on: { submit: (e) => send(e) } },
    field("b-name", "book.name", name, "book.name_hint"),
    field("b-contact", contactKey, contact, "book.contact_hint"),
    kind ? field("b-kind", "book.kind", kind) : null,
    field("b-topic", "book.topic", topic, "book.topic_hint", { service: service.name }),
    h("p", { class: "privacy hint", i18n: "book.privacy" }),
    problem,
    h("div", { class: "actions" },
      h("button", { type: "button", class: "button secondary", i18n: "book.other_time",
        on: { click: backToTimes } }),
      submit));
  const view = h("section", { class: "card booking-details", attrs: { "aria-labelledby": "details-title" } },
    h("p", { class: "step", i18n: "common.step", vars: { n: 2, of: 2 } }),
    h("h1", { id: "details-title", i18n: "book.details_title" }),
    h("p", { class: "service-name" }, service.name),
    when,
    form);

  let sending = false;

  function update() {
    setText(when, "book.chosen", { date: { date: chosen }, time: { time: chosen } });
    problem.hidden = true;
  }

  function showProblem(...children) {
    clear(problem).append(...children.filter(Boolean));
    problem.hidden = false;
    problem.scrollIntoView({ block: "nearest" });
  }

  async function send(event) {
    event.preventDefault();
    if (sending) return; // one booking per tap, however many taps
    if (!form.reportValidity()) return;
    sending = true;
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    problem.hidden = true;
    const body = {
      starts_at: chosen,
      display_name: name.value.trim(),
      contact: contact.value.trim(),
      language: locale(),
    };
    if (kind) body.kind = kind.value;
    else if (kinds.length === 1) body.kind = kinds[0];
    if (topic.value.trim()) body.topic = topic.value.trim();
    try {
      const answer = await post(`/api/book/${encodeURIComponent(slug)}/holds`, body);
      rememberSlug(slug);
      setTitle("book.sent_title");
      sent = sentView(answer.booking);
      history.replaceState({ step: "sent" }, "");
      showView(main, sent);
    } catch (error) {
      if (error.code === "slot_taken") {
        const next = (error.extra && error.extra.next_free) || [];
        showProblem(
          h("p", { class: "problem-title", i18n: "book.slot_taken" }),
          h("p", { i18n: next.length ? "book.slot_taken_next" : "book.slot_taken_none" }),
          next.length ? timeChoices(next, choose) : null,
          h("button", { type: "button", class: "button secondary", i18n: "book.all_times",
            on: { click: backToTimes } }));
        announce(t("book.slot_taken"));
      } else {
        showProblem(h("p", {}, errorText(error.code)));
      }
    } finally {
      sending = false;
      submit.disabled = false;
      form.removeAttribute("aria-busy");
    }
  }

  return { view, update };
}

// --- step 3: check your messages ---------------------------------------------------------

function sentView(booking) {
  const email = booking.channel !== "sms";
  return h("section", { class: "card center booking-sent", attrs: { "aria-labelledby": "sent-title" } },
    h("h1", { id: "sent-title", i18n: email ? "book.sent_email_title" : "book.sent_sms_title" }),
    h("p", { class: "lead", i18n: email ? "book.sent_email" : "book.sent_sms",
      vars: { contact: booking.contact_hint } }),
    h("p", { class: "hold-until", i18n: "book.held_until",
      vars: { time: { time: booking.hold_expires_at } } }),
    h("p", { class: "chosen-time", i18n: "book.chosen",
      vars: { date: { date: booking.starts_at }, time: { time: booking.starts_at } } }),
    h("p", { i18n: "book.sent_next" }),
    h("p", { class: "hint", i18n: email ? "book.sent_email_missing" : "book.sent_sms_missing" }));
}

// --- start ------------------------------------------------------------------------------

async function loadService() {
  setTitle("book.page_title");
  try {
    service = await get(`/api/book/${encodeURIComponent(slug)}`);
  } catch (error) {
    const missing = error.code === "service_not_found" || error.status === 404;
    showView(main, problemView(missing
      ? { titleKey: "book.not_found_title", textKey: "book.not_found", code: "not_found" }
      : { titleKey: "book.problem_title", textKey: null, code: error.code }));
    if (!missing) {
      main.querySelector(".booking-problem").append(
        h("p", { class: "lead" }, errorText(error.code)),
        h("div", { class: "actions" }, h("button", { type: "button", class: "button primary",
          i18n: "common.try_again", on: { click: () => { clear(main); loadService(); } } })));
    }
    return;
  }
  setServerZone(service.timezone);
  clear(main);
  if (service.channels && !service.channels.length) {
    // No way to send the confirmation link: say so before anyone picks a time.
    showView(main, problemView({ titleKey: "book.unavailable_title",
      textKey: "book.unavailable", code: "no_channel" }));
    return;
  }
  showView(main, timesView());
}

async function boot() {
  await startPublicPage();
  await loadService();
}

boot();
