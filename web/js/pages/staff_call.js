// The professional's meeting room (/staff/call?appointment=ID): camera check, then the
// call with the live waiting list (knock sound and visual cue), admit, deny, message,
// participants with their connection state, remove, screen share, chat, end for all;
// attendance afterwards.

import { get, post, setCsrfToken } from "../api.js";
import { Call } from "../call.js";
import { announce, clear, h, showView } from "../dom.js";
import { errorText, savedLocale, setLocale, t } from "../i18n.js";
import { KnockSound } from "../knock_sound.js";
import { LocalMedia } from "../media.js";
import { socketUrl } from "../protocol.js";
import { attendanceSection } from "../views/attendance.js";
import { CallView, controlButton } from "../views/call_view.js";
import { chooseDialog } from "../views/confirm.js";
import { deviceCheck } from "../views/device_check.js";
import { languageSelect } from "../views/language_picker.js";
import { peoplePanel } from "../views/people_panel.js";
import { setStaffZone } from "../views/staff_zone.js";

const main = document.getElementById("main");
const appointmentId = new URLSearchParams(window.location.search).get("appointment");
const media = new LocalMedia();
const knock = new KnockSound();
let session = null;
let appointment = null;
let call = null;
let callView = null;
let people = null;
let toastTimer = null;

function setTitle(key, count = 0) {
  const title = document.querySelector("title");
  title.dataset.i18n = key;
  document.title = (count ? `(${count}) ` : "") + t(key);
}

function problemView(code) {
  return h("section", { class: "card center" },
    h("h1", { i18n: "staff_call.problem_title" }),
    h("p", { class: "lead" }, errorText(code)),
    h("p", {}, h("a", { href: "/staff", class: "button secondary", i18n: "staff.back_to_list" })));
}

function backHref() {
  return `/staff#/appointment/${encodeURIComponent(appointmentId)}`;
}

// --- the knock: sound, banner, badge, title -------------------------------------

const toast = h("div", { class: "knock-toast", hidden: true, attrs: { role: "alert" } });

function onKnock(person) {
  knock.play();
  const parts = [
    h("span", { class: "knock-text", dataset: { returned: String(Boolean(person.returned)) },
      i18n: person.returned ? "staff_call.knocked_returned" : "staff_call.knocked",
      vars: { name: person.display_name } }),
    h("button", { type: "button", class: "button primary small", i18n: "people.admit",
      on: { click: () => { call.admit(person.participant); toast.hidden = true; } } }),
  ];
  if (!callView.isPanelOpen("people")) {
    parts.push(h("button", { type: "button", class: "button secondary small",
      i18n: "staff_call.show_waiting",
      on: { click: () => { callView.openPanel("people"); toast.hidden = true; } } }));
  }
  clear(toast).append(...parts);
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toast.hidden = true; }, 15000);
}

/** A waiting person's reply, when the people panel (where it shows) is closed. */
function onReply({ name, text }) {
  if (callView.isPanelOpen("people")) return;
  clear(toast).append(
    h("span", { class: "knock-text", i18n: "people.replied", vars: { name, text } }),
    h("button", { type: "button", class: "button secondary small",
      i18n: "staff_call.show_waiting",
      on: { click: () => { callView.openPanel("people"); toast.hidden = true; } } }));
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toast.hidden = true; }, 15000);
}

function onWaitingList(waiting) {
  callView.setBadge("people", waiting.length);
  callView.element.classList.toggle("has-waiting", waiting.length > 0);
  setTitle("staff_call.page_title", waiting.length);
  if (!waiting.length) toast.hidden = true;
}

// --- the call --------------------------------------------------------------------

function shareButton() {
  if (!media.canShareScreen) return null;
  const button = controlButton({
    iconName: "screen", labelKey: "call.share_screen", action: "share-screen",
    onClick: async () => {
      if (media.screenTrack) media.stopScreenShare();
      else {
        try {
          await media.startScreenShare();
        } catch {
          announce(t("call.share_failed"));
        }
      }
    },
  });
  media.addEventListener("change", () => {
    button.setLabel(media.screenTrack ? "call.stop_sharing" : "call.share_screen");
    button.classList.toggle("is-on", Boolean(media.screenTrack));
  });
  return button;
}

/** Leaving asks whether the meeting goes on without you or ends for everyone. */
async function leaveOrEnd() {
  const choice = await chooseDialog({
    titleKey: "staff_call.leave_title",
    textKey: "staff_call.leave_text",
    choices: [
      { value: "leave", key: "staff_call.leave_only", className: "secondary" },
      { value: "end", key: "call.end_for_all", className: "danger" },
    ],
  });
  if (choice === "leave") call.leave();
  else if (choice === "end") call.endForAll();
}

