// LinkQuality: how well one peer connection carries what we send, read from getStats()
// every 2 s. On a weak link it steps our video down (a smaller picture, then fewer
// frames too) and back up when the link recovers; when even that is too much it says
// so, and the call view offers sound only. No DOM. The rule is docs/web-client.md,
// "Weak connections"; nextState() is pure so a test can feed it samples.

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
};

export function initialState() {
  return {
    level: "full", tooWeak: false, seen: 0, weakRun: 0, goodRun: 0, poorRun: 0, fineRun: 0,
    upAfter: RULE.upAfter, lastUpAt: null,
  };
}

const below = (value, limit) => value !== null && value !== undefined && value < limit;
const atLeast = (value, limit) => value !== null && value !== undefined && value >= limit;

/**
 * The rule: the state after one ``sample`` {availableKbps, loss (0–1), rttMs, ...}
 * taken at ``now`` (ms). Unknown figures (null) count neither way.
 */
export function nextState(state, sample, now) {
  const s = { ...state, seen: state.seen + 1 };
  if (s.seen <= RULE.warmup) return s;
  if (s.lastUpAt !== null && now - s.lastUpAt >= RULE.undoMs) {
    s.upAfter = RULE.upAfter;
    s.lastUpAt = null;
  }

  const { availableKbps: kbps, loss } = sample;
  const poor = below(kbps, RULE.tooWeak.belowKbps) || atLeast(loss, RULE.tooWeak.lossAtLeast);
  s.poorRun = poor ? s.poorRun + 1 : 0;
  s.fineRun = poor ? 0 : s.fineRun + 1;
  if (!s.tooWeak && s.poorRun >= RULE.tooWeak.after) s.tooWeak = true;
  if (s.tooWeak && s.fineRun >= RULE.tooWeak.clearAfter) s.tooWeak = false;

  const index = LEVELS.indexOf(s.level);
  const down = RULE.down[s.level];
  const weak = down !== undefined && (below(kbps, down.belowKbps) || atLeast(loss, down.lossAtLeast));
  const above = index > 0 ? RULE.down[LEVELS[index - 1]] : null;
  const good = above !== null && !weak && below(loss, above.lossAtLeast * RULE.upLossFactor) &&
    atLeast(kbps, above.belowKbps * RULE.upFactor);
  s.weakRun = weak ? s.weakRun + 1 : 0;
  s.goodRun = good ? s.goodRun + 1 : 0;

  if (s.weakRun >= RULE.downAfter) {
    if (s.lastUpAt !== null) s.upAfter = Math.min(s.upAfter * 2, RULE.upAfterMax);
    s.level = LEVELS[index + 1];
    s.weakRun = s.goodRun = 0;
  } else if (s.goodRun >= s.upAfter) {
    s.level = LEVELS[index - 1];
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
    availableKbps: null, loss: null, rttMs: null, fractionLost: null,
    width: null, height: null, fps: null, limitation: null, videoBytes: 0,
    counters: { sent: 0, lost: 0 },
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
    } else if (s.type === "remote-inbound-rtp") {
      sample.counters.lost += Math.max(0, s.packetsLost || 0);
      if (typeof s.fractionLost === "number") {
        sample.fractionLost = Math.max(sample.fractionLost ?? 0, s.fractionLost);
      }
      if (typeof s.roundTripTime === "number") {
        sample.rttMs = Math.max(sample.rttMs ?? 0, Math.round(s.roundTripTime * 1000));
      }
    }
  });
  const pair = pairs.find((p) => p.id === selectedPair) ||
    pairs.find((p) => p.nominated && p.state === "succeeded");
  if (pair && typeof pair.availableOutgoingBitrate === "number") {
    sample.availableKbps = Math.round(pair.availableOutgoingBitrate / 1000);
  }
  // Loss over the last interval from the cumulative counters; the receiver's last
  // report (fractionLost) only when there is nothing to compare with.
  const sent = previous ? sample.counters.sent - previous.sent : 0;
  if (sent > 0) {
    sample.loss = Math.min(1, Math.max(0, (sample.counters.lost - previous.lost) / sent));
  } else {
    sample.loss = sample.fractionLost;
  }
  return sample;
}

function videoSender(pc) {
  const transceiver = pc.getTransceivers().find(
    (t) => !t.stopped && t.receiver.track && t.receiver.track.kind === "video");
  return transceiver ? transceiver.sender : null;
}

/**
 * Watches one RTCPeerConnection. ``changed()`` is called when ``level`` or ``tooWeak``
 * changes; ``last`` is the latest sample (for diagnostics and tests).
 */
export class LinkQuality {
  constructor(pc, changed) {
    this.pc = pc;
    this.changed = changed;
    this.state = initialState();
    this.applied = "full";
    this.last = null;
    this._counters = null;
    this._busy = false;
    this._timer = setInterval(() => this._tick(), SAMPLE_MS);
  }

  get level() {
    return this.state.level;
  }

  get tooWeak() {
    return this.state.tooWeak;
  }

  stop() {
    clearInterval(this._timer);
    this._timer = null;
  }

  async _tick() {
    if (this._busy || this.pc.connectionState !== "connected") return;
    this._busy = true;
    try {
      const sample = readSample(await this.pc.getStats(), this._counters);
      if (this._timer === null) return;
      this._counters = sample.counters;
      this.last = sample;
      const before = this.state;
      this.state = nextState(before, sample, Date.now());
      if (before.level !== this.state.level || before.tooWeak !== this.state.tooWeak) {
        this.changed();
      }
      // A refused setParameters (e.g. renegotiation in between) is tried again next time.
      if (this.applied !== this.state.level) await this._apply(this.state.level);
    } catch (error) {
      console.warn("kota: link quality", error);
    } finally {
      this._busy = false;
    }
  }

  /** Put the level's limits on our video encoding (no renegotiation). */
  async _apply(level) {
    const sender = videoSender(this.pc);
    if (!sender) return;
    const params = sender.getParameters();
    if (!params.encodings || params.encodings.length === 0) return; // not negotiated yet
    const want = ENCODINGS[level];
    for (const encoding of params.encodings) {
      for (const key of ["scaleResolutionDownBy", "maxBitrate", "maxFramerate"]) {
        if (want[key] === undefined) delete encoding[key];
        else encoding[key] = want[key];
      }
    }
    await sender.setParameters(params);
    this.applied = level;
  }
}
