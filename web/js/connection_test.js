// The pre-call connection test (docs/api.md, "Connection test"): one call to the
// server's echo peer with the tracks chosen in the camera check, data-channel pings,
// a few seconds of getStats, a verdict by the thresholds the server sends (so the
// browser and server/connection_verdict.py never drift), and whether the TURN relay
// answers. No DOM: the view listens to events and shows the result.
//
// Every step has its own time limit, so a test always ends in one of the states below.

import { post } from "./api.js";
import { StandInMedia } from "./stand_in_media.js";

const PATH = "/api/connection-test";

/** Time limits per step, in ms. The echo itself hangs up after ``max_seconds``. */
export const LIMITS = {
  start: 10_000, // POST /api/connection-test
  gather: 5_000, // our ICE candidates (sent in one offer, no trickle)
  offer: 15_000, // the server answers once its echo peer has gathered (TURN can take 5 s)
  connect: 10_000, // the first echoed video frame
  measure: 5_000, // pings and statistics
  ping: 2_000, // a ping not back by then is not counted
  result: 5_000, // POST …/result
  relay: 5_000, // a relay candidate from Kota's TURN server
};
const PING_EVERY_MS = 250;
const ECHO_VIDEO = { width: 640, fps: 15 }; // what the echo's capacity is planned for
const POLL_MS = 200;

/** End states of ``run()``. "done" carries a verdict, even "no_connection". */
export const STATES = ["done", "busy", "rate_limited", "failed", "cancelled"];

class StepFailed extends Error {
  constructor(step, code, extra = {}) {
    super(`${step}: ${code}`);
    this.step = step;
    this.code = code;
    this.extra = extra;
  }
}

/**
 * The verdict for measured numbers, by the server's thresholds: the rule of
 * server/connection_verdict.py ``judge``. A missing number means nothing came back.
 */
export function judge({ rtt_ms, loss_pct, jitter_ms, bitrate_kbps }, thresholds) {
  const numbers = [rtt_ms, loss_pct, jitter_ms, bitrate_kbps];
  if (numbers.some((n) => typeof n !== "number" || !Number.isFinite(n))) return "no_connection";
  const allow = (l) => rtt_ms <= l.max_rtt_ms && loss_pct <= l.max_loss_pct
    && jitter_ms <= l.max_jitter_ms && bitrate_kbps >= l.min_bitrate_kbps;
  if (allow(thresholds.video)) return "good";
  if (allow(thresholds.audio)) return "audio_only";
  return "too_weak";
}

/** The ICE servers that name a TURN relay (turn: or turns: URLs). */
export function turnServers(iceServers) {
  const urls = (server) => (Array.isArray(server.urls) ? server.urls : [server.urls]);
  return (iceServers || []).filter((s) => urls(s).some((u) => /^turns?:/i.test(String(u))));
}

/** Reject with StepFailed(step, "timeout") after ``ms``, or "cancelled" on ``signal``. */
function within(promise, ms, signal, step) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new StepFailed(step, "timeout")), ms);
    const cancelled = () => reject(new StepFailed(step, "cancelled"));
    if (signal.aborted) cancelled();
    signal.addEventListener("abort", cancelled, { once: true });
    promise.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener("abort", cancelled);
    });
  });
}

function pause(ms, signal) {
  return within(new Promise((resolve) => setTimeout(resolve, ms)), ms + 1000, signal, "pause");
}

/**
 * Whether Kota's TURN relay gives us a relay candidate: "reachable", "unreachable"
 * (refused credentials, no answer, or nothing within ``timeoutMs``) or "not_used"
 * (no TURN server configured). A separate connection with relay-only gathering.
 */
export async function checkRelay(iceServers, timeoutMs = LIMITS.relay) {
  const servers = turnServers(iceServers);
  if (servers.length === 0) return "not_used";
  let pc;
  try {
    pc = new RTCPeerConnection({ iceServers: servers, iceTransportPolicy: "relay" });
  } catch {
    return "unreachable"; // a URL this browser cannot use
  }
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve("unreachable"), timeoutMs);
      const done = (answer) => {
        clearTimeout(timer);
        resolve(answer);
      };
      pc.onicecandidate = ({ candidate }) => {
        if (candidate && (candidate.type === "relay" || / typ relay/.test(candidate.candidate))) {
          done("reachable");
        } else if (!candidate) {
          done("unreachable"); // gathering ended without a relay candidate
        }
      };
      // 401 (refused credentials), 701 (no answer): gathering then ends without one.
      pc.onicecandidateerror = () => {};
      pc.createDataChannel("relay-check");
      pc.createOffer().then((offer) => pc.setLocalDescription(offer)).catch(() => done("unreachable"));
    });
  } catch {
    return "unreachable";
  } finally {
    pc.close();
  }
}