function openRoom() {
  if (call) return;
  knock.unlock();
  call = new Call({
    url: socketUrl(appointment.ws_url || `/ws?appointment=${encodeURIComponent(appointmentId)}`),
    media,
    resumeKey: `kota.staff.resume.${appointmentId}`,
  });
  people = peoplePanel({ call, selfName: session.staff.display_name });
  callView = new CallView({
    call,
    media,
    titleKey: "staff_call.title",
    titleVars: { time: { time: appointment.starts_at } },
    panels: [{ id: "people", iconName: "people", labelKey: "call.people", element: people.element }],
    extraControls: [shareButton()].filter(Boolean),
    onLeave: leaveOrEnd,
  });
  callView.stage.append(toast);
  call.addEventListener("knocked", (e) => onKnock(e.detail.person));
  call.addEventListener("waiting-list", (e) => onWaitingList(e.detail.waiting));
  call.addEventListener("waiting-reply", (e) => onReply(e.detail));
  call.addEventListener("problem", (e) => announce(errorText(e.detail.code)));
  call.addEventListener("state", (e) => onState(e.detail));
  setTitle("staff_call.page_title");
  showView(main, callView.element);
  callView.openPanel("people");
  call.start();
}

function onState({ state, reason, detail }) {
  if (state === "ended") {
    media.stop();
    showView(main, endView(reason, detail));
  }
}

function endView(reason, detail) {
  setTitle("end.page_title");
  const texts = {
    ended: ["staff_call.ended_title", "staff_call.ended_text"],
    left: ["staff_call.left_title", "staff_call.left_text"],
    cancelled: ["end.cancelled.title", "end.cancelled.text"],
  }[reason];
  const reopen = reason === "ended" ? reopenControls() : null;
  const view = h("section", { class: "card end", dataset: { reason } },
    h("h1", { i18n: texts ? texts[0] : "staff_call.problem_title" }),
    texts
      ? h("p", { class: "lead", i18n: texts[1] })
      : h("p", { class: "lead" }, errorText((detail && detail.code) || reason)),
    reopen ? reopen.problem : null,
    h("div", { class: "actions" },
      reopen
        ? reopen.button
        : reason !== "cancelled"
          ? h("button", { type: "button", class: "button primary", i18n: "staff_call.reopen",
              on: { click: () => window.location.reload() } })
          : null,
      h("a", { href: backHref(), class: "button secondary", i18n: "staff_call.back" })));
  if (reason === "ended") view.append(attendanceSection(appointmentId));
  return view;
}

/** Undoes "end for all" (logged on the server); then the room opens as before. */
function reopenControls() {
  const problem = h("p", { class: "notice error", hidden: true, attrs: { role: "alert" } });
  const button = h("button", { type: "button", class: "button primary", i18n: "appointment.reopen",
    dataset: { action: "reopen" }, on: { click: async () => {
      button.disabled = true; // a double click counts once
      try {
        await post(`/api/appointments/${encodeURIComponent(appointmentId)}/reopen`);
        try {
          sessionStorage.removeItem(`kota.staff.resume.${appointmentId}`);
        } catch {
          // nothing kept
        }
        window.location.reload();
      } catch (error) {
        problem.textContent = errorText(error.code);
        problem.hidden = false;
        button.disabled = false;
      }
    } } });
  return { problem, button };
}

/** The appointment's session was ended for everyone: say so, and offer to reopen it. */
function endedSessionView() {
  setTitle("end.page_title");
  const reopen = appointment.may_reopen ? reopenControls() : null;
  return h("section", { class: "card end", dataset: { reason: "session-ended" } },
    h("h1", { i18n: "staff_call.ended_title" }),
    h("p", { class: "lead",
      i18n: reopen ? "appointment.ended_text" : "appointment.ended_final" }),
    reopen ? reopen.problem : null,
    h("div", { class: "actions" }, reopen ? reopen.button : null,
      h("a", { href: backHref(), class: "button secondary", i18n: "staff_call.back" })),
    attendanceSection(appointmentId));
}

// --- start -----------------------------------------------------------------------

async function boot() {
  await setLocale(savedLocale());
  clear(document.getElementById("header-tools")).append(languageSelect());
  try {
    session = await get("/api/session");
  } catch (error) {
    if (error.status === 401) {
      window.location.assign("/staff");
      return;
    }
    showView(main, problemView(error.code));
    return;
  }
  setCsrfToken(session.csrf_token);
  setStaffZone(session.timezone);
  if (!appointmentId || !/^\d{1,12}$/.test(appointmentId)) {
    showView(main, problemView("appointment_not_found"));
    return;
  }
  try {
    appointment = await get(`/api/appointments/${appointmentId}`);
  } catch (error) {
    showView(main, problemView(error.code));
    return;
  }
  if (appointment.session === "ended") {
    showView(main, endedSessionView());
    return;
  }
  const check = deviceCheck({
    media,
    titleKey: "staff_call.check_title",
    continueKey: "staff_call.open_room",
    action: "open-room",
    onContinue: openRoom,
  });
  const back = h("p", {}, h("a", { href: backHref(), i18n: "staff_call.back" }));
  check.view.append(back);
  setTitle("staff_call.page_title");
  showView(main, check.view);
  const reloaded = Boolean(sessionStorage.getItem(`kota.staff.resume.${appointmentId}`));
  await check.start();
  if (reloaded) {
    // A reload during the call: go straight back in.
    openRoom();
  }
}

document.addEventListener("click", () => knock.unlock(), { once: true });
boot();
