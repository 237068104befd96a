// A participant's side of a call: the signalling socket (with reconnect and resume),
// who is in the call, and one Peer (RTCPeerConnection) per other participant, opened
// and restarted as docs/protocol.md says. No DOM: pages listen to events, read ``peers``.

import { Peer } from "./peer.js";
import { CLOSE, closeIsRetryable, SignallingSocket } from "./protocol.js";

/** Reconnect delays in ms; the last repeats until MAX_RECONNECT_MS has passed. */
const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];
const MAX_RECONNECT_MS = 3 * 60 * 1000;
const LEAVE_TIMEOUT_MS = 1500;

/** Ends that a reconnect cannot undo, by close code. (1000 follows only our own
 * `leave`, which `_leaving` covers; any other 1000 came from something in between.) */
const END_BY_CLOSE = {
  [CLOSE.DENIED]: "denied",
  [CLOSE.REVOKED]: "revoked",
  [CLOSE.ENDED]: "ended",
  [CLOSE.REPLACED]: "replaced",
  [CLOSE.OUTSIDE_WINDOW]: "outside_window",
};

/**
 * Events: ``state`` {state, reason?, detail?}; ``position`` {position};
 * ``peers``; ``media`` {peer}; ``chat`` {from, name, text, at, own};
 * ``staff-message`` {text, toAll}; ``waiting-reply`` {from, name, text, at} (staff);
 * ``waiting-message-sent`` {by, byName, to, toAll, text, at} (staff: a colleague's text);
 * ``texts-cleared`` {participant}; ``knocked`` {person}; ``waiting-list`` {waiting};
 * ``problem`` {code} for recoverable errors; ``quality`` {peer} when a link's sending
 * level or ``weakLink`` changes.
 * States: connecting, waiting, admitted, reconnecting, ended.
 */
export class Call extends EventTarget {
  constructor({ url, token = null, media, resumeKey, iceServers = [] }) {
    super();
    this.url = url;
    this.token = token;
    this.media = media;
    this.resumeKey = resumeKey;
    this.iceServers = iceServers;
    // "relay": TURN routes only, so no one learns another's IP address (docs/protocol.md).
    this.iceTransportPolicy = "all";
    this.state = "idle";
    this.self = null;
    this.staff = false;
    this.window = null;
    this.position = null;
    this.peers = new Map();
    this.waiting = [];
    this.audioOnly = false;
    this._audioOnlyWeak = false;
    this._toldAudioOnly = false; // what the server last heard (media-mode)
    this.socket = null;
    this._endReason = null;
    this._endDetail = null;
    this._leaving = false;
    this._reconnectStarted = null;
    this._attempt = 0;
    this._timer = null;
    this._resume = null;
    this.local = {
      stream: media.preview,
      track: (kind) => (kind === "audio" ? media.audioTrack : media.videoTrack),
      videoDirection: () => {
        if (this.audioOnly) return "inactive";
        return media.videoTrack ? "sendrecv" : "recvonly";
      },
    };
    this.media.addEventListener("change", (event) => this._onTrackChange(event.detail.kind));
    this._onOnline = () => {
      if (this.state === "reconnecting") this._reconnectNow();
    };
    window.addEventListener("online", this._onOnline);
  }

  start() {
    clearTimeout(this._leaveTimer); // an earlier leave's fallback must not end this call
    this._endReason = null;
    this._endDetail = null;
    this._leaving = false;
    this._reconnectStarted = null;
    this._attempt = 0;
    this._setState("connecting");
    this._connect();
  }

  // --- the socket --------------------------------------------------------------

