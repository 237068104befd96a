// The family's page: link → language → camera and microphone → name → waiting room
// → call → end. The join token arrives in the URL fragment, leaves the address bar at
// once, and is kept only in this tab (sessionStorage) for the call socket's hello.
// A link opened before its room opens says when at once (date and time) and waits,
// camera off, by the server's clock.

import { post } from "../api.js";
import { Call } from "../call.js";
import { announce, clear, h, setText, showView } from "../dom.js";
import { setServerZone } from "../dates.js";
import { browserLocale, DEFAULT_LOCALE, rememberedLocale, rememberLocaleAs, setLocale, t }
  from "../i18n.js";
import { icon } from "../icons.js";
import { LocalMedia } from "../media.js";
import { socketUrl } from "../protocol.js";
import { accessReportButton, familyAccessReport } from "../views/access_report_family.js";
import { CallView } from "../views/call_view.js";
import { confirmDialog } from "../views/confirm.js";
import { connectionCheck } from "../views/connection_check.js";
import { deviceCheck } from "../views/device_check.js";
import { languageButtons, languageSelect } from "../views/language_picker.js";
import { attachStream } from "../views/video.js";
import { waitingTexts } from "../views/waiting_texts.js";

const TOKEN_KEY = "kota.join.token";
const RESUME_KEY = "kota.join.resume";

/** Take the token out of the address bar before anything else can read or keep it. */
function takeToken() {
  const fragment = window.location.hash.slice(1);
  if (fragment) {
    history.replaceState(null, "", window.location.pathname);
    try {
      sessionStorage.setItem(TOKEN_KEY, fragment);
    } catch {
      // Memory only: a reload will need the link again.
    }
    return fragment;
  }
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

const token = takeToken();
const main = document.getElementById("main");
const media = new LocalMedia();
let joinInfo = null;
let call = null;
let callView = null;
let retryTimer = null;
// The server's clock at the join answer, and this page's monotonic clock then: the
// device's own date may be off, so waits are measured from the server's `now`.
let serverClock = null;

function tz() {
  return joinInfo ? joinInfo.timezone || joinInfo.appointment.timezone : undefined;
}

function serverNow() {
  if (!serverClock) return Date.now();
  return serverClock.at + (performance.now() - serverClock.read);
}

function learnJoinInfo(info) {
  joinInfo = info;
  setServerZone(tz());
  const at = Date.parse(info.now);
  serverClock = Number.isNaN(at) ? null : { at, read: performance.now() };
}

/** The language: chosen before for this link, else the staff's choice, else the browser's. */
function localeKey(info) {
  return `kota.join.locale.${info.participant.id}`;
}

function firstLocale(info) {
  if (!info) return browserLocale() || DEFAULT_LOCALE;
  return rememberedLocale(localeKey(info)) || info.participant.language || browserLocale()
    || DEFAULT_LOCALE;
}

let localeFor; // the participant whose language the page speaks; null before the link opens

async function chooseLocale(info) {
  const participant = info ? info.participant.id : null;
  if (participant === localeFor) return;
  localeFor = participant;
  rememberLocaleAs(info ? localeKey(info) : null);
  await setLocale(firstLocale(info));
}

function setTitle(key) {
  const title = document.querySelector("title");
  title.dataset.i18n = key;
  document.title = t(key);
}

// --- problems with the link ------------------------------------------------------

const LINK_PROBLEMS = {
  link_revoked: "revoked",
  token_expired: "expired",
  appointment_cancelled: "cancelled",
  network: "network",
  no_token: "no_token",
};

function linkProblemView(code) {
  const kind = LINK_PROBLEMS[code] || "invalid";
  setTitle("link.page_title");
  const actions =
    kind === "network"
      ? h("div", { class: "actions" },
          h("button", { type: "button", class: "button primary", i18n: "common.try_again",
            on: { click: () => boot() } }))
      : null;
  return h("section", { class: "card center", dataset: { problem: kind } },
    h("h1", { i18n: `link.${kind}.title` }),
    h("p", { class: "lead", i18n: `link.${kind}.text` }),
    h("p", { i18n: "link.what_to_do" }),
    actions,
    kind === "expired" ? accessReportButton(openAccessReport) : null);
}

// --- a meeting staff ended for everyone (they may reopen it) ---------------------

function endedView() {
  setTitle("end.page_title");
  media.stop();
  return h("section", { class: "card center end", dataset: { reason: "session-ended" } },
    h("h1", { i18n: "join.ended.title" }),
    h("p", { class: "lead", i18n: "join.ended.text",
      vars: { host: joinInfo.appointment.host_first_name } }),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "button primary", i18n: "join.ended.check_again",
        dataset: { action: "check-again" }, on: { click: () => boot() } })),
    accessReportButton(openAccessReport));
}

