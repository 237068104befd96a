// Peer: one other participant in the call and our RTCPeerConnection to them, negotiated
// with perfect negotiation (docs/protocol.md, "Mesh and who offers"). No DOM.

import { LinkQuality } from "./link_quality.js";
import { candidatePayload, descriptionPayload } from "./protocol.js";

/** A connection with no ICE candidate by now cannot connect (e.g. relay-only and the TURN
 * server refuses our credentials): say so rather than "connecting" for ever. */
const NO_CANDIDATE_MS = 6000;

export class Peer {
  /**
   * ``local`` gives what we send: {track(kind), videoDirection(), stream}.
   * ``signal(payload)`` sends to this peer; ``changed(what)`` tells the call that the
   * connection ("connection"), the media ("media") or the link's quality ("quality",
   * see ``quality``: LinkQuality) changed. ``people()`` is how many are in the call (us
   * included), for what we send this peer (link_quality.js, groupCap).
   */
  constructor(info, selfId, {
    local, iceServers, iceTransportPolicy = "all", signal, changed, people = () => 2,
  }) {
    this.id = info.participant;
    this.info = { ...info };
    // The peer whose id sorts lower is polite.
    this.polite = this.id < selfId;
    this.local = local;
    this.iceServers = iceServers;
    this.iceTransportPolicy = iceTransportPolicy;
    this.signal = signal;
    this.changed = changed;
    this.people = people;
    this.pc = null;
    this.pcSeat = null;
    // How well the connection carries our media; steps our video down on a weak link or
    // a busy device, and caps it as the call grows.
    this.quality = null;
    // True while our connection has gathered no ICE candidate although gathering ended or
    // NO_CANDIDATE_MS passed: nothing can connect ("unreachable").
    this.noCandidates = false;
    this._candidates = 0;
    this._gatherTimer = null;
    // One stream for the peer's whole stay; the <video> showing it keeps it.
    this.stream = new MediaStream();
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.queue = Promise.resolve();
  }

  get name() {
    return this.info.display_name || "";
  }

  /** "connected", "connecting", "reconnecting" (socket gone, seat held), "lost", or
   * "unreachable" (no ICE candidate at all: typically the TURN relay refused or is down). */
  get connection() {
    if (!this.info.connected) return "reconnecting";
    const state = this.pc ? this.pc.connectionState : "new";
    if (state === "connected") return "connected";
    if (this.noCandidates) return "unreachable";
    if (state === "failed") return "lost";
    if (state === "disconnected") return "reconnecting";
    return "connecting";
  }

  /** Whether the peer's video is arriving (its track is muted while they send none). */
  get hasVideo() {
    const track = this.stream.getVideoTracks()[0];
    return Boolean(track && !track.muted && track.readyState === "live");
  }