  async _connect() {
    const socket = new SignallingSocket(this.url);
    this.socket = socket;
    const on = (type, handler) =>
      socket.addEventListener(type, (event) => {
        if (this.socket === socket) handler(event.detail);
      });
    on("welcome", (m) => this._onWelcome(m));
    on("error", (m) => this._onError(m));
    on("waiting", (m) => this._onWaiting(m));
    on("admitted", (m) => this._onAdmitted(m));
    on("denied", (m) => this._finishWith(m.revoked ? "revoked" : "denied"));
    on("removed", (m) => this._onRemoved(m));
    on("knocked", (m) => this._emit("knocked", { person: m.participant }));
    on("waiting-list", (m) => {
      this.waiting = m.waiting;
      this._emit("waiting-list", { waiting: m.waiting });
    });
    on("peer-joined", (m) => this._onPeerJoined(m.peer));
    on("peer-left", (m) => this._dropPeer(m.participant));
    on("peer-disconnected", (m) => this._onPeerDisconnected(m));
    on("peer-reconnected", (m) => this._onPeerReconnected(m));
    on("signal", (m) => this._onSignal(m));
    on("chat", (m) => this._onChat(m));
    on("staff-message", (m) => this._emit("staff-message", { text: m.text, toAll: !!m.to_all }));
    on("waiting-reply", (m) => this._emit("waiting-reply",
      { from: m.from, name: m.display_name, text: m.text, at: m.at }));
    on("waiting-message-sent", (m) => this._emit("waiting-message-sent",
      { by: m.by, byName: m.by_name, to: m.to, toAll: !!m.to_all, text: m.text, at: m.at }));
    on("texts-cleared", (m) => this._emit("texts-cleared", { participant: m.participant }));
    on("session-ended", () => this._finishWith("ended"));
    on("close", (m) => this._onClose(m.code));
    try {
      await socket.open();
    } catch {
      return; // "close" follows and decides whether to try again.
    }
    if (this.socket !== socket) return;
    const resume = this._loadResume();
    if (resume) {
      socket.hello({ resume: { ...resume, fresh: this._connectionCount() === 0 } });
    } else {
      socket.hello({ token: this.token });
    }
  }