// --- step 1: welcome and language ------------------------------------------------

function welcomeView() {
  const { appointment } = joinInfo;
  setTitle("join.page_title");
  return h("section", { class: "card welcome", attrs: { "aria-labelledby": "welcome-title" } },
    h("p", { class: "step", i18n: "common.step", vars: { n: 1, of: 3 } }),
    h("h1", { id: "welcome-title", i18n: "join.welcome.title" }),
    h("p", { class: "lead", i18n: "join.welcome.meeting", vars: {
      host: appointment.host_first_name,
      date: { date: appointment.starts_at, tz: tz() },
      time: { time: appointment.starts_at, tz: tz() },
    } }),
    h("h2", { class: "label", i18n: "join.welcome.choose_language" }),
    languageButtons(),
    h("p", { i18n: "join.welcome.what_next", vars: { host: appointment.host_first_name } }),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "button primary wide", i18n: "common.continue",
        dataset: { action: "welcome-continue" }, on: { click: () => showDevices() } })),
    accessReportButton(openAccessReport));
}

// --- step 2: camera and microphone ----------------------------------------------

let devices = null;

function showDevices() {
  setTitle("devices.page_title");
  if (!devices) {
    devices = deviceCheck({
      media,
      titleKey: "devices.title",
      continueKey: "common.continue",
      step: { n: 2, of: 3 },
      action: "devices-continue",
      onContinue: () => showView(main, nameView()),
    });
    showView(main, devices.view);
    devices.start();
  } else {
    showView(main, devices.view);
  }
}

// --- step 3: the name others will see, and an optional connection test ---------

let precall = null;

function nameView() {
  setTitle("name.page_title");
  if (precall) precall.stop();
  precall = connectionCheck({ media, token,
    onAudioOnly: () => enterWaitingRoom({ audioOnly: true }) });
  return h("section", { class: "card", attrs: { "aria-labelledby": "name-title" } },
    h("p", { class: "step", i18n: "common.step", vars: { n: 3, of: 3 } }),
    h("h1", { id: "name-title", i18n: "name.title" }),
    h("p", { class: "display-name" }, joinInfo.participant.display_name),
    h("p", { i18n: "name.wrong_name" }),
    precall.view,
    h("div", { class: "actions" },
      h("button", { type: "button", class: "button secondary", i18n: "common.back",
        on: { click: () => { precall.stop(); showDevices(); } } }),
      h("button", { type: "button", class: "button primary wide", i18n: "name.confirm",
        dataset: { action: "enter-waiting-room" }, on: { click: () => enterWaitingRoom() } })));
}

// --- the waiting room ------------------------------------------------------------

const waiting = {
  view: null,
  position: null,
  texts: null,
  heading: null,
  preview: null,
};

function waitingView() {
  waiting.heading = h("h1", { id: "waiting-title", i18n: "waiting.title" });
  waiting.position = h("p", { class: "position", attrs: { role: "status" } });
  waiting.texts = waitingTexts({ call });
  waiting.preview = h("video", {
    class: "mirrored", muted: true, autoplay: true, playsInline: true,
    attrs: { playsinline: true, muted: true },
    i18nAttrs: { "aria-label": "devices.preview_label" },
  });
  waiting.moved = h("p", { class: "notice", hidden: true, i18n: "waiting.moved_back" });
  waiting.view = h("section", { class: "card waiting", attrs: { "aria-labelledby": "waiting-title" } },
    h("div", { class: "waiting-pulse", attrs: { "aria-hidden": "true" } }),
    waiting.heading,
    h("p", { class: "lead", i18n: "waiting.lead", vars: { host: joinInfo.appointment.host_first_name } }),
    waiting.position,
    waiting.moved,
    waiting.texts.element,
    h("div", { class: "waiting-layout" },
      h("div", { class: "waiting-next" },
        h("h2", { class: "label", i18n: "waiting.next_title" }),
        h("ul", { class: "plain-list" },
          h("li", { i18n: "waiting.next_1" }),
          h("li", { i18n: "waiting.next_2" }),
          h("li", { i18n: "waiting.next_3" }))),
      h("figure", { class: "waiting-preview" }, waiting.preview,
        h("figcaption", { i18n: "call.you" }))),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "button secondary", dataset: { action: "leave-waiting" },
        on: { click: () => confirmLeave("waiting") } },
        icon("leave"), h("span", { i18n: "waiting.leave" }))));
  return waiting.view;
}

