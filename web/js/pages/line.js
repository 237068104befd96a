// A contact line's page for the person who joins it (docs/web-client.md, "Contact lines").
//
// /line/<slug>: a public line, no account. Its name, hours and modes come from
// GET /api/public/lines/<slug>; the person picks chat or video (a camera check first for
// video), an optional nickname, and joins over /ws/line (line_connection.js).
// /line/my: a family's own line; the link's secret comes in the fragment (#e=<secret>),
// leaves the address bar at once and stays on this device (the family's tablet), and the
// page goes straight into the line.
// Either way: the place and expected wait, live; taken → chat, video; handed over; ended.

import { get } from "../api.js";
import { setServerZone } from "../dates.js";
import { announce, h, showView } from "../dom.js";
import { errorText, t } from "../i18n.js";
import { LineConnection } from "../line_connection.js";
import { LocalMedia } from "../media.js";
import { confirmDialog } from "../views/confirm.js";
import { deviceCheck } from "../views/device_check.js";
import { lineJoinView, modesOf } from "../views/line_join.js";
import { lineClosedNotice, lineNotice } from "../views/line_notices.js";
import { lineSession } from "../views/line_session.js";
import { lineWaiting } from "../views/line_waiting.js";
import { setTitle, startPublicPage } from "../views/public_page.js";

const ENROLMENT_KEY = "kota.line.enrolment";
const MODE_KEY = "kota.line.mode";
// Outside hours the page asks again when the line opens, and at least this often.
const CLOSED_CHECK_MS = 60_000;

const main = document.getElementById("main");
const slug = decodeURIComponent(window.location.pathname.split("/").filter(Boolean)[1] || "");
const personal = slug === "my";
const media = new LocalMedia();
let info = null; // the public line's answer
let connection = null;
let welcome = null;
let waiting = null;
let session = null;
let devices = null;
let closedTimer = null;

// --- the link's secret (personal lines) ------------------------------------------

/** The enrolment secret: from the fragment (then out of the address bar), else kept. */
function takeEnrolment() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const secret = fragment.get("e");
  if (window.location.hash) history.replaceState(null, "", window.location.pathname);
  if (secret) {
    for (const storage of [localStorage, sessionStorage]) {
      try {
        storage.setItem(ENROLMENT_KEY, secret);
        return secret;
      } catch {
        // Try the next one; memory only after that.
      }
    }
    return secret;
  }
  for (const storage of [localStorage, sessionStorage]) {
    try {
      const kept = storage.getItem(ENROLMENT_KEY);
      if (kept) return kept;
    } catch {
      // Storage may be blocked.
    }
  }
  return null;
}

function forgetEnrolment() {
  for (const storage of [localStorage, sessionStorage]) {
    try {
      storage.removeItem(ENROLMENT_KEY);
    } catch {
      // nothing kept
    }
  }
}

function resumeKey() {
  return `kota.line.resume.${slug}`;
}

/** Whether this tab kept a place in the line (a reload within the minute). */
function keptPlace() {
  try {
    return Boolean(sessionStorage.getItem(resumeKey()));
  } catch {
    return false;
  }
}

function chosenMode(mode) {
  try {
    if (mode) sessionStorage.setItem(MODE_KEY, mode);
    return sessionStorage.getItem(MODE_KEY) || "chat";
  } catch {
    return mode || "chat";
  }
}

// --- plain pages ---------------------------------------------------------------------

/** Show ``view``; views made for one moment (notices, a closed session) leave the page,
 * so no id is ever there twice. */
function show(view, titleKey = "line.page_title") {
  setTitle(titleKey);
  const keep = [view, waiting && waiting.view, devices && devices.view, session && session.view];
  for (const child of [...main.children]) if (!keep.includes(child)) child.remove();
  showView(main, view);
}

function again() {
  return { key: personal ? "line.contact_again" : "line.join_again", run: () => restart() };
}

