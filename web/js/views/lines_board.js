// The duty board of contact lines (#/lines): the lines this professional serves with how
// many wait, the longest wait and the expected one (never who, on public lines), who is
// on duty; a switch per line to go on or off duty; one big "Take next"; the call-backs
// families asked for on personal lines; a knock (sound and a visible notice) when a
// family joins a personal line of theirs; and the session in progress (lines_session.js).

import { get, post } from "../api.js";
import { announce, clear, h, setText } from "../dom.js";
import { errorText, t } from "../i18n.js";
import { KnockSound } from "../knock_sound.js";
import { StaffLineSocket } from "../staff_line_socket.js";
import { lineSession, waitText } from "./lines_session.js";
import { KIND_KEYS } from "./lines_setup.js";

export function linesBoardView({ me }) {
  const desk = new StaffLineSocket();
  const knockSound = new KnockSound();
  const connection = h("p", { class: "notice line-connection", i18n: "lines.connecting",
    attrs: { role: "status" } });
  const notice = h("p", { class: "notice line-notice", hidden: true, attrs: { role: "status" } });
  const knocks = h("div", { class: "line-knocks" });
  const takeButton = h("button", { type: "button", class: "button primary take-next",
    i18n: "lines.take_next", dataset: { action: "take-next" }, disabled: true,
    on: { click: () => takeNext() } });
  const takeHint = h("p", { id: "take-next-hint", class: "hint take-next-hint",
    i18n: "lines.take_next_off_duty" });
  takeButton.setAttribute("aria-describedby", "take-next-hint");
  const sessionBox = h("div", { class: "line-session-box" });
  const lineList = h("ul", { class: "line-cards", attrs: { "aria-busy": "true" } });
  const callbackList = h("ul", { class: "line-callbacks" });

  const view = h("section", { class: "lines-board", attrs: { "aria-labelledby": "lines-title" } },
    h("div", { class: "card wide" },
      h("div", { class: "day-head" },
        h("h1", { id: "lines-title", i18n: "lines.title" }),
        me.role === "admin"
          ? h("a", { href: "#/lines/setup", class: "button secondary", i18n: "lines.setup_link",
            dataset: { action: "lines-setup" } })
          : null),
      h("p", { class: "hint", i18n: "lines.lead" }),
      connection, notice, knocks,
      h("div", { class: "take-next-row" }, takeButton, takeHint)),
    sessionBox,
    h("div", { class: "card wide" },
      h("h2", { id: "line-list-title", i18n: "lines.your_lines" }),
      lineList),
    h("div", { class: "card wide" },
      h("h2", { id: "callbacks-title", i18n: "lines.callbacks_title" }),
      h("p", { class: "hint", i18n: "lines.callbacks_hint" }),
      callbackList));
  // Browsers let a page play sound only after a click on it.
  view.addEventListener("click", () => knockSound.unlock(), { capture: true });

  let board = { lines: [], duty: [], callbacks: [] };
  let taking = false;
  let session = null;
  let handingOver = false;
  let staffByLine = new Map();
  // Whether a board message has carried the call-backs yet (until then, from the API).
  let callbacksKnown = false;

  desk.addEventListener("state", ({ detail }) => {
    const key = { connecting: "lines.connecting", open: "lines.connected", lost: "lines.lost" }[
      detail.state];
    setText(connection, key);
    connection.classList.toggle("error", detail.state === "lost");
    connection.hidden = detail.state === "open";
    if (detail.state !== "open") {
      taking = false;
      renderTake();
    }
  });
  desk.addEventListener("board", ({ detail }) => {
    board = { lines: detail.lines || [], duty: detail.duty || [],
      callbacks: "callbacks" in detail ? detail.callbacks : board.callbacks };
    if ("callbacks" in detail) callbacksKnown = true;
    lineList.removeAttribute("aria-busy");
    // The call-backs are rebuilt on every change: a focused button gets the focus back.
    const focused = document.activeElement && view.contains(document.activeElement)
      ? document.activeElement.id : "";
    renderLines();
    renderCallbacks();
    renderTake();
    if (focused && !document.activeElement.id) {
      const again = document.getElementById(focused);
      if (again) again.focus();
    }
    // A knock whose family no longer waits (taken by a colleague, or left) goes away.
    for (const item of knocks.querySelectorAll(".knock-notice")) {
      const line = lineById(Number(item.dataset.line));
      if (!line || !line.waiting) item.remove();
    }
  });
  desk.addEventListener("knock", ({ detail }) => knock(detail));
  desk.addEventListener("session", ({ detail }) => openSession(detail));
  desk.addEventListener("nobody", () => {
    taking = false;
    renderTake();
    say("lines.nobody");
  });
  desk.addEventListener("chat", ({ detail }) => {
    if (session && detail.session === session.id) session.chat(detail);
  });
  desk.addEventListener("video", ({ detail }) => {
    if (session && detail.session === session.id) session.video();
  });
  desk.addEventListener("signal", ({ detail }) => {
    if (session && detail.session === session.id) session.signal(detail.payload);
  });
  desk.addEventListener("presence", ({ detail }) => {
    if (session && detail.session === session.id) session.presence(Boolean(detail.away));
  });
  desk.addEventListener("ended", ({ detail }) => {
    if (!session || detail.session !== session.id) return;
    closeSession();
    const key = handingOver ? "lines.ended_handed_over" : `lines.ended_${detail.reason}`;
    handingOver = false;
    say(["lines.ended_family", "lines.ended_you", "lines.ended_gone",
      "lines.ended_handed_over"].includes(key) ? key : "lines.ended_you");
  });
  desk.addEventListener("error", ({ detail }) => {
    taking = false;
    handingOver = false;
    renderTake();
    notice.textContent = errorText(detail.code);
    notice.classList.add("error");
    notice.hidden = false;
    announce(notice.textContent);
  });

  function say(key, vars) {
    setText(notice, key, vars);
    notice.classList.remove("error");
    notice.hidden = false;
    announce(notice.textContent);
  }

  function lineById(id) {
    return board.lines.find((l) => l.id === id) || null;
  }

  function renderTake() {
    const onDuty = board.duty.length > 0;
    const waiting = board.lines.filter((l) => board.duty.includes(l.id))
      .reduce((sum, l) => sum + (l.waiting || 0), 0);
    takeButton.disabled = taking || Boolean(session) || !onDuty || desk.state !== "open";
    if (session) setText(takeHint, "lines.take_next_in_session");
    else if (!onDuty) setText(takeHint, "lines.take_next_off_duty");
    else setText(takeHint, "lines.take_next_waiting", { n: waiting });
  }

  // Each line's card is kept and its parts updated, so the duty switch a person just
  // pressed stays the same element (and keeps the focus) when the board changes.
  const cards = new Map();

  function renderLines() {
    const ids = new Set(board.lines.map((l) => l.id));
    for (const [id, card] of cards) {
      if (!ids.has(id)) {
        card.li.remove();
        cards.delete(id);
      }
    }
    const empty = lineList.querySelector(".empty");
    if (!board.lines.length) {
      if (!empty) lineList.append(h("li", { class: "empty", i18n: "lines.no_lines" }));
      return;
    }
    if (empty) empty.remove();
    board.lines.forEach((line, index) => {
      let card = cards.get(line.id);
      if (!card) {
        card = lineCard(line);
        cards.set(line.id, card);
      }
      updateCard(card, line);
      const there = lineList.children[index] || null;
      if (there !== card.li) lineList.insertBefore(card.li, there); // the board's order
    });
  }

  function lineCard(line) {
    const box = h("input", { id: `duty-${line.id}`, type: "checkbox",
      attrs: { role: "switch" }, dataset: { action: "duty" },
      on: { change: (event) => setDuty(line.id, event.target.checked) } });
    const head = h("div", { class: "line-card-head" });
    const stats = h("dl", { class: "line-stats" });
    const li = h("li", { class: "line-card", dataset: { line: String(line.id), kind: line.kind } },
      head, stats,
      h("label", { class: "check duty-switch", htmlFor: box.id }, box,
        h("span", { i18n: "lines.on_duty" })));
    return { li, head, stats, box };
  }

  function updateCard(card, line) {
    const onDuty = board.duty.includes(line.id);
    card.li.classList.toggle("on-duty", onDuty);
    card.box.checked = onDuty;
    const names = (line.on_duty || []).map((p) => p.first_name).join(", ");
    const open = line.open
      ? (line.closes_at
        ? h("span", { class: "tag open", i18n: "lines.open_until", vars: { time: { time: line.closes_at } } })
        : h("span", { class: "tag open", i18n: "lines.open" }))
      : h("span", { class: "tag", i18n: "lines.closed" });
    clear(card.head).append(
      h("h3", { class: "line-name" }, line.name),
      h("span", { class: "tag kind", i18n: KIND_KEYS[line.kind] }),
      open);
    clear(card.stats).append(
      stat("lines.waiting", String(line.waiting || 0), "waiting"),
      stat("lines.longest_wait", line.waiting ? waitText(line.longest_wait_s) : "–", "longest"),
      stat("lines.expected_wait", waitText(line.expected_wait_s), "expected"),
      stat("lines.on_duty_now", names || t("lines.nobody_on_duty"), "on-duty"));
  }

  function stat(labelKey, value, name) {
    return h("div", { class: `line-stat ${name}` },
      h("dt", { i18n: labelKey }), h("dd", {}, value));
  }

  function setDuty(lineId, on) {
    const lines = new Set(board.duty);
    if (on) lines.add(lineId);
    else lines.delete(lineId);
    desk.duty([...lines]);
  }

  function renderCallbacks() {
    clear(callbackList);
    if (!board.callbacks.length) {
      callbackList.append(h("li", { class: "empty", i18n: "lines.no_callbacks" }));
      return;
    }
    for (const callback of board.callbacks) {
      const line = lineById(callback.line);
      callbackList.append(h("li", { class: "line-callback", dataset: { callback: String(callback.id) } },
        h("div", { class: "callback-info" },
          h("strong", { class: "callback-family" }, callback.family_name),
          h("span", { class: "hint", i18n: "lines.callback_when",
            vars: { line: line ? line.name : "", time: { time: callback.requested_at } } })),
        h("button", { type: "button", class: "button secondary small", i18n: "lines.callback_done",
          id: `callback-done-${callback.id}`, dataset: { action: "callback-done" }, on: { click: (event) => done(callback, event.target) } })));
    }
  }

  async function done(callback, button) {
    button.disabled = true;
    try {
      await post(`/api/lines/${callback.line}/callbacks/${callback.id}/done`);
      board.callbacks = board.callbacks.filter((c) => c.id !== callback.id);
      renderCallbacks();
      announce(t("lines.callback_marked"));
    } catch (failure) {
      button.disabled = false;
      notice.textContent = errorText(failure.code);
      notice.classList.add("error");
      notice.hidden = false;
    }
  }

  function knock({ line, family_name: family }) {
    const known = lineById(line);
    knockSound.play();
    const item = h("div", { class: "knock-notice", dataset: { line: String(line) },
      attrs: { role: "alert" } },
      h("span", { i18n: "lines.knock", vars: { family, line: known ? known.name : "" } }),
      h("button", { type: "button", class: "button secondary small", i18n: "lines.knock_dismiss",
        on: { click: () => item.remove() } }));
    knocks.append(item);
  }

  function takeNext() {
    if (taking || session) return; // a double click takes one person
    taking = true;
    notice.hidden = true;
    renderTake();
    if (!desk.takeNext()) {
      taking = false;
      renderTake();
    }
  }

  async function openSession(message) {
    taking = false;
    clear(knocks);
    notice.hidden = true;
    const line = lineById(message.line);
    const colleagues = (staffByLine.get(message.line) || [])
      .filter((s) => s.id !== me.id).map((s) => ({ id: s.id, name: s.display_name }));
    session = lineSession({ desk, session: message, line, lines: board.lines, colleagues });
    clear(sessionBox).append(session.element);
    renderTake();
    session.start();
    session.element.querySelector("h2").focus();
    announce(t("lines.session_started"));
  }

  function closeSession() {
    if (session) session.close();
    session = null;
    clear(sessionBox);
    renderTake();
    takeButton.focus();
  }

  // Who serves each line, for handing over to a colleague; the call-backs on its
  // personal lines until the socket's board brings them.
  (async () => {
    try {
      const lines = (await get("/api/lines")).lines || [];
      staffByLine = new Map(lines.map((l) => [l.id, l.staff || []]));
      const personal = lines.filter((l) => l.kind === "personal" && l.active);
      const answers = await Promise.all(personal.map((l) =>
        get(`/api/lines/${l.id}/callbacks`).then((a) =>
          (a.callbacks || []).map((c) => ({ ...c, line: l.id })))));
      if (callbacksKnown) return;
      board.callbacks = answers.flat().sort((a, b) =>
        a.requested_at < b.requested_at ? -1 : 1);
      renderCallbacks();
    } catch {
      // The board still works; hand-over lists lines only.
    }
  })();

  desk.start();
  // Leaving the board closes the socket (and the server takes the professional off duty).
  view.dispose = () => {
    closeSession();
    desk.stop();
  };
  // The session's hand-over form tells the board a hand-over is under way.
  view.addEventListener("submit", (event) => {
    if (event.target.id === "hand-over-form") handingOver = true;
  }, { capture: true });
  return view;
}