function showWaiting(position) {
  setTitle("waiting.page_title");
  if (!waiting.view) waitingView();
  if (position) setText(waiting.position, "waiting.position", { n: position });
  if (media.videoTrack) attachStream(waiting.preview, media.preview);
  waiting.preview.hidden = !media.videoTrack;
  if (waiting.view.hidden || !waiting.view.isConnected) showView(main, waiting.view);
}

function connectingView() {
  setTitle("waiting.page_title");
  return h("section", { class: "card center" },
    h("h1", { i18n: "waiting.connecting" }),
    h("div", { class: "waiting-pulse", attrs: { "aria-hidden": "true" } }));
}

// --- too early ----------------------------------------------------------------------

// Checked at least once a minute, so a tablet that slept through the time still opens.
const EARLY_CHECK_MS = 60_000;

/**
 * The room is not open yet: when it opens (date and time), then ``onOpen()`` by itself
 * at that moment by the server's clock. The camera stays off until then.
 */
function tooEarlyView(opensAt, onOpen) {
  setTitle("early.title");
  clearTimeout(retryTimer);
  media.stop();
  const opens = Date.parse(opensAt);
  const wait = () => {
    const left = opens - serverNow();
    if (left <= 0) {
      onOpen();
      return;
    }
    retryTimer = setTimeout(wait, Math.min(left + 250, EARLY_CHECK_MS));
  };
  wait();
  return h("section", { class: "card center early", attrs: { "aria-labelledby": "early-title" } },
    h("h1", { id: "early-title", i18n: "early.title" }),
    h("p", { class: "lead", i18n: "early.opens", vars: {
      date: { date: opensAt, tz: tz() },
      time: { time: opensAt, tz: tz() },
    } }),
    h("p", { i18n: "early.keep_open" }),
    h("h2", { class: "label", i18n: "join.welcome.choose_language" }),
    languageButtons(),
    accessReportButton(openAccessReport));
}

/** The window is open by the server's clock: ask the server again, then the first step. */
async function roomOpened() {
  let info;
  try {
    info = await post("/api/join", { token });
  } catch (error) {
    if (error.code === "network") {
      retryTimer = setTimeout(roomOpened, 5000);
    } else {
      showView(main, linkProblemView(error.code));
    }
    return;
  }
  learnJoinInfo(info);
  if (serverNow() < Date.parse(info.join_window.opens_at)) {
    showView(main, tooEarlyView(info.join_window.opens_at, roomOpened));
    return;
  }
  showView(main, welcomeView());
  announce(t("early.opened"));
}

// --- the call ---------------------------------------------------------------------

function ensureCall() {
  if (call) return call;
  call = new Call({
    url: socketUrl(joinInfo.ws_url || "/ws"),
    token,
    media,
    resumeKey: RESUME_KEY,
  });
  call.addEventListener("state", (e) => onState(e.detail));
  return call;
}

/** ``audioOnly``: the connection test advised sound only and the family chose it. */
function enterWaitingRoom({ audioOnly = false } = {}) {
  clearTimeout(retryTimer);
  if (precall) precall.stop();
  showView(main, connectingView());
  ensureCall();
  if (audioOnly) call.setAudioOnly(true, { weak: true }).catch((e) => console.warn("kota:", e));
  call.start();
}

function onState({ state, position, reason, detail }) {
  // A lost socket ends the stay in the waiting room on the server, texts and all.
  if (state === "reconnecting" && waiting.texts) waiting.texts.reset();
  if (state === "waiting") {
    const wasInCall = callView && !callView.element.hidden && callView.element.isConnected;
    showWaiting(position);
    waiting.moved.hidden = !wasInCall;
    if (wasInCall) waiting.texts.reset(); // moved back: a new stay, no old texts
    if (wasInCall) announce(t("waiting.moved_back"));
  } else if (state === "admitted") {
    if (waiting.texts) waiting.texts.reset();
    setTitle("call.page_title");
    if (!callView) {
      callView = new CallView({
        call,
        media,
        titleKey: "call.title_family",
        titleVars: { host: joinInfo.appointment.host_first_name },
        onLeave: () => confirmLeave("call"),
      });
    }
    showView(main, callView.element);
    announce(t("call.admitted"));
  } else if (state === "ended") {
    if (reason === "outside_window" && detail && detail.opensAt) {
      showView(main, tooEarlyView(detail.opensAt, () => rejoin()));
    } else {
      showView(main, endView(reason, detail));
    }
  }
}

/** One tap must not throw the family out: leaving means asking to come in again.
 * ``where``: "call" or "waiting" (the queue place is lost). */
