// One conversation on a contact line, as the professional sees it: who (a public line's
// nickname, a personal line's family name), the chat, "Start video" when the line offers
// it, "Hand over" to another line or a colleague, and "End". Nothing of it is kept: the
// chat is gone when the session ends.
//
// Video: the family's page makes the first offer and this side, the polite one of perfect
// negotiation, answers; if no offer came within a few seconds this side offers instead.
// Signals travel as the line socket's `signal` messages of this session.

import { announce, clear, h, setText } from "../dom.js";
import { t } from "../i18n.js";
import { LocalMedia } from "../media.js";
import { Peer } from "../peer.js";
import { chatPanel } from "./chat_panel.js";
import { confirmDialog } from "./confirm.js";
import { attachStream, tapToPlay } from "./video.js";

/** Whether a line's modes let a session become a video call. */
const OWN_OFFER_AFTER_MS = 4000;

export function offersVideo(line) {
  return Boolean(line) && (line.modes === "video" || line.modes === "both");
}

/** The chat panel's idea of a call: chat lines in, our lines out through the socket. */
class SessionChat extends EventTarget {
  constructor(desk, sessionId, who) {
    super();
    this.desk = desk;
    this.sessionId = sessionId;
    this.who = who;
  }

  sendChat(text) {
    return this.desk.chat(this.sessionId, text);
  }

  received({ from, text }) {
    const own = from === "you";
    this.dispatchEvent(new CustomEvent("chat", { detail: {
      from, own, text, name: this.who || t("lines.someone"), at: new Date().toISOString(),
    } }));
  }

  ended() {
    this.dispatchEvent(new CustomEvent("state", { detail: { state: "ended" } }));
  }
}

/**
 * ``session``: the `session` message; ``line``: its line from the board; ``lines``: every
 * line of the board (hand-over targets); ``colleagues``: [{id, name}] who serve the line.
 */
