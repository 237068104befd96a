// Kota's call protocol (docs/protocol.md): one WebSocket, requests out, facts in.
// No DOM and no WebRTC here, as Galène keeps static/protocol.js apart from its pages.

export const PROTOCOL_VERSIONS = ["1"];

/** Close codes the server uses, by reason (docs/protocol.md, "Close codes"). */
export const CLOSE = Object.freeze({
  LEFT: 1000,
  SERVER_SHUTDOWN: 1001,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL: 1011,
  DENIED: 4001,
  REVOKED: 4003,
  ENDED: 4004,
  REPLACED: 4005,
  TOO_SLOW: 4006,
  FLOODING: 4007,
  TIMEOUT: 4008,
  OUTSIDE_WINDOW: 4009,
});

/**
 * Closes after which reconnecting can help: the network, not a decision, ended it.
 * The server sends 1000 only after the client's own `leave`; a 1000 the client did not
 * ask for (a proxy, or the browser echoing a close) is treated as a network drop.
 */
export function closeIsRetryable(code) {
  return ![
    CLOSE.POLICY,
    CLOSE.TOO_BIG,
    CLOSE.DENIED,
    CLOSE.REVOKED,
    CLOSE.ENDED,
    CLOSE.REPLACED,
    CLOSE.FLOODING,
    CLOSE.OUTSIDE_WINDOW,
  ].includes(code);
}

/** The WebSocket URL of a path on this page's own origin. */
export function socketUrl(path) {
  const url = new URL(path, window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.hash = "";
  return url.href;
}

/**
 * One connection to the call socket. Facts arrive as events named by their
 * ``type`` (``welcome``, ``peer-joined``, ...), each with the message as ``detail``;
 * ``close`` carries {code, reason}. Requests are methods.
 */
export class SignallingSocket extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.ws = null;
    this.closed = false;
  }

  /** Open the socket; resolves once it is open, rejects if it never opens. */
  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      let opened = false;
      ws.addEventListener("open", () => {
        opened = true;
        resolve();
      });
      ws.addEventListener("message", (event) => this._receive(event.data));
      ws.addEventListener("close", (event) => {
        this.closed = true;
        if (!opened) reject(new Error(`socket closed before opening (${event.code})`));
        this.dispatchEvent(
          new CustomEvent("close", { detail: { code: event.code, reason: event.reason } }),
        );
      });
    });
  }

  _receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (!message || typeof message.type !== "string") return;
    this.dispatchEvent(new CustomEvent(message.type, { detail: message }));
  }

  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  close(code = 1000) {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(code);
  }

  // --- requests (client → server) ---

  hello({ token, resume } = {}) {
    const message = { type: "hello", version: PROTOCOL_VERSIONS };
    if (token) message.token = token;
    if (resume) message.resume = resume;
    return this.send(message);
  }

  leave() {
    return this.send({ type: "leave" });
  }

  admit(participant) {
    return this.send({ type: "admit", participant });
  }

  deny(participant, revoke = false) {
    return this.send({ type: "deny", participant, revoke });
  }

  remove(participant, revoke = false) {
    return this.send({ type: "remove", participant, revoke });
  }

  end() {
    return this.send({ type: "end" });
  }

  /** A text to one waiting person; everyone waiting only through ``messageAllWaiting``. */
  messageWaiting(text, to) {
    return this.send({ type: "message-waiting", text, to });
  }

  messageAllWaiting(text) {
    return this.send({ type: "message-waiting", text, to_all: true });
  }

  /** A waiting person's short text to the staff in the call. */
  reply(text) {
    return this.send({ type: "reply", text });
  }

  signal(to, payload) {
    return this.send({ type: "signal", to, payload });
  }

  chat(text) {
    return this.send({ type: "chat", text });
  }

  /** Sound only on or off; ``weak``: Kota's weak-link offer was the reason. */
  mediaMode(audioOnly, weak = false) {
    return this.send({ type: "media-mode", audio_only: audioOnly, weak });
  }
}

/** A JSEP description as a signal payload. */
export function descriptionPayload(description) {
  return { kind: description.type, sdp: description.sdp };
}

/** An RTCIceCandidate (or null for the end of candidates) as a signal payload. */
export function candidatePayload(candidate) {
  if (!candidate) return { kind: "candidate", candidate: "" };
  const init = candidate.toJSON();
  return {
    kind: "candidate",
    candidate: init.candidate || "",
    sdpMid: init.sdpMid ?? null,
    sdpMLineIndex: init.sdpMLineIndex ?? null,
    usernameFragment: init.usernameFragment ?? null,
  };
}