const LEAVE_QUESTIONS = {
  call: { titleKey: "call.leave_title", textKey: "call.leave_text", confirmKey: "call.leave",
    cancelKey: "call.stay" },
  waiting: { titleKey: "waiting.leave_title", textKey: "waiting.leave_text",
    confirmKey: "waiting.leave", cancelKey: "waiting.stay" },
};

async function confirmLeave(where = "call") {
  const ok = await confirmDialog({ ...LEAVE_QUESTIONS[where], danger: true,
    vars: { host: joinInfo.appointment.host_first_name } });
  if (ok && call) call.leave();
}

// --- the end ---------------------------------------------------------------------

const END_ACTIONS = {
  left: "end.join_again",
  ended: "join.ended.check_again", // staff may reopen it

  denied: "end.knock_again",
  connection_lost: "common.try_again",
  replaced: "end.use_this_window",
};

function endView(reason, detail) {
  setTitle("end.page_title");
  const kind = `end.${reason}`;
  const actionKey = END_ACTIONS[reason];
  const code = detail && detail.code;
  media.stop(); // The camera light goes out as soon as the call is over.
  return h("section", { class: "card center end", dataset: { reason } },
    h("h1", { i18n: `${kind}.title` }),
    h("p", { class: "lead", i18n: code ? `error.${code}` : `${kind}.text` }),
    actionKey
      ? h("div", { class: "actions" },
          h("button", { type: "button", class: "button primary", i18n: actionKey,
            dataset: { action: "rejoin" }, on: { click: () => rejoin() } }))
      : h("p", { i18n: "end.close_page" }),
    accessReportButton(openAccessReport));
}

async function rejoin() {
  if (!media.audioTrack && !media.cameraTrack) await media.start();
  enterWaitingRoom();
}

// --- who has handled my information ------------------------------------------------

// Where the family was (the view and its title) while the report is on show. The report
// is one step in the tab's history, so the browser's Back returns there too.
let beforeReport = null;

function openAccessReport() {
  if (beforeReport) return;
  const title = document.querySelector("title").dataset.i18n;
  const from = [...main.children].find((child) => !child.hidden) || null;
  const report = familyAccessReport({ token, onBack: () => history.back() });
  beforeReport = { from, title, report };
  history.pushState({ kotaAccessReport: true }, "");
  setTitle("access.family.page_title");
  showView(main, report.element);
}

function closeAccessReport() {
  if (!beforeReport) return;
  const { from, title, report } = beforeReport;
  beforeReport = null;
  report.dispose();
  const onShow = !report.element.hidden;
  report.element.remove();
  if (onShow && from && from.isConnected) {
    setTitle(title);
    showView(main, from);
    const button = from.querySelector("[data-action=access-report]");
    if (button) button.focus();
  }
}

window.addEventListener("popstate", closeAccessReport);

// --- start ------------------------------------------------------------------------

function hasResume() {
  try {
    return Boolean(sessionStorage.getItem(RESUME_KEY));
  } catch {
    return false;
  }
}

async function boot(opening = token ? post("/api/join", { token }) : null) {
  if (!opening) {
    showView(main, linkProblemView("no_token"));
    return;
  }
  try {
    learnJoinInfo(await opening);
  } catch (error) {
    showView(main, linkProblemView(error.code));
    return;
  }
  await chooseLocale(joinInfo); // when the first try found no connection
  if (joinInfo.session === "ended") {
    // Said on the first page: no camera, no name, no waiting room for a meeting that is over.
    try {
      sessionStorage.removeItem(RESUME_KEY);
    } catch {
      // nothing kept
    }
    showView(main, endedView());
    return;
  }
  const opensAt = joinInfo.join_window.opens_at;
  if (serverNow() < Date.parse(opensAt)) {
    // Said on the first page, before any camera or name step.
    showView(main, tooEarlyView(opensAt, roomOpened));
    return;
  }
  if (hasResume()) {
    // The page was reloaded during the call: take the seat back.
    await media.start();
    enterWaitingRoom();
    return;
  }
  showView(main, welcomeView());
}

async function init() {
  // The link is checked first: its answer names the language to load.
  const opening = token ? post("/api/join", { token }) : null;
  if (opening) opening.catch(() => {}); // handled in boot()
  let info = null;
  try {
    info = opening ? await opening : null;
  } catch {
    // A refused link still gets its page, in the browser's language.
  }
  await chooseLocale(info);
  const header = document.getElementById("header-tools");
  clear(header).append(languageSelect());
  await boot(opening);
}

init();