function finished(view) {
  if (session) session.close();
  session = null;
  media.stop(); // the camera light goes out as soon as it is over
  show(view);
}

function connectingView() {
  return h("section", { class: "card center line-connecting" },
    h("h1", { i18n: "line.connecting" }),
    h("div", { class: "waiting-pulse", attrs: { "aria-hidden": "true" } }));
}

// --- the public line -----------------------------------------------------------------

async function loadLine() {
  clearTimeout(closedTimer);
  try {
    info = await get(`/api/public/lines/${encodeURIComponent(slug)}`);
  } catch (error) {
    const missing = error.code === "line_not_found" || error.status === 404;
    show(missing
      ? lineNotice({ kind: "not-found", titleKey: "line.not_found.title",
          textKey: "line.not_found.text" })
      : lineNotice({ kind: "problem", titleKey: "line.problem_title",
          more: [h("p", { class: "lead" }, errorText(error.code))],
          action: { key: "common.try_again", run: () => loadLine() } }));
    return;
  }
  if (info.timezone) setServerZone(info.timezone);
  if (keptPlace()) {
    connect(null); // a reload within the minute: the same place
  } else if (!info.open) {
    showClosed(info.opens_at);
  } else if (info.full) {
    showFull();
  } else {
    show(lineJoinView({ line: info, onJoin: join }));
  }
}

function showClosed(opensAt) {
  finished(lineClosedNotice({ name: info ? info.name : "", opensAt }));
  if (personal) return;
  clearTimeout(closedTimer);
  const left = opensAt ? Date.parse(opensAt) - Date.now() : CLOSED_CHECK_MS;
  closedTimer = setTimeout(() => loadLine(), Math.max(1000, Math.min(left + 500, CLOSED_CHECK_MS)));
}

function showFull() {
  finished(lineNotice({ kind: "full", titleKey: "line.full.title", textKey: "line.full.text",
    action: { key: "common.try_again", run: () => restart() } }));
}

function join({ mode, nickname }) {
  chosenMode(mode);
  const hello = { line: slug, mode };
  if (nickname) hello.nickname = nickname;
  if (mode !== "video") {
    connect(hello);
    return;
  }
  // Video: the camera and microphone are checked before the place is taken.
  devices = deviceCheck({
    media,
    titleKey: "line.devices_title",
    continueKey: "line.join",
    action: "line-devices-continue",
    onContinue: () => connect(hello),
  });
  show(devices.view, "devices.page_title");
  devices.start();
}

// --- the line socket -------------------------------------------------------------------

function restart() {
  if (connection) connection.close();
  connection = null;
  welcome = waiting = session = null;
  if (personal) startPersonal();
  else loadLine();
}

/** Join with ``hello``, or (null) come back to the place this tab kept. */
function connect(hello) {
  show(connectingView());
  const line = newConnection();
  line.start(hello || {});
}

function newConnection() {
  if (connection) connection.close();
  const line = new LineConnection({ resumeKey: resumeKey() });
  connection = line;
  line.addEventListener("state", (event) => {
    const state = event.detail.state;
    if (waiting) waiting.connection(state);
    if (session) session.connection(state);
  });
  line.addEventListener("welcome", (event) => onWelcome(event.detail));
  line.addEventListener("queue", (event) => onQueue(event.detail));
  line.addEventListener("taken", (event) => onTaken(event.detail));
  line.addEventListener("video", () => {
    if (session) session.startVideo();
  });
  line.addEventListener("handed_over", (event) => {
    if (session) session.close();
    session = null;
    if (waiting) {
      waiting.handedOver(event.detail.line || {});
      show(waiting.view, "line.waiting_page_title");
    }
  });
  line.addEventListener("closed", (event) => showClosed(event.detail.opens_at || null));
  line.addEventListener("full", () => showFull());
  line.addEventListener("line_closed", () => finished(lineNotice({ kind: "line-closed",
    titleKey: "line.line_closed.title", textKey: "line.line_closed.text" })));
  line.addEventListener("ended", (event) => onEnded(event.detail));
  line.addEventListener("error", (event) => onError(event.detail));
  line.addEventListener("resume_failed", () => {
    if (personal) startPersonal();
    else if (info && info.open && !info.full) show(lineJoinView({ line: info, onJoin: join }));
    else loadLine();
  });
  line.addEventListener("gone", () => {
    if (main.querySelector(".line-notice:not([hidden])")) return; // already said why
    finished(lineNotice({ kind: "gone", titleKey: "line.gone.title", textKey: "line.gone.text",
      action: again() }));
  });
  return line;
}