  /** A new connection; with ``offer`` we add our transceivers, and so make the offer. */
  open({ offer }) {
    const pc = new RTCPeerConnection({
      iceServers: this.iceServers,
      iceTransportPolicy: this.iceTransportPolicy,
      bundlePolicy: "max-bundle",
    });
    this.pc = pc;
    this.pcSeat = this.info.seat;
    this.quality = new LinkQuality(pc, () => this.changed("quality"), this.people);
    pc.ontrack = ({ track }) => this._onRemoteTrack(track);
    pc.onicecandidate = ({ candidate }) => {
      if (candidate && candidate.candidate) this._candidateFound();
      else if (!candidate && this._candidates === 0) this._noCandidates(); // gathering ended
      this.signal(candidatePayload(candidate));
    };
    clearTimeout(this._gatherTimer);
    this._gatherTimer = setTimeout(() => {
      if (this._candidates === 0) this._noCandidates();
    }, NO_CANDIDATE_MS);
    pc.onnegotiationneeded = async () => {
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        this.signal(descriptionPayload(pc.localDescription));
      } catch (error) {
        console.warn("kota: offer failed", error);
      } finally {
        this.makingOffer = false;
      }
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed") pc.restartIce();
      this.changed("connection");
    };
    if (offer) {
      // Always both kinds, so a camera turned on later needs no new m-line.
      const streams = [this.local.stream];
      pc.addTransceiver(this.local.track("audio") || "audio", { direction: "sendrecv", streams });
      pc.addTransceiver(this.local.track("video") || "video", {
        direction: this.local.videoDirection(),
        streams,
      });
    }
  }

  close() {
    if (this.pc) {
      this.pc.onicecandidate = this.pc.ontrack = this.pc.onnegotiationneeded = null;
      this.pc.onconnectionstatechange = null;
      this.pc.close();
    }
    clearTimeout(this._gatherTimer);
    if (this.quality) this.quality.stop();
    this.quality = null;
    this.noCandidates = false;
    this._candidates = 0;
    this.pc = null;
    this.pcSeat = null;
    for (const track of this.stream.getTracks()) this.stream.removeTrack(track);
    this.makingOffer = this.ignoreOffer = false;
    this.queue = Promise.resolve();
  }

  restartIce() {
    if (this.pc) this.pc.restartIce();
  }

  /** Apply one relayed signal; signals are applied in the order they came. */
  receive(payload) {
    this.queue = this.queue
      .then(() => this._apply(payload))
      .catch((error) => console.warn("kota: signal failed", error));
  }

  /** Perfect negotiation (W3C WebRTC 1.0, "Perfect negotiation example"). */
  async _apply(payload) {
    if (payload.kind === "candidate") {
      if (!this.pc || !payload.candidate) return;
      try {
        await this.pc.addIceCandidate({
          candidate: payload.candidate,
          sdpMid: payload.sdpMid,
          sdpMLineIndex: payload.sdpMLineIndex,
          usernameFragment: payload.usernameFragment,
        });
      } catch (error) {
        if (!this.ignoreOffer) throw error;
      }
      return;
    }
    const description = { type: payload.kind, sdp: payload.sdp };
    if (!this.pc) {
      if (description.type !== "offer") return;
      this.open({ offer: false });
    }
    const pc = this.pc;
    const collision =
      description.type === "offer" && (this.makingOffer || pc.signalingState !== "stable");
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return;
    await pc.setRemoteDescription(description);
    if (description.type === "offer") {
      await this.attachTracks();
      await pc.setLocalDescription();
      this.signal(descriptionPayload(pc.localDescription));
    }
  }

  /** Our current tracks on every transceiver, with the directions we want now. */
  async attachTracks(kinds = ["audio", "video"]) {
    if (!this.pc) return;
    for (const transceiver of this.pc.getTransceivers()) {
      if (transceiver.stopped || transceiver.currentDirection === "stopped") continue;
      const kind = transceiver.receiver.track.kind;
      if (!kinds.includes(kind)) continue;
      const track = this.local.track(kind);
      if (transceiver.sender.track !== track) await transceiver.sender.replaceTrack(track);
      const direction = kind === "audio" ? "sendrecv" : this.local.videoDirection();
      if (transceiver.direction !== direction) transceiver.direction = direction;
    }
  }

  _candidateFound() {
    this._candidates += 1;
    if (!this.noCandidates) return;
    this.noCandidates = false;
    this.changed("connection");
  }

  _noCandidates() {
    if (this.noCandidates || !this.pc || this.pc.connectionState === "connected") return;
    console.warn("kota: no ICE candidate gathered", { policy: this.iceTransportPolicy });
    this.noCandidates = true;
    this.changed("connection");
  }

  _onRemoteTrack(track) {
    for (const old of this.stream.getTracks()) {
      if (old.kind === track.kind && old !== track) this.stream.removeTrack(old);
    }
    if (!this.stream.getTracks().includes(track)) this.stream.addTrack(track);
    const changed = () => this.changed("media");
    track.addEventListener("mute", changed);
    track.addEventListener("unmute", changed);
    track.addEventListener("ended", changed);
    changed();
  }
}