/** Statistics of what came back: the sums the numbers are made of. */
async function readStats(pc) {
  const sample = { at: performance.now(), lost: 0, received: 0, jitters: [], bytes: 0,
    rtpBytes: 0, framesDecoded: 0, frameWidth: 0 };
  let transportBytes = null;
  (await pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && (s.kind === "audio" || s.kind === "video")) {
      sample.lost += Math.max(0, s.packetsLost || 0);
      sample.received += s.packetsReceived || 0;
      // Audio packets leave evenly spaced, so their jitter is the network's; video
      // jitter also holds frame pacing and the echo's decode and re-encode.
      if (s.kind === "audio" && typeof s.jitter === "number") sample.jitters.push(s.jitter * 1000);
      sample.rtpBytes += (s.bytesReceived || 0) + (s.headerBytesReceived || 0);
      if (s.kind === "video") {
        sample.framesDecoded += s.framesDecoded || 0;
        sample.frameWidth = Math.max(sample.frameWidth, s.frameWidth || 0);
      }
    } else if (s.type === "transport" && typeof s.bytesReceived === "number") {
      transportBytes = (transportBytes || 0) + s.bytesReceived;
    }
  });
  sample.bytes = transportBytes === null ? sample.rtpBytes : transportBytes;
  return sample;
}

const round = (n, places) => Math.round(n * 10 ** places) / 10 ** places;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * One connection test. Events: ``phase`` {phase: starting | connecting | measuring |
 * reporting}, ``progress`` {fraction 0..1 of the measuring}, ``echo`` {stream,
 * camera: whether it shows the camera}, ``relay`` {relay}. ``run()`` resolves to
 * {state, verdict, numbers, relay, frameRate, retryAfter, code}; it never rejects.
 */
export class ConnectionTest extends EventTarget {
  constructor({ media, token = null, limits = LIMITS }) {
    super();
    this.media = media;
    this.token = token;
    this.limits = { ...LIMITS, ...limits };
    this.pc = null;
    this.echo = new MediaStream();
    this._abort = new AbortController();
    this._standIn = new StandInMedia();
    this._pings = new Map();
    this._rtts = [];
  }

  /** Stop at once (the person went on): the state becomes "cancelled". */
  cancel() {
    this._abort.abort();
    this._close();
  }

  async run() {
    const signal = this._abort.signal;
    let test = null;
    let relay = Promise.resolve("not_used");
    try {
      this._phase("starting");
      test = await within(this._post(PATH, {}), this.limits.start, signal, "start");
      relay = checkRelay(test.ice_servers, this.limits.relay).then((answer) => {
        this._emit("relay", { relay: answer });
        return answer;
      });
      const measured = await this._measure(test, signal);
      const relayAnswer = await relay;
      const verdict = judge(measured.numbers, test.thresholds);
      this._phase("reporting");
      this._close(); // the numbers are in; free the echo for the next family
      const serverVerdict = await within(
        this._post(`${PATH}/${test.id}/result`, {
          ...measured.numbers, relay_reachable: relayAnswer === "reachable", verdict,
        }).then((answer) => answer.verdict, () => verdict),
        this.limits.result, signal, "result",
      ).catch((error) => {
        if (error.code === "cancelled") throw error;
        return verdict; // the result could not be sent: our own verdict stands
      });
      return { state: "done", verdict: serverVerdict || verdict, numbers: measured.numbers,
        frameRate: measured.frameRate, relay: relayAnswer, retryAfter: null, code: null };
    } catch (error) {
      this._close();
      return this._failure(error, await Promise.race([relay, Promise.resolve("not_used")]));
    } finally {
      this._close();
    }
  }

  // --- the steps ----------------------------------------------------------------