export function lineSession({ desk, session, line, lines, colleagues }) {
  const chat = new SessionChat(desk, session.session, session.who);
  const panel = chatPanel({ call: chat, onUnread: () => {} });
  const status = h("p", { class: "notice", hidden: true, attrs: { role: "status" } });
  const stage = h("div", { class: "line-video", hidden: true });
  const remote = h("video", { class: "remote", muted: false, attrs: { playsinline: true } });
  const self = h("video", { class: "self", muted: true, attrs: { playsinline: true } });
  stage.append(
    h("figure", { class: "line-tile" }, remote,
      h("figcaption", {}, session.who || t("lines.someone"))),
    h("figure", { class: "line-tile self-tile" }, self,
      h("figcaption", { i18n: "lines.you" })));
  const videoButton = h("button", { type: "button", class: "button secondary",
    i18n: "lines.start_video", dataset: { action: "start-video" },
    on: { click: () => askVideo() } });
  videoButton.hidden = !offersVideo(line);
  const handOver = handOverForm({ desk, session, line, lines, colleagues });
  const handButton = h("button", { type: "button", class: "button secondary",
    i18n: "lines.hand_over", dataset: { action: "hand-over" },
    attrs: { "aria-expanded": "false", "aria-controls": "hand-over-form" },
    on: { click: () => {
      handOver.hidden = !handOver.hidden;
      handButton.setAttribute("aria-expanded", String(!handOver.hidden));
      if (!handOver.hidden) handOver.querySelector("select").focus();
    } } });

  const who = session.who
    ? h("span", { class: "line-who" }, session.who)
    : h("span", { class: "line-who", i18n: "lines.anonymous" });
  const element = h("section", { class: "card wide line-session",
    dataset: { session: session.session }, attrs: { "aria-labelledby": "line-session-title" } },
    h("h2", { id: "line-session-title", class: "line-session-title" }, who),
    h("p", { class: "hint line-session-facts", i18n: "lines.session_facts",
      vars: { line: line ? line.name : "", waited: waitText(session.waited_s) } }),
    status, stage,
    h("div", { class: "actions start line-session-actions" },
      videoButton, handButton,
      h("button", { type: "button", class: "button danger", i18n: "lines.end",
        dataset: { action: "end-session" }, on: { click: () => end() } })),
    handOver,
    h("h3", { class: "line-chat-title", i18n: "lines.chat_title" }),
    panel.element);

  let media = null;
  let peer = null;
  let offerTimer = null;
  const early = []; // signals that came while the camera was starting

  let starting = null;
  let closed = false;
  function startVideo() {
    if (!starting) starting = openVideo();
    return starting;
  }

  async function openVideo() {
    videoButton.hidden = true;
    stage.hidden = false;
    media = new LocalMedia();
    const problem = await media.start();
    if (closed) {
      media.stop();
      return;
    }
    if (problem) say("lines.video_no_camera");
    if (media.preview.getTracks().length) attachStream(self, media.preview);
    peer = new Peer({ participant: "family", display_name: session.who, connected: true,
      seat: 1 }, "staff", {
      local: {
        stream: media.preview,
        track: (kind) => (kind === "audio" ? media.audioTrack : media.videoTrack),
        videoDirection: () => (media.videoTrack ? "sendrecv" : "recvonly"),
      },
      iceServers: session.ice_servers || [],
      iceTransportPolicy: session.ice_transport_policy || "all",
      signal: (payload) => desk.signal(session.session, payload),
      changed: (what) => { if (what === "media") showRemote(); },
    });
    for (const payload of early.splice(0)) peer.receive(payload);
    offerTimer = setTimeout(() => {
      if (peer && !peer.pc) peer.open({ offer: true });
    }, OWN_OFFER_AFTER_MS);
    announce(t("lines.video_started"));
  }

  async function showRemote() {
    if (!peer) return;
    const state = await attachStream(remote, peer.stream);
    if (state === "blocked" && !stage.querySelector(".tap-to-play")) {
      stage.append(tapToPlay(remote));
    }
  }

  function askVideo() {
    desk.video(session.session);
    startVideo();
  }

  function say(key, vars) {
    setText(status, key, vars);
    status.hidden = false;
    announce(status.textContent);
  }

  async function end() {
    const sure = await confirmDialog({ titleKey: "lines.end_title", textKey: "lines.end_text",
      confirmKey: "lines.end", danger: true });
    if (sure) desk.end(session.session);
  }

  function stopMedia() {
    clearTimeout(offerTimer);
    early.length = 0;
    if (peer) peer.close();
    if (media) media.stop();
    peer = null;
    media = null;
    remote.srcObject = null;
    self.srcObject = null;
  }

  return {
    element,
    id: session.session,
    start() {
      if (session.mode === "video" && offersVideo(line)) startVideo();
    },
    chat(message) { chat.received(message); },
    video() { startVideo(); },
    /** The person lost the connection (``away``: a minute to come back) or is back. */
    presence(away) {
      const name = session.who || t("lines.someone");
      say(away ? "lines.person_away" : "lines.person_back", { name });
      element.dataset.away = String(away);
    },
    signal(payload) {
      if (peer) peer.receive(payload);
      else {
        early.push(payload);
        // The family offered first: the session is a video call now.
        if (payload && payload.kind === "offer") startVideo();
      }
    },
    close() {
      closed = true;
      chat.ended();
      stopMedia();
      clear(element);
    },
  };
}

/** Hand over: to another line (at the front of its queue) or to a colleague. */
function handOverForm({ desk, session, line, lines, colleagues }) {
  const target = h("select", { id: "hand-over-to", required: true },
    h("option", { value: "", i18n: "lines.hand_over_choose" }),
    h("optgroup", { i18nAttrs: { label: "lines.hand_over_lines" } },
      lines.filter((l) => !line || l.id !== line.id)
        .map((l) => h("option", { value: `line:${l.id}` }, l.name))),
    h("optgroup", { i18nAttrs: { label: "lines.hand_over_colleagues" } },
      colleagues.map((c) => h("option", { value: `staff:${c.id}` }, c.name))));
  const form = h("form", { id: "hand-over-form", class: "form hand-over", hidden: true,
    on: { submit: (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      const [kind, id] = target.value.split(":");
      if (kind === "line") desk.handOverToLine(session.session, Number(id));
      else desk.handOverToStaff(session.session, Number(id));
    } } },
    h("div", { class: "field" },
      h("label", { htmlFor: "hand-over-to", i18n: "lines.hand_over_to" }), target),
    h("p", { class: "hint", i18n: "lines.hand_over_hint" }),
    h("div", { class: "actions start" },
      h("button", { type: "submit", class: "button primary", i18n: "lines.hand_over_confirm",
        dataset: { action: "hand-over-confirm" } })));
  return form;
}

/** A wait in whole minutes as words: "under a minute", "3 min". */
export function waitText(seconds) {
  if (seconds === null || seconds === undefined) return t("lines.wait_unknown");
  const minutes = Math.round(seconds / 60);
  if (minutes < 1) return t("lines.wait_under_minute");
  return t("lines.wait_minutes", { n: minutes });
}
