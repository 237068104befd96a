// LinkQuality: how well one peer connection carries what we send, read from getStats()
// every 2 s. When the link is weak, or this device too busy to keep up, it steps our
// video down (a smaller picture, then fewer frames too) and back up when that passes;
// only when the network is the cause and even that is too much does it say so, and the
// call view offers sound only. In a group call it also caps what we send to each person
// (groupCap). No DOM. The rule is docs/web-client.md, "Weak connections" and "Sending in
// a group call"; nextState() and groupCap() are pure so a test can feed them figures.

export const SAMPLE_MS = 2000;

/** Sending levels, best first, with the encoding limits each puts on our video. */
export const LEVELS = ["full", "reduced", "low"];
export const ENCODINGS = {
  full: { scaleResolutionDownBy: 1 },
  reduced: { scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  low: { scaleResolutionDownBy: 4, maxBitrate: 250_000, maxFramerate: 10 },
};

export const RULE = {
  // Samples ignored after the connection comes up: the bandwidth estimate starts low.
  warmup: 2,
  // Step down one level after `downAfter` weak samples in a row. Weak at a level:
  // available outgoing bitrate under `belowKbps`, or loss at least `lossAtLeast`.
  downAfter: 2,
  down: {
    full: { belowKbps: 600, lossAtLeast: 0.05 },
    reduced: { belowKbps: 250, lossAtLeast: 0.1 },
  },
  // Step up one level after `upAfter` good samples in a row: the estimate `upFactor`
  // above, and loss under `upLossFactor` of, where the level above would step down.
  upAfter: 5,
  upFactor: 1.2,
  upLossFactor: 0.5,
  // A step down within `undoMs` of a step up doubles the wait for the next step up
  // (up to `upAfterMax` samples), so a link on the edge does not flap.
  undoMs: 30_000,
  upAfterMax: 60,
  // Too weak for video: under `belowKbps` or loss at least `lossAtLeast`, `after`
  // samples in a row. Over again after `clearAfter` samples that are neither.
  tooWeak: { belowKbps: 150, lossAtLeast: 0.1, after: 3, clearAfter: 5 },
  // This device is busy (not the network) when our encoder says it is short of CPU
  // (`qualityLimitationReason` "cpu"); when the page itself runs `lagMsAtLeast` late
  // (the 2 s sampling timer fires late, or getStats() takes that long to answer: no
  // network does that); or when our decoder falls behind what arrives: under
  // `decodedUnder` of the complete frames received in the interval decoded, or more
  // than `droppedOver` of them dropped. A busy device also slows the bandwidth estimate
  // (packets wait for the CPU, and the estimate reads the delay as a full link), so
  // while the device has been busy within the last `memory` samples a low estimate
  // without loss is put down to the device; loss is always the network's.
  device: { decodedUnder: 0.8, droppedOver: 0.1, lagMsAtLeast: 500, memory: 5 },
};

/**
 * What we send each person in a call of ``people`` (us included): a mesh sends one
 * stream per person, so the picture shrinks as the call grows. ``maxHeight`` in pixels,
 * null for no cap.
 */
export const GROUP_CAPS = [
  { upTo: 2, maxHeight: null, maxBitrate: null, maxFramerate: null },
  { upTo: 4, maxHeight: 540, maxBitrate: 1_000_000, maxFramerate: 24 },
  { upTo: Infinity, maxHeight: 360, maxBitrate: 500_000, maxFramerate: 15 },
];

/** The cap for a call of ``people``; ``{ before: true }`` gives none (the old rule). */
export function groupCap(people, { before = false } = {}) {
  if (before) return GROUP_CAPS[0];
  return GROUP_CAPS.find((cap) => people <= cap.upTo);
}

/**
 * The encoding for ``level`` within ``cap``, for a camera ``sourceHeight`` pixels high
 * (null: unknown, taken as 720): the stricter of the two for each limit. A shared
 * ``screen`` keeps its lines (text must stay readable); only its rates are capped.
 */
export function encodingFor(level, cap, sourceHeight, { screen = false } = {}) {
  const want = { ...ENCODINGS[level] };
  if (cap.maxHeight !== null && !screen) {
    const scale = (sourceHeight || 720) / cap.maxHeight;
    if (scale > want.scaleResolutionDownBy) want.scaleResolutionDownBy = scale;
  }
  for (const key of ["maxBitrate", "maxFramerate"]) {
    if (cap[key] !== null && (want[key] === undefined || cap[key] < want[key])) {
      want[key] = cap[key];
    }
  }
  return want;
}

export function initialState() {
  return {
    level: "full", tooWeak: false, seen: 0, weakRun: 0, goodRun: 0, poorRun: 0, fineRun: 0,
    upAfter: RULE.upAfter, lastUpAt: null,
    // Why the level is below full: "network" or "device" (null at full).
    cause: null,
    // Samples since the device was last seen busy (null: never).
    sinceBusy: null,
  };
}

const below = (value, limit) => value !== null && value !== undefined && value < limit;
const atLeast = (value, limit) => value !== null && value !== undefined && value >= limit;

/** Whether one sample shows this device short of CPU (RULE.device). */
export function deviceBusy(sample) {
  const { limitation, framesReceived: got, framesDecoded: decoded, framesDropped: dropped } =
    sample;
  if (limitation === "cpu" || atLeast(sample.lagMs, RULE.device.lagMsAtLeast)) return true;
  if (!(got > 0)) return false;
  return below(decoded, got * RULE.device.decodedUnder) ||
    (dropped > 0 && dropped > got * RULE.device.droppedOver);
}

/**
 * The rule: the state after one ``sample`` {availableKbps, loss (0–1), rttMs,
 * limitation, framesReceived, framesDecoded, framesDropped (in the interval), lagMs
 * (how late the page took the sample),
 * busyElsewhere (another connection of this page saw the device busy lately)} taken at
 * ``now`` (ms). Unknown figures (null) count neither way. ``before: true`` is the rule
 * as it was until 2026-12 (every limit blamed on the network), for the benchmark.
 */
export function nextState(state, sample, now, { before = false } = {}) {
  const s = { ...state, seen: state.seen + 1 };
  if (s.seen <= RULE.warmup) return s;
  if (s.lastUpAt !== null && now - s.lastUpAt >= RULE.undoMs) {
    s.upAfter = RULE.upAfter;
    s.lastUpAt = null;
  }

  const { availableKbps: kbps, loss } = sample;
  const busyNow = !before && deviceBusy(sample);
  if (busyNow) s.sinceBusy = 0;
  else if (s.sinceBusy !== null) s.sinceBusy += 1;
  // A low estimate is the network's unless the device has been busy lately, as seen on
  // this connection or (the device is one) on another.
  const busy = (s.sinceBusy !== null && s.sinceBusy < RULE.device.memory) ||
    (!before && sample.busyElsewhere === true);
  const lowEstimate = (limit) => !busy && below(kbps, limit);

  const poor = lowEstimate(RULE.tooWeak.belowKbps) || atLeast(loss, RULE.tooWeak.lossAtLeast);
  // A sample that knows neither the loss nor a trusted estimate says nothing either way.
  const known = (loss !== null && loss !== undefined) ||
    (!busy && kbps !== null && kbps !== undefined);
  if (known) {
    s.poorRun = poor ? s.poorRun + 1 : 0;
    s.fineRun = poor ? 0 : s.fineRun + 1;
  }
  if (!s.tooWeak && s.poorRun >= RULE.tooWeak.after) s.tooWeak = true;
  if (s.tooWeak && s.fineRun >= RULE.tooWeak.clearAfter) s.tooWeak = false;

  const index = LEVELS.indexOf(s.level);
  const down = RULE.down[s.level];
  const network = down !== undefined &&
    (lowEstimate(down.belowKbps) || atLeast(loss, down.lossAtLeast));
  const weak = down !== undefined && (network || busyNow);
  const above = index > 0 ? RULE.down[LEVELS[index - 1]] : null;
  const good = above !== null && !weak && !busy &&
    below(loss, above.lossAtLeast * RULE.upLossFactor) &&
    atLeast(kbps, above.belowKbps * RULE.upFactor);
  s.weakRun = weak ? s.weakRun + 1 : 0;
  s.goodRun = good ? s.goodRun + 1 : 0;

  if (s.weakRun >= RULE.downAfter) {
    if (s.lastUpAt !== null) s.upAfter = Math.min(s.upAfter * 2, RULE.upAfterMax);
    s.level = LEVELS[index + 1];
    s.cause = network ? "network" : "device";
    s.weakRun = s.goodRun = 0;
  } else if (s.goodRun >= s.upAfter) {
    s.level = LEVELS[index - 1];
    if (s.level === "full") s.cause = null;
    s.lastUpAt = now;
    s.weakRun = s.goodRun = 0;
  }
  return s;
}

/** The figures the rule needs, from one getStats() report and the previous counters. */
export function readSample(report, previous) {
  let selectedPair = null;
  const pairs = [];
  const sample = {
    availableKbps: null, loss: null, rttMs: null, fractionLost: null, jitterMs: null,
    width: null, height: null, fps: null, limitation: null, videoBytes: 0,
    framesReceived: null, framesDecoded: null, framesDropped: null, lagMs: null,
    counters: { sent: 0, lost: 0, reports: 0, received: 0, decoded: 0, dropped: 0 },
  };
  report.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) selectedPair = s.selectedCandidatePairId;
    else if (s.type === "candidate-pair") pairs.push(s);
    else if (s.type === "outbound-rtp") {
      sample.counters.sent += s.packetsSent || 0;
      if (s.kind === "video") {
        sample.videoBytes += s.bytesSent || 0;
        if (s.frameWidth) {
          sample.width = s.frameWidth;
          sample.height = s.frameHeight;
          sample.fps = s.framesPerSecond ?? null;
          sample.limitation = s.qualityLimitationReason ?? null;
        }
      }
    } else if (s.type === "inbound-rtp" && s.kind === "video") {
      sample.counters.received += s.framesReceived || 0;
      sample.counters.decoded += s.framesDecoded || 0;
      sample.counters.dropped += s.framesDropped || 0;
    } else if (s.type === "remote-inbound-rtp") {
      sample.counters.lost += Math.max(0, s.packetsLost || 0);
      sample.counters.reports += s.roundTripTimeMeasurements || 0;
      if (typeof s.fractionLost === "number") {
        sample.fractionLost = Math.max(sample.fractionLost ?? 0, s.fractionLost);
      }
      if (typeof s.roundTripTime === "number") {
        sample.rttMs = Math.max(sample.rttMs ?? 0, Math.round(s.roundTripTime * 1000));
      }
      if (typeof s.jitter === "number") {
        sample.jitterMs = Math.max(sample.jitterMs ?? 0, Math.round(s.jitter * 1000));
      }
    }
  });
  const pair = pairs.find((p) => p.id === selectedPair) ||
    pairs.find((p) => p.nominated && p.state === "succeeded");
  if (pair && typeof pair.availableOutgoingBitrate === "number") {
    sample.availableKbps = Math.round(pair.availableOutgoingBitrate / 1000);
  }
  // Loss over the last interval from the cumulative counters; the receiver's last
  // report (fractionLost) only when there is nothing to compare with. When no new
  // receiver report came in (RTCP lost on a bad link), the loss is unknown, and the
  // next report is measured against the counters of the last one.
  const sent = previous ? sample.counters.sent - previous.sent : 0;
  if (previous && previous.reports > 0 && sample.counters.reports === previous.reports) {
    sample.loss = null;
    sample.counters.sent = previous.sent;
    sample.counters.lost = previous.lost;
  } else if (sent > 0) {
    sample.loss = Math.min(1, Math.max(0, (sample.counters.lost - previous.lost) / sent));
  } else {
    sample.loss = sample.fractionLost;
  }
  // What our decoder did with the video that arrived over the last interval.
  if (previous) {
    const received = sample.counters.received - previous.received;
    if (received >= 0) {
      sample.framesReceived = received;
      sample.framesDecoded = Math.max(0, sample.counters.decoded - previous.decoded);
      sample.framesDropped = Math.max(0, sample.counters.dropped - previous.dropped);
    }
  }
  return sample;
}

