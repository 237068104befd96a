// "Test my connection" before the waiting room: optional, one tap, about ten seconds.
// Shows the picture as it came back from the server ("this is how the worker will see
// you"), then the verdict in plain words with what to do, and whether the relay works.
// The test itself (connection_test.js) knows no DOM.

import { ConnectionTest } from "../connection_test.js";
import { announce, clear, h, setText } from "../dom.js";
import { intlTag, t } from "../i18n.js";
import { attachStream } from "./video.js";

// Every key literally, so the locale checks see them (tests/test_locales.py).
const PHASES = {
  starting: "precall.starting",
  connecting: "precall.connecting",
  measuring: "precall.measuring",
  reporting: "precall.reporting",
};
const TIPS = ["precall.tip.closer", "precall.tip.other_apps", "precall.tip.other_network"];
const VERDICTS = {
  good: { title: "precall.good.title", text: "precall.good.text", tips: [] },
  audio_only: { title: "precall.audio_only.title", text: "precall.audio_only.text", tips: [] },
  too_weak: { title: "precall.too_weak.title", text: "precall.too_weak.text", tips: TIPS },
  no_connection: {
    title: "precall.no_connection.title", text: "precall.no_connection.text", tips: TIPS,
  },
};
const OTHER_ENDS = {
  busy: "precall.busy",
  rate_limited: "precall.rate_limited",
  failed: "precall.failed",
};
const RELAY = {
  reachable: "precall.relay.reachable",
  unreachable: "precall.relay.unreachable",
};

/**
 * The connection check, as a section of the last step before the waiting room.
 * ``onAudioOnly`` goes on with sound only (offered when the verdict says so).
 * Returns {view, stop}; ``stop`` ends a running test (the person went on).
 */
export function connectionCheck({ media, token, onAudioOnly }) {
  let test = null;

  const startButton = h("button", {
    type: "button", class: "button secondary wide", i18n: "precall.start",
    dataset: { action: "connection-test" }, on: { click: () => run() },
  });
  const video = h("video", {
    class: "preview-video remote", muted: true, autoplay: true, playsInline: true,
    attrs: { playsinline: true, muted: true }, i18nAttrs: { "aria-label": "precall.echo_label" },
  });
  const noCamera = h("div", { class: "preview-empty", hidden: true },
    h("p", { i18n: "precall.no_camera" }));
  const echo = h("figure", { class: "preview precall-echo" }, video, noCamera,
    h("figcaption", { i18n: "precall.echo_caption" }));
  const status = h("p", { class: "status", attrs: { role: "status" } });
  const bar = h("div", { class: "meter-bar" });
  const progress = h("div", {
    class: "meter",
    attrs: { role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": 0 },
    i18nAttrs: { "aria-label": "precall.progress_label" },
  }, bar);
  const relayLine = h("p", { class: "precall-relay", hidden: true });
  const running = h("div", { class: "device-layout precall-run", hidden: true },
    echo, h("div", { class: "device-side" }, status, progress));

  const verdictTitle = h("h3", { class: "help-title" });
  const verdictText = h("p");
  const tips = h("ul", { class: "help-steps" });
  const details = h("p", { class: "hint precall-details" });
  const audioOnlyButton = h("button", {
    type: "button", class: "button primary wide", i18n: "precall.audio_only.join",
    dataset: { action: "join-audio-only" }, on: { click: () => onAudioOnly() },
  });
  const audioOnlyActions = h("div", { class: "actions start", hidden: true }, audioOnlyButton);
  const outcome = h("div", { class: "notice precall-verdict", hidden: true },
    verdictTitle, verdictText, tips, details, audioOnlyActions);

  const view = h("section", { class: "precall", attrs: { "aria-labelledby": "precall-title" } },
    h("h2", { id: "precall-title", i18n: "precall.title" }),
    h("p", { class: "hint", i18n: "precall.intro" }),
    running,
    relayLine,
    outcome,
    h("div", { class: "actions start" }, startButton));

  function showProgress(fraction) {
    const value = Math.max(0, Math.min(1, fraction));
    bar.style.transform = `scaleX(${value.toFixed(3)})`;
    progress.setAttribute("aria-valuenow", String(Math.round(value * 100)));
  }

  function showRelay(relay) {
    relayLine.hidden = !RELAY[relay];
    if (RELAY[relay]) setText(relayLine, RELAY[relay]);
    relayLine.dataset.relay = relay;
  }

  function showEcho(stream, camera) {
    video.hidden = !camera;
    noCamera.hidden = camera;
    if (camera) attachStream(video, stream);
  }

  function showOutcome(result) {
    outcome.dataset.state = result.state;
    delete outcome.dataset.verdict;
    clear(tips);
    details.hidden = true;
    audioOnlyActions.hidden = true;
    const verdict = result.state === "done" ? VERDICTS[result.verdict] : null;
    if (verdict) {
      outcome.dataset.verdict = result.verdict;
      setText(verdictTitle, verdict.title);
      setText(verdictText, verdict.text);
      for (const key of verdict.tips) tips.append(h("li", { i18n: key }));
      if (verdict.tips.length) tips.append(h("li", { i18n: "precall.still_go_on" }));
      audioOnlyActions.hidden = result.verdict !== "audio_only";
      showDetails(result);
      announce(t(verdict.title));
    } else {
      const minutes = Math.ceil((result.retryAfter || 0) / 60);
      verdictTitle.textContent = "";
      setText(verdictText, OTHER_ENDS[result.state] || OTHER_ENDS.failed,
        { n: result.state === "rate_limited" ? minutes : result.retryAfter || 0 });
      announce(verdictText.textContent);
    }
    verdictTitle.hidden = !verdict;
    tips.hidden = tips.childElementCount === 0;
    outcome.hidden = false;
    outcome.scrollIntoView({ block: "nearest" }); // on a phone it may start below the fold
  }

  function showDetails({ numbers, frameRate }) {
    if (!numbers || numbers.rtt_ms === null) return;
    const format = (n, digits = 0) => (typeof n === "number"
      ? new Intl.NumberFormat(intlTag(), { maximumFractionDigits: digits }).format(n) : "–");
    setText(details, "precall.details", {
      rtt: format(numbers.rtt_ms), loss: format(numbers.loss_pct, 1),
      jitter: format(numbers.jitter_ms), kbps: format(numbers.bitrate_kbps),
      fps: format(frameRate),
    });
    details.hidden = false;
  }

  async function run() {
    stop();
    const current = new ConnectionTest({ media, token });
    test = current;
    startButton.disabled = true;
    outcome.hidden = true;
    running.hidden = false;
    video.hidden = true;
    noCamera.hidden = true;
    showRelay("not_used");
    showProgress(0);
    setText(status, PHASES.starting);
    current.addEventListener("phase", (e) => setText(status, PHASES[e.detail.phase]));
    current.addEventListener("progress", (e) => showProgress(e.detail.fraction));
    current.addEventListener("relay", (e) => showRelay(e.detail.relay));
    current.addEventListener("echo", (e) => showEcho(e.detail.stream, e.detail.camera));
    const result = await current.run();
    if (test !== current || result.state === "cancelled") return;
    test = null;
    running.hidden = true; // the echo has hung up; the verdict says what it saw
    showRelay(result.relay);
    status.textContent = "";
    startButton.disabled = false;
    setText(startButton, "precall.again");
    showOutcome(result);
  }

  function stop() {
    if (test) test.cancel();
    test = null;
    startButton.disabled = false;
  }

  return { view, stop };
}
