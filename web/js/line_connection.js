// A person's connection to a contact line (GET /ws/line, docs/protocol-lines.md): the
// hello, the facts the server sends, and a resume within the minute when the socket
// drops. No DOM; the page (pages/line.js) listens to the events.
//
// Events: "state" {state: "connecting"|"reconnecting"|"open"}, then one per server fact
// named by its type ("welcome", "queue", "taken", "video", "signal", "handed_over",
// "closed", "full", "line_closed", "ended", "error"), each with the message as detail;
// "chat" in the shape views/chat_panel.js reads ({from, name, text, at, own});
// "resume_failed" when the kept place is gone (start over); "gone" {code} when the socket
// is lost for good (no place to come back to).

import { SignallingSocket, socketUrl } from "./protocol.js";

const VERSION = "1";
// The server keeps the place for a minute; stop trying a little before that.
const RESUME_FOR_MS = 55_000;
const RETRY_MS = [500, 1000, 2000, 4000, 8000];
// Facts after which the server closes the socket: nothing to come back to.
const FINAL = ["closed", "full", "line_closed", "ended"];
const FACTS = ["welcome", "queue", "taken", "video", "signal", "handed_over", ...FINAL];

export class LineConnection extends EventTarget {
  /** ``resumeKey``: where this tab keeps the ticket secret (sessionStorage), for reloads. */
  constructor({ resumeKey, path = "/ws/line" }) {
    super();
    this.resumeKey = resumeKey;
    this.url = socketUrl(path);
    this.socket = null;
    this.staffName = "";
    this._finished = false;
    this._leaving = false;
    this._lostAt = null;
    this._attempt = 0;
    this._timer = null;
    this._onOnline = () => {
      if (this._lostAt !== null) this._retryNow();
    };
    window.addEventListener("online", this._onOnline);
  }

  /** The ticket secret kept in this tab, if any (a reload within the minute). */
  get resume() {
    try {
      return sessionStorage.getItem(this.resumeKey);
    } catch {
      return this._resume || null;
    }
  }

  set resume(value) {
    this._resume = value;
    try {
      if (value) sessionStorage.setItem(this.resumeKey, value);
      else sessionStorage.removeItem(this.resumeKey);
    } catch {
      // Memory only: a reload starts over.
    }
  }

  /** Join: ``hello`` is {line, mode, nickname?} or {enrolment, mode}; or resume the kept place. */
  start(hello) {
    this._finished = false;
    this._leaving = false;
    this._hello = hello;
    this._connect(this.resume ? { resume: this.resume } : hello);
  }

  _connect(hello) {
    clearTimeout(this._timer);
    const socket = new SignallingSocket(this.url);
    this.socket = socket;
    let welcomed = false;
    this._emit("state", { state: this._lostAt === null ? "connecting" : "reconnecting" });
    for (const type of FACTS) {
      socket.addEventListener(type, (event) => {
        if (type === "welcome") welcomed = true;
        this._fact(type, event.detail);
      });
    }
    socket.addEventListener("chat", (event) => this._chat(event.detail));
    socket.addEventListener("error", (event) => {
      if (hello.resume && !welcomed) {
        // The place is gone (the minute passed, or it was served): start over.
        this._finish();
        this._emit("resume_failed", event.detail);
      } else {
        this._emit("error", event.detail);
      }
    });
    socket.addEventListener("close", (event) => this._closed(socket, event.detail));
    socket.open().then(
      () => socket.send({ type: "hello", version: VERSION, ...hello }),
      () => {}, // the close handler retries
    );
  }

  _fact(type, message) {
    if (type === "welcome") {
      this.resume = message.resume;
      this._lostAt = null;
      this._attempt = 0;
      this._emit("state", { state: "open" });
    } else if (type === "taken") {
      this.staffName = message.staff_name || "";
    }
    if (FINAL.includes(type)) {
      this._finish();
      this._emit("state", { state: "ended" });
    }
    this._emit(type, message);
  }

  _chat(message) {
    this._emit("chat", {
      from: message.from,
      own: message.from === "you",
      name: message.from === "you" ? "" : this.staffName,
      text: message.text,
      at: new Date().toISOString(),
    });
  }

  _closed(socket, { code }) {
    if (socket !== this.socket) return;
    if (this._finished || this._leaving) {
      this._finish();
      return;
    }
    if (!this.resume) {
      // Never got a place (refused hello): nothing to resume.
      this._finish();
      this._emit("gone", { code });
      return;
    }
    if (this._lostAt === null) this._lostAt = Date.now();
    if (Date.now() - this._lostAt > RESUME_FOR_MS) {
      this._finish();
      this.resume = null;
      this._emit("gone", { code });
      return;
    }
    this._emit("state", { state: "reconnecting" });
    const wait = RETRY_MS[Math.min(this._attempt, RETRY_MS.length - 1)];
    this._attempt += 1;
    this._timer = setTimeout(() => this._retryNow(), wait);
  }

  _retryNow() {
    if (this._finished || !this.resume) return;
    this._connect({ resume: this.resume });
  }

  _finish() {
    this._finished = true;
    clearTimeout(this._timer);
    this.resume = null;
    this._lostAt = null;
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _send(message) {
    return this.socket ? this.socket.send(message) : false;
  }

  // --- requests (person → server) ---

  leave() {
    this._leaving = true;
    this.resume = null;
    if (!this._send({ type: "leave" })) this._finish();
  }

  /** chat_panel.js calls this; the server echoes the line back as "you". */
  sendChat(text) {
    return this._send({ type: "chat", text });
  }

  askVideo() {
    return this._send({ type: "video" });
  }

  signal(payload) {
    return this._send({ type: "signal", payload });
  }

  askCallback() {
    return this._send({ type: "callback" });
  }

  end() {
    this._leaving = true;
    return this._send({ type: "end" });
  }

  /** Close for good (the page is done with the line). */
  close() {
    this._finish();
    window.removeEventListener("online", this._onOnline);
    if (this.socket) this.socket.close();
  }
}
