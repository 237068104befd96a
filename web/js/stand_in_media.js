// Stand-in media for the connection test: a moving canvas picture and a quiet tone,
// sent when the camera check gave no camera or microphone. No DOM in the page: the
// canvas is never attached, and the tone goes only to the connection.

/**
 * Sends a picture and a sound when the camera check gave none, so the numbers say
 * what the network carries and not what this device lacks. Nothing is shown or played.
 */
export class StandInMedia {
  constructor() {
    this.tracks = [];
    this._timer = null;
    this._audio = null;
  }

  video() {
    const canvas = document.createElement("canvas");
    canvas.width = 320;
    canvas.height = 240;
    const context = canvas.getContext("2d");
    let frame = 0;
    const draw = () => {
      frame += 1;
      context.fillStyle = "#1f5f5b";
      context.fillRect(0, 0, 320, 240);
      context.fillStyle = "#ffffff";
      context.fillRect((frame * 7) % 320, 100, 40, 40);
    };
    draw();
    this._timer = setInterval(draw, 66);
    return this._keep(canvas.captureStream(15).getVideoTracks()[0]);
  }

  audio() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    this._audio = new Context();
    const tone = this._audio.createOscillator();
    const quiet = this._audio.createGain();
    quiet.gain.value = 0.01;
    const out = this._audio.createMediaStreamDestination();
    tone.connect(quiet).connect(out);
    tone.start();
    return this._keep(out.stream.getAudioTracks()[0]);
  }

  _keep(track) {
    if (track) this.tracks.push(track);
    return track || null;
  }

  stop() {
    clearInterval(this._timer);
    for (const track of this.tracks) track.stop();
    if (this._audio) this._audio.close().catch(() => {});
  }
}
