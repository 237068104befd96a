// The professional's side of the contact lines socket (/ws/line, docs/protocol-lines.md):
// the duty board, knocks, take next and one session at a time. Facts arrive as events
// named by their ``type`` (board, knock, session, nobody, chat, video, signal, presence,
// ended, error); ``state`` tells "connecting", "open" or "lost". No DOM.

import { SignallingSocket, closeIsRetryable, socketUrl } from "./protocol.js";

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const FACTS = ["welcome", "board", "knock", "session", "nobody", "chat", "video", "signal",
  "presence", "ended", "error"];

export class StaffLineSocket extends EventTarget {
  constructor(path = "/ws/line") {
    super();
    this.url = socketUrl(path);
    this.socket = null;
    this.state = "connecting";
    this.staffId = null;
    this._attempt = 0;
    this._timer = null;
    this._stopped = false;
  }

  /** Connect (and reconnect after a network drop) until ``stop()``. */
  start() {
    this._stopped = false;
    this._connect();
  }

  stop() {
    this._stopped = true;
    clearTimeout(this._timer);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }

  async _connect() {
    if (this._stopped) return;
    this._setState("connecting");
    const socket = new SignallingSocket(this.url);
    this.socket = socket;
    for (const type of FACTS) {
      socket.addEventListener(type, (event) => {
        if (socket !== this.socket) return;
        if (type === "welcome") {
          this.staffId = event.detail.staff_id;
          this._attempt = 0;
          this._setState("open");
        }
        this.dispatchEvent(new CustomEvent(type, { detail: event.detail }));
      });
    }
    socket.addEventListener("close", (event) => {
      if (socket !== this.socket || this._stopped) return;
      this._setState("lost");
      if (!closeIsRetryable(event.detail.code)) return;
      const wait = BACKOFF_MS[Math.min(this._attempt, BACKOFF_MS.length - 1)];
      this._attempt += 1;
      this._timer = setTimeout(() => this._connect(), wait);
    });
    try {
      await socket.open();
    } catch {
      return; // the close handler schedules the next try
    }
    socket.send({ type: "hello", version: "1", staff: true });
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state } }));
  }

  send(message) {
    return Boolean(this.socket && this.socket.send(message));
  }

  // --- requests (staff → server) ---

  /** The whole set of lines this professional is on duty for ([] = off duty). */
  duty(lineIds) {
    return this.send({ type: "duty", lines: lineIds });
  }

  takeNext() {
    return this.send({ type: "take_next" });
  }

  chat(session, text) {
    return this.send({ type: "chat", session, text });
  }

  video(session) {
    return this.send({ type: "video", session });
  }

  signal(session, payload) {
    return this.send({ type: "signal", session, payload });
  }

  handOverToLine(session, line) {
    return this.send({ type: "hand_over", session, line });
  }

  handOverToStaff(session, staff) {
    return this.send({ type: "hand_over", session, staff });
  }

  end(session) {
    return this.send({ type: "end", session });
  }
}