function videoSender(pc) {
  const transceiver = pc.getTransceivers().find(
    (t) => !t.stopped && t.receiver.track && t.receiver.track.kind === "video");
  return transceiver ? transceiver.sender : null;
}

// When some connection of this page last saw the device busy (Date.now()), for the
// others: the device is one, whichever connection notices.
const device = { busyAt: null };

/** The rule as it was until 2026-12, for the benchmark (bench/six_pages.py) only: no
 * page sets this. */
function oldRule() {
  return globalThis.KOTA_LINK_RULE === "before";
}

/**
 * Watches one RTCPeerConnection. ``changed()`` is called when ``level``, ``cause`` or
 * ``tooWeak`` changes; ``people()`` says how many are in the call (us included);
 * ``last`` is the latest sample (for diagnostics and tests).
 */
export class LinkQuality {
  constructor(pc, changed, people = () => 2) {
    this.pc = pc;
    this.changed = changed;
    this.people = people;
    this.state = initialState();
    // The encoding last put on our sender (JSON), so it is set only on change.
    this.applied = null;
    this.last = null;
    this._counters = null;
    this._busy = false;
    this._tickAt = null;
    this._timer = setInterval(() => this._tick(), SAMPLE_MS);
  }

  get level() {
    return this.state.level;
  }