  _onClose(code) {
    if (this.state === "ended") return;
    if (this._leaving) return this._end("left");
    if (this._endReason) return this._end(this._endReason, this._endDetail);
    if (END_BY_CLOSE[code]) return this._end(END_BY_CLOSE[code], this._endDetail);
    if (!closeIsRetryable(code)) return this._end("refused", this._endDetail);
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    const now = Date.now();
    if (this._reconnectStarted === null) this._reconnectStarted = now;
    if (now - this._reconnectStarted > MAX_RECONNECT_MS) {
      this._end("connection_lost");
      return;
    }
    this._setState("reconnecting");
    const base = BACKOFF_MS[Math.min(this._attempt, BACKOFF_MS.length - 1)];
    this._attempt += 1;
    const delay = base * (0.8 + Math.random() * 0.4);
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._connect(), delay);
  }

  /** Try at once (the page came back online, or the person asked). */
  _reconnectNow() {
    clearTimeout(this._timer);
    this._connect();
  }

  retryNow() {
    if (this.state === "reconnecting") this._reconnectNow();
  }

  _finishWith(reason, detail = null) {
    this._endReason = reason;
    this._endDetail = detail;
  }

  _end(reason, detail = null) {
    clearTimeout(this._timer);
    this._closeAllPeers();
    this._clearResume();
    this.waiting = [];
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close();
    this._setState("ended", { reason, detail });
  }

  /** Stop for good, e.g. when the page goes away. */
  dispose() {
    window.removeEventListener("online", this._onOnline);
    if (this.state !== "ended") this._end("left");
  }

  // --- facts from the server ---------------------------------------------------

  _onWelcome(m) {
    this._attempt = 0;
    this._reconnectStarted = null;
    this.self = m.participant;
    this.staff = !!m.staff;
    this.window = { opensAt: m.opens_at, closesAt: m.closes_at };
    if (Array.isArray(m.ice_servers)) this.iceServers = m.ice_servers;
    this.iceTransportPolicy = m.ice_transport_policy || "all";
    if (!m.resumed) this._closeAllPeers();
    if (m.state === "waiting") {
      this._clearResume();
      this.position = m.position;
      this._setState("waiting", { position: m.position });
      return;
    }
    this._saveResume(m.resume_secret);
    this._syncPeers(m.peers || []);
    if (!m.resumed) this._toldAudioOnly = false; // a new stay in the call: tell it afresh
    this._setState("admitted", { resumed: !!m.resumed });
    this._tellMediaMode();
  }

  _onError(m) {
    if (m.code === "resume_failed") {
      // The seat is gone; a normal hello gives staff a new seat, families the waiting room.
      this._clearResume();
      this._closeAllPeers();
      this.socket.hello({ token: this.token });
      return;
    }
    if (m.code === "outside_join_window") {
      this._finishWith("outside_window", { opensAt: m.opens_at, closesAt: m.closes_at });
      return;
    }
    const fatal = [
      "session_ended",
      "link_revoked",
      "appointment_cancelled",
      "token_invalid",
      "token_expired",
      "unauthenticated",
      "not_staff",
      "unsupported_version",
    ];
    if (m.code === "session_ended") this._finishWith("ended");
    else if (m.code === "link_revoked") this._finishWith("revoked");
    else if (m.code === "appointment_cancelled") this._finishWith("cancelled");
    else if (fatal.includes(m.code)) this._finishWith("refused", { code: m.code });
    this._emit("problem", { code: m.code });
  }

  _onWaiting(m) {
    this.position = m.position;
    if (this.state !== "waiting") {
      this._closeAllPeers();
      this._clearResume();
    }
    this._setState("waiting", { position: m.position });
  }

  _onAdmitted(m) {
    if (Array.isArray(m.ice_servers)) this.iceServers = m.ice_servers;
    this.iceTransportPolicy = m.ice_transport_policy || "all";
    this._saveResume(m.resume_secret);
    this._syncPeers(m.peers || []);
    this._toldAudioOnly = false;
    this._setState("admitted", { resumed: false });
    this._tellMediaMode();
  }

  _onRemoved(m) {
    this._closeAllPeers();
    this._clearResume();
    if (m.revoked) this._finishWith("removed");
  }

  _onChat(m) {
    const peer = this.peers.get(m.from);
    this._emit("chat", { from: m.from, name: peer ? peer.name : "", text: m.text, at: m.at });
  }

  // --- peers -------------------------------------------------------------------

  _newPeer(info) {
    const peer = new Peer(info, this.self, {
      local: this.local,
      iceServers: this.iceServers,
      iceTransportPolicy: this.iceTransportPolicy,
      signal: (payload) => this.socket && this.socket.signal(peer.id, payload),
      changed: (what) => {
        if (what === "media" || what === "quality") this._emit(what, { peer });
        else this._emit("peers");
      },
      people: () => this.peers.size + 1,
    });
    this.peers.set(peer.id, peer);
    this._peopleChanged();
    return peer;
  }

  /** What we send each peer is capped by the call's size (link_quality.js, groupCap). */
  _peopleChanged() {
    for (const peer of this.peers.values()) if (peer.quality) peer.quality.peopleChanged();
  }

  _syncPeers(list) {
    const current = new Map(list.map((info) => [info.participant, info]));
    for (const [id, peer] of this.peers) {
      const info = current.get(id);
      if (!info || (peer.pc && peer.pcSeat !== info.seat)) this._dropPeer(id, { quiet: true });
    }
    for (const info of list) {
      const peer = this.peers.get(info.participant) || this._newPeer(info);
      peer.info = { ...info };
      // We are the newcomer (or resumed): connected peers send the offers.
    }
    this._emit("peers");
  }

  _onPeerJoined(info) {
    this._dropPeer(info.participant, { quiet: true });
    // We were here first: we offer.
    this._newPeer(info).open({ offer: true });
    this._emit("peers");
  }

  _onPeerDisconnected(m) {
    const peer = this.peers.get(m.participant);
    if (!peer) return;
    peer.info.connected = false;
    peer.info.until = m.until;
    this._emit("peers");
  }

  _onPeerReconnected(m) {
    const peer = this.peers.get(m.participant);
    if (!peer) return;
    peer.info.connected = true;
    const sameSeat = peer.pc && peer.pcSeat === m.seat;
    peer.info.seat = m.seat;
    if (sameSeat && !m.fresh) {
      peer.restartIce();
    } else {
      peer.close();
      peer.open({ offer: true });
    }
    this._emit("peers");
  }

  _dropPeer(id, { quiet = false } = {}) {
    const peer = this.peers.get(id);
    if (!peer) return;
    peer.close();
    this.peers.delete(id);
    this._peopleChanged();
    if (!quiet) this._emit("peers");
  }

  _closeAllPeers() {
    for (const id of [...this.peers.keys()]) this._dropPeer(id, { quiet: true });
    this._emit("peers");
  }

  _connectionCount() {
    let count = 0;
    for (const peer of this.peers.values()) if (peer.pc) count += 1;
    return count;
  }

  _onSignal(m) {
    let peer = this.peers.get(m.from);
    if (!peer) {
      if (!m.payload || m.payload.kind !== "offer") return;
      // An offer can overtake news of its sender; its name comes with the next update.
      peer = this._newPeer({ participant: m.from, display_name: "", role: "", staff: false,
        host: false, connected: true, seat: null });
      this._emit("peers");
    }
    peer.receive(m.payload);
  }

  _onTrackChange(kind) {
    for (const peer of this.peers.values()) {
      peer.attachTracks([kind]).catch((e) => console.warn("kota:", e));
    }
  }

  /** Whether some connection is too weak for video and the network is the cause
   * (LinkQuality; a busy device is not): offer sound only. */
  get weakLink() {
    for (const peer of this.peers.values()) if (peer.quality && peer.quality.tooWeak) return true;
    return false;
  }

  // --- what the person does ----------------------------------------------------

  /** Neither send nor receive video: for a weak connection. Renegotiates every peer.
   * ``weak``: Kota's weak-link offer (in the call or the connection check) was the reason;
   * the server logs the switch (``media-mode``), once admitted. */
  async setAudioOnly(on, { weak = false } = {}) {
    this.audioOnly = on;
    this._audioOnlyWeak = on && weak;
    this._tellMediaMode();
    if (on) {
      this._cameraBeforeAudioOnly = this.media.cameraOn;
      await this.media.setCameraOn(false);
    } else if (this._cameraBeforeAudioOnly && this.media.hasCamera) {
      await this.media.setCameraOn(true);
    }
    this._onTrackChange("video");
  }

  /** Tells the server of a sound-only switch it has not heard of (only the admitted may). */
  _tellMediaMode() {
    if (this.state !== "admitted" || !this.socket) return;
    if (this._toldAudioOnly === this.audioOnly) return;
    if (this.socket.mediaMode(this.audioOnly, this._audioOnlyWeak)) {
      this._toldAudioOnly = this.audioOnly;
    }
  }

  sendChat(text) {
    if (!this.socket || !this.socket.chat(text)) return false;
    this._emit("chat", { from: this.self, name: "", text, at: new Date().toISOString(), own: true });
    return true;
  }

  leave() {
    if (this.state === "ended") return;
    this._leaving = true;
    if (!this.socket || !this.socket.leave()) {
      this._end("left");
      return;
    }
    clearTimeout(this._leaveTimer);
    this._leaveTimer = setTimeout(() => {
      if (this.state !== "ended" && this._leaving) this._end("left");
    }, LEAVE_TIMEOUT_MS);
  }

  admit(id) {
    return this.socket && this.socket.admit(id);
  }

  deny(id, revoke = false) {
    return this.socket && this.socket.deny(id, revoke);
  }

  remove(id, revoke = false) {
    return this.socket && this.socket.remove(id, revoke);
  }

  endForAll() {
    return this.socket && this.socket.end();
  }

  /** ``to`` one waiting person's id, or null for everyone waiting (asked for explicitly). */
  messageWaiting(text, to) {
    if (!this.socket) return false;
    return to ? this.socket.messageWaiting(text, to) : this.socket.messageAllWaiting(text);
  }

  /** While waiting: a short text to the staff in the call. */
  reply(text) {
    return this.socket && this.socket.reply(text);
  }

  // --- bookkeeping -------------------------------------------------------------

  _loadResume() {
    if (this._resume) return this._resume;
    try {
      const saved = JSON.parse(sessionStorage.getItem(this.resumeKey) || "null");
      if (saved && saved.participant && saved.secret) return saved;
    } catch {
      // Nothing to resume.
    }
    return null;
  }

  _saveResume(secret) {
    if (!secret || !this.self) return;
    this._resume = { participant: this.self, secret };
    try {
      sessionStorage.setItem(
        this.resumeKey,
        JSON.stringify({ participant: this.self, secret }),
      );
    } catch {
      // Without storage a reload joins anew; reconnects still use memory below.
    }
  }

  _clearResume() {
    this._resume = null;
    try {
      sessionStorage.removeItem(this.resumeKey);
    } catch {
      // Nothing stored.
    }
  }

  _setState(state, detail = {}) {
    this.state = state;
    this._emit("state", { state, ...detail });
  }

  _emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
