// A person's session in a contact line: who is with them, the chat (views/chat_panel.js
// over the line socket), "Switch to video" when the line allows it, and End. The video
// is one Peer (peer.js) negotiated over the line socket's `signal` messages; the person
// makes the first offer, the professional's side is the polite one.

import { announce, h, setText } from "../dom.js";
import { t } from "../i18n.js";
import { icon } from "../icons.js";
import { Peer } from "../peer.js";
import { chatPanel } from "./chat_panel.js";
import { attachStream, tapToPlay } from "./video.js";

const SELF = "family";
const STAFF = "staff";

/**
 * ``connection``: LineConnection; ``taken``: the server's `taken` message; ``media``:
 * LocalMedia; ``videoAllowed``: the line offers video; ``onEnd()``: the person taps End.
 * Returns {id (the session's), view, startVideo(), close(), connection(state)}.
 */
export function lineSession({ connection, taken, media, videoAllowed, onEnd }) {
  const name = taken.staff_name || "";
  const remote = h("video", { class: "remote", autoplay: true, playsInline: true,
    attrs: { playsinline: true }, i18nAttrs: { "aria-label": "line.video.remote_label" } });
  const self = h("video", { class: "mirrored", muted: true, autoplay: true, playsInline: true,
    attrs: { playsinline: true, muted: true }, i18nAttrs: { "aria-label": "devices.preview_label" } });
  const remoteTile = h("figure", { class: "line-tile remote-tile" }, remote,
    h("figcaption", {}, name));
  const selfTile = h("figure", { class: "line-tile self-tile" }, self,
    h("figcaption", { i18n: "call.you" }));
  const videos = h("div", { class: "line-videos", hidden: true }, remoteTile, selfTile);
  const videoState = h("p", { class: "hint line-video-state", hidden: true,
    attrs: { role: "status" } });
  const reconnecting = h("p", { class: "notice line-reconnecting", hidden: true,
    attrs: { role: "status" }, i18n: "line.reconnecting" });
  const videoButton = h("button", { type: "button", class: "button secondary",
    hidden: !videoAllowed, dataset: { action: "line-video" },
    on: { click: () => askVideo() } },
    icon("camera"), h("span", { i18n: "line.video.switch" }));
  const chat = chatPanel({ call: connection, onUnread: () => {} });

  const view = h("section", { class: "card line-session",
    attrs: { "aria-labelledby": "line-session-title" } },
    h("h1", { id: "line-session-title", i18n: "line.taken_title", vars: { name } }),
    h("p", { class: "lead", i18n: "line.taken_lead", vars: { name } }),
    reconnecting,
    videos,
    videoState,
    h("div", { class: "line-chat" }, chat.element),
    h("div", { class: "actions" },
      videoButton,
      h("button", { type: "button", class: "button danger", dataset: { action: "line-end" },
        on: { click: () => onEnd() } },
        icon("leave"), h("span", { i18n: "line.end" }))));

  let peer = null;
  let starting = null;
  const early = []; // signals that came before the camera was ready

  function askVideo() {
    videoButton.disabled = true;
    connection.askVideo();
  }

  /** The session is a video call now: camera on, both videos, the first offer. */
  function startVideo({ offer = true } = {}) {
    if (!starting) starting = openVideo(offer);
    return starting;
  }

  async function openVideo(offer) {
    videoButton.hidden = true;
    videos.hidden = false;
    showState("line.video.starting");
    if (!media.audioTrack && !media.cameraTrack) await media.start();
    const local = {
      stream: media.preview,
      track: (kind) => (kind === "audio" ? media.audioTrack : media.videoTrack),
      videoDirection: () => (media.videoTrack ? "sendrecv" : "recvonly"),
    };
    peer = new Peer({ participant: STAFF, connected: true }, SELF, {
      local,
      iceServers: taken.ice_servers || [],
      iceTransportPolicy: taken.ice_transport_policy || "all",
      signal: (payload) => connection.signal(payload),
      changed: (what) => changed(what),
    });
    if (media.videoTrack) attachStream(self, media.preview);
    selfTile.hidden = !media.videoTrack;
    if (offer && !early.some((payload) => payload.kind === "offer")) peer.open({ offer: true });
    for (const payload of early.splice(0)) peer.receive(payload);
    announce(t("line.video.started"));
  }

  function changed(what) {
    if (!peer) return;
    if (what === "media") {
      attachStream(remote, peer.stream).then((result) => {
        if (result === "blocked" && !remoteTile.querySelector(".tap-to-play")) {
          remoteTile.append(tapToPlay(remote));
        }
      });
    }
    const state = peer.connection;
    if (state === "connected") videoState.hidden = true;
    else showState(state === "connecting" ? "line.video.starting" : "line.video.trouble");
  }

  function showState(key) {
    setText(videoState, key);
    videoState.hidden = false;
  }

  connection.addEventListener("signal", (event) => {
    const payload = event.detail.payload;
    if (!payload) return;
    if (peer) peer.receive(payload);
    else {
      early.push(payload);
      // The professional's side offered first: the session is a video call.
      if (payload.kind === "offer") startVideo({ offer: false });
    }
  });

  function close() {
    if (peer) peer.close();
    peer = null;
    starting = null;
    early.length = 0;
  }

  function showConnection(state) {
    reconnecting.hidden = state !== "reconnecting";
  }

  return { id: taken.session, view, startVideo, close, connection: showConnection };
}