  /** Why the level is below full: "network", "device", or null. */
  get cause() {
    return this.state.cause;
  }

  /** Too weak for video, and the network is the cause: offer sound only. */
  get tooWeak() {
    return this.state.tooWeak;
  }

  stop() {
    clearInterval(this._timer);
    this._timer = null;
  }

  /** Someone joined or left: put the new cap on our video now. */
  peopleChanged() {
    if (this._busy || this._timer === null) return;
    this._busy = true;
    this._apply()
      .catch((error) => console.warn("kota: link quality", error))
      .finally(() => { this._busy = false; });
  }

  async _tick() {
    if (this._busy) return;
    this._busy = true;
    try {
      if (this.pc.connectionState !== "connected") {
        await this._apply();
        return;
      }
      // How late the page is: the timer's delay past SAMPLE_MS, or getStats()'s answer.
      const started = performance.now();
      const late = this._tickAt === null ? null : started - this._tickAt - SAMPLE_MS;
      this._tickAt = started;
      const sample = readSample(await this.pc.getStats(), this._counters);
      if (this._timer === null) return;
      if (late !== null) sample.lagMs = Math.round(Math.max(late, performance.now() - started));
      this._counters = sample.counters;
      this.last = sample;
      const now = Date.now();
      sample.busyElsewhere = device.busyAt !== null &&
        now - device.busyAt < RULE.device.memory * SAMPLE_MS;
      if (deviceBusy(sample)) device.busyAt = now;
      const before = this.state;
      this.state = nextState(before, sample, now, { before: oldRule() });
      if (before.level !== this.state.level || before.tooWeak !== this.state.tooWeak ||
          before.cause !== this.state.cause) {
        this.changed();
      }
      // A refused setParameters (e.g. renegotiation in between) is tried again next time.
      await this._apply();
    } catch (error) {
      console.warn("kota: link quality", error);
    } finally {
      this._busy = false;
    }
  }

  /** Put the level's limits, within the group cap, on our video (no renegotiation). */
  async _apply() {
    const sender = videoSender(this.pc);
    if (!sender || this._timer === null) return;
    const params = sender.getParameters();
    if (!params.encodings || params.encodings.length === 0) return; // not negotiated yet
    const settings = sender.track ? sender.track.getSettings() : {};
    const want = encodingFor(this.state.level, groupCap(this.people(), { before: oldRule() }),
      settings.height || null, { screen: settings.displaySurface !== undefined });
    const key = JSON.stringify(want);
    if (key === this.applied) return;
    for (const encoding of params.encodings) {
      for (const name of ["scaleResolutionDownBy", "maxBitrate", "maxFramerate"]) {
        if (want[name] === undefined) delete encoding[name];
        else encoding[name] = want[name];
      }
    }
    await sender.setParameters(params);
    this.applied = key;
  }
}