function onWelcome(message) {
  welcome = message;
  if (!waiting) {
    waiting = lineWaiting({
      welcome,
      onLeave: () => confirmLeave(),
      onCallback: () => connection.askCallback(),
    });
  }
  // Back after a dropped socket in a session: the session stays on the screen.
  if (!session) show(waiting.view, "line.waiting_page_title");
}

function onQueue(queue) {
  if (!waiting) return;
  waiting.update(queue);
  if (!session && waiting.view.hidden) show(waiting.view, "line.waiting_page_title");
}

function onTaken(taken) {
  // Back after a dropped socket, the same session: its chat and video go on.
  if (session && session.id === taken.session) return;
  if (session) session.close();
  const modes = welcome ? welcome.line.modes : (info && info.modes) || "chat";
  session = lineSession({
    connection,
    taken,
    media,
    videoAllowed: modesOf(modes).includes("video"),
    onEnd: () => confirmEnd(),
  });
  show(session.view, "line.session_page_title");
  announce(t("line.taken_title", { name: taken.staff_name || "" }));
  // Joined for video, or (after a reload) a session that had become a video call.
  if (taken.mode === "video" || chosenMode() === "video") session.startVideo();
}

function onEnded({ reason }) {
  finished(lineNotice({
    kind: "ended",
    titleKey: "line.ended.title",
    textKey: reason === "you" ? "line.ended.you" : "line.ended.staff",
    more: [h("p", { i18n: "line.ended.again" })],
    action: again(),
  }));
}

let triedOtherMode = false;

function onError({ code }) {
  if (!welcome && personal && code === "mode_not_offered" && !triedOtherMode) {
    // A family's own line that offers only the other way of talking.
    triedOtherMode = true;
    chosenMode(chosenMode() === "video" ? "chat" : "video");
    restart();
    return;
  }
  if (!welcome) {
    // The hello was refused: the link, the line or the request does not work.
    if (personal && ["enrolment_revoked", "enrolment_invalid"].includes(code)) {
      forgetEnrolment();
    }
    finished(lineNotice({ kind: "refused", titleKey: "line.refused_title",
      more: [h("p", { class: "lead" }, errorText(code))], action: again() }));
    return;
  }
  announce(errorText(code));
}

async function confirmLeave() {
  const ok = await confirmDialog({ titleKey: "line.leave_title", textKey: "line.leave_text",
    confirmKey: "line.leave", cancelKey: "line.stay", danger: true });
  if (!ok || !connection) return;
  connection.leave();
  finished(lineNotice({ kind: "left", titleKey: "line.left.title", textKey: "line.left.text",
    action: again() }));
}

async function confirmEnd() {
  const ok = await confirmDialog({ titleKey: "line.end_title", textKey: "line.end_text",
    confirmKey: "line.end", cancelKey: "line.keep_talking", danger: true });
  if (ok && connection) connection.end();
}

// --- start ------------------------------------------------------------------------------

function startPersonal() {
  const secret = takeEnrolment();
  if (!secret) {
    show(lineNotice({ kind: "no-link", titleKey: "line.no_link.title",
      textKey: "line.no_link.text" }));
    return;
  }
  connect({ enrolment: secret, mode: chosenMode() });
}

async function boot() {
  await startPublicPage();
  setTitle("line.page_title");
  if (personal) {
    startPersonal();
    return;
  }
  await loadLine();
}

boot();
