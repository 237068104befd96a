// A soft double knock for staff when someone enters the waiting room, made with
// Web Audio so no sound file is fetched. Browsers allow it after the first click.

export class KnockSound {
  constructor() {
    this.context = null;
  }

  /** Call from a click handler, so later knocks may play. */
  unlock() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    if (!this.context) this.context = new Context();
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
  }

  play() {
    const context = this.context;
    if (!context) return;
    const start = context.currentTime + 0.02;
    for (const offset of [0, 0.18]) this._knock(start + offset);
  }

  _knock(at) {
    const { context } = this;
    const osc = context.createOscillator();
    const gain = context.createGain();
    osc.type = "sine";
    osc.frequency.setValueAtTime(520, at);
    osc.frequency.exponentialRampToValueAtTime(260, at + 0.12);
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.35, at + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.15);
    osc.connect(gain).connect(context.destination);
    osc.start(at);
    osc.stop(at + 0.16);
  }
}