  /** Connect to the echo and measure; numbers are null when nothing came back. */
  async _measure(test, signal) {
    this._phase("connecting");
    const pc = new RTCPeerConnection({
      iceServers: test.ice_servers || [],
      iceTransportPolicy: test.ice_transport_policy === "relay" ? "relay" : "all",
      bundlePolicy: "max-bundle",
    });
    this.pc = pc;
    const camera = this.media.videoTrack;
    const video = camera || this._standIn.video();
    const audio = this.media.audioTrack || this._standIn.audio();
    if (audio) pc.addTrack(audio, new MediaStream([audio]));
    // At most 640 pixels wide and 15 frames a second: the echo decodes and re-encodes it,
    // so a larger picture would measure the server's CPU rather than the network.
    const width = video.getSettings().width || ECHO_VIDEO.width;
    pc.addTransceiver(video, { direction: "sendrecv", streams: [new MediaStream([video])],
      sendEncodings: [{ scaleResolutionDownBy: Math.max(1, width / ECHO_VIDEO.width),
        maxFramerate: ECHO_VIDEO.fps }] });
    const channel = pc.createDataChannel("ping");
    channel.onmessage = ({ data }) => this._pong(String(data));
    pc.ontrack = ({ track }) => {
      this.echo.addTrack(track);
      if (track.kind === "video") this._emit("echo", { stream: this.echo, camera: Boolean(camera) });
    };
    await pc.setLocalDescription(await pc.createOffer());
    await within(this._gathered(pc), this.limits.gather, signal, "gather").catch((error) => {
      if (error.code === "cancelled") throw error; // else offer what we have
    });
    const answer = await within(
      this._post(`${PATH}/${test.id}/offer`, { type: "offer", sdp: pc.localDescription.sdp }),
      this.limits.offer, signal, "offer");
    await pc.setRemoteDescription(answer);
    const empty = { numbers: { rtt_ms: null, loss_pct: null, jitter_ms: null, bitrate_kbps: null },
      frameRate: null };
    try {
      await within(this._firstFrame(pc, channel), this.limits.connect, signal, "connect");
    } catch (error) {
      if (error.code === "cancelled") throw error;
      return empty; // nothing came back: "no_connection"
    }
    this._phase("measuring");
    const budget = Math.max(1000, (test.max_seconds || 30) * 1000 - 3000);
    const measureMs = Math.min(this.limits.measure, budget);
    const first = await readStats(pc);
    for (let seq = 0, started = performance.now(); performance.now() - started < measureMs; seq++) {
      this._ping(channel, seq);
      this._emit("progress", { fraction: (performance.now() - started) / measureMs });
      await pause(PING_EVERY_MS, signal);
    }
    this._emit("progress", { fraction: 1 });
    const last = await readStats(pc);
    return this._numbers(first, last);
  }

  _numbers(first, last) {
    const seconds = (last.at - first.at) / 1000;
    const came = last.received > 0 && seconds > 0;
    return {
      numbers: {
        rtt_ms: this._rtts.length ? round(median(this._rtts), 1) : null,
        loss_pct: came ? round((100 * last.lost) / (last.lost + last.received), 2) : null,
        jitter_ms: came && last.jitters.length ? round(Math.max(...last.jitters), 1) : null,
        bitrate_kbps: came ? round(((last.bytes - first.bytes) * 8) / 1000 / seconds, 1) : null,
      },
      frameRate: came ? round((last.framesDecoded - first.framesDecoded) / seconds, 1) : null,
    };
  }

  _gathered(pc) {
    return new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") resolve();
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") resolve();
      });
    });
  }

  /** Resolves once echoed video decodes and the ping channel is open. */
  async _firstFrame(pc, channel) {
    for (;;) {
      if (pc.connectionState === "failed" || pc.connectionState === "closed") {
        throw new StepFailed("connect", "failed");
      }
      const stats = await readStats(pc);
      if (stats.framesDecoded > 0 && channel.readyState === "open") return;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  _ping(channel, seq) {
    if (channel.readyState !== "open") return;
    const now = performance.now();
    for (const [old, sent] of this._pings) if (now - sent > this.limits.ping) this._pings.delete(old);
    this._pings.set(seq, now);
    channel.send(`ping:${seq}`);
  }

  _pong(message) {
    const seq = Number(message.split(":")[1]);
    const sent = this._pings.get(seq);
    if (sent === undefined) return;
    this._pings.delete(seq);
    this._rtts.push(performance.now() - sent);
  }

  // --- plumbing -----------------------------------------------------------------

  _post(path, body) {
    return post(path, this.token ? { ...body, token: this.token } : body);
  }

  _failure(error, relay) {
    const base = { verdict: null, numbers: null, frameRate: null, relay, retryAfter: null };
    if (error instanceof StepFailed && error.code === "cancelled") {
      return { ...base, state: "cancelled", code: "cancelled" };
    }
    const code = error.code || "generic";
    const retryAfter = Number(error.extra && error.extra.retry_after) || null;
    if (code === "connection_test_busy") return { ...base, state: "busy", code, retryAfter: retryAfter || 30 };
    if (code === "connection_test_rate_limited") {
      return { ...base, state: "rate_limited", code, retryAfter: retryAfter || 600 };
    }
    console.warn("kota: connection test failed", error.step || "", code);
    return { ...base, state: "failed", code: error instanceof StepFailed ? error.code : code };
  }

  _close() {
    if (this.pc) {
      this.pc.ontrack = null;
      this.pc.close();
    }
    this._standIn.stop();
  }

  _phase(phase) {
    this._emit("phase", { phase });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
