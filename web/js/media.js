// The camera, microphone and screen this browser sends, and why one may be missing.
// No DOM: views show a preview and plain help from ``problem``.

const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
const VIDEO = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };

/** Why media could not start, as a key the views translate (devices.problem.*). */
function problemFor(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "denied";
    case "NotFoundError":
    case "OverconstrainedError":
      return "not_found";
    case "NotReadableError":
    case "AbortError":
      return "in_use";
    default:
      return "failed";
  }
}

/**
 * Local tracks for a call. ``change`` fires with {kind} whenever the track a call
 * should send for that kind changes (device switch, camera off, screen share).
 */
export class LocalMedia extends EventTarget {
  constructor() {
    super();
    this.audioTrack = null;
    this.cameraTrack = null;
    this.screenTrack = null;
    this.micOn = true;
    this.cameraOn = true;
    this.problem = null;
    this.cameraFound = false;
    this.audioDeviceId = null;
    this.videoDeviceId = null;
    this.preview = new MediaStream();
  }

  get supported() {
    return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  }

  /** The video track calls send: the shared screen, else the camera if it is on. */
  get videoTrack() {
    return this.screenTrack || (this.cameraOn ? this.cameraTrack : null);
  }

  /** Whether this device gave us a camera (it may be switched off now). */
  get hasCamera() {
    return this.cameraFound;
  }

  get hasMicrophone() {
    return Boolean(this.audioTrack);
  }

  /** Ask for camera and microphone; fall back to the microphone alone. */
  async start() {
    if (!this.supported) {
      this.problem = window.isSecureContext ? "unsupported" : "insecure";
      return this.problem;
    }
    this.problem = null;
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: this._audioConstraints(),
        video: this._videoConstraints(),
      });
      this._take(stream);
      return null;
    } catch (error) {
      this.problem = problemFor(error);
    }
    if (this.problem === "denied") return this.problem;
    try {
      // No camera, or it is busy: sound alone still lets the family take part.
      const stream = await navigator.mediaDevices.getUserMedia({ audio: this._audioConstraints() });
      this._take(stream);
      this.problem = this.problem === "in_use" ? "camera_in_use" : "no_camera";
    } catch (error) {
      this.problem = problemFor(error) === "denied" ? "denied" : "no_devices";
    }
    return this.problem;
  }

  _audioConstraints() {
    return this.audioDeviceId ? { ...AUDIO, deviceId: { exact: this.audioDeviceId } } : AUDIO;
  }

  _videoConstraints() {
    return this.videoDeviceId
      ? { ...VIDEO, deviceId: { exact: this.videoDeviceId } }
      : { ...VIDEO, facingMode: "user" };
  }

  _take(stream) {
    const audio = stream.getAudioTracks()[0] || null;
    const video = stream.getVideoTracks()[0] || null;
    if (audio) this._setAudio(audio);
    if (video) this._setCamera(video);
  }

  _setAudio(track) {
    if (this.audioTrack && this.audioTrack !== track) {
      this.preview.removeTrack(this.audioTrack);
      this.audioTrack.stop();
    }
    this.audioTrack = track;
    this.audioDeviceId = track ? track.getSettings().deviceId || null : null;
    if (track) {
      track.enabled = this.micOn;
      this.preview.addTrack(track);
    }
    this.dispatchEvent(new CustomEvent("change", { detail: { kind: "audio" } }));
  }

  _setCamera(track) {
    if (this.cameraTrack && this.cameraTrack !== track) {
      this.preview.removeTrack(this.cameraTrack);
      this.cameraTrack.stop();
    }
    this.cameraTrack = track;
    if (track) {
      this.cameraFound = true;
      this.videoDeviceId = track.getSettings().deviceId || this.videoDeviceId;
      if (!this.screenTrack) this.preview.addTrack(track);
    }
    this.dispatchEvent(new CustomEvent("change", { detail: { kind: "video" } }));
  }

  async devices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) {
      return { cameras: [], microphones: [] };
    }
    const all = await navigator.mediaDevices.enumerateDevices();
    return {
      cameras: all.filter((d) => d.kind === "videoinput" && d.deviceId),
      microphones: all.filter((d) => d.kind === "audioinput" && d.deviceId),
    };
  }

  async useMicrophone(deviceId) {
    this.audioDeviceId = deviceId;
    const stream = await navigator.mediaDevices.getUserMedia({ audio: this._audioConstraints() });
    this._setAudio(stream.getAudioTracks()[0]);
  }

  async useCamera(deviceId) {
    this.videoDeviceId = deviceId;
    if (this.cameraTrack) this.cameraTrack.stop();
    const stream = await navigator.mediaDevices.getUserMedia({ video: this._videoConstraints() });
    this.cameraOn = true;
    this._setCamera(stream.getVideoTracks()[0]);
  }

  setMicOn(on) {
    this.micOn = on;
    if (this.audioTrack) this.audioTrack.enabled = on;
    this.dispatchEvent(new CustomEvent("mic", { detail: { on } }));
  }

  /** Turning the camera off stops it (its light goes out); on asks for it again. */
  async setCameraOn(on) {
    if (on === this.cameraOn && (on ? this.cameraTrack : true)) return;
    if (!on) {
      this.cameraOn = false;
      if (this.cameraTrack) {
        this.preview.removeTrack(this.cameraTrack);
        this.cameraTrack.stop();
        this.cameraTrack = null;
      }
      this.dispatchEvent(new CustomEvent("change", { detail: { kind: "video" } }));
      return;
    }
    const stream = await navigator.mediaDevices.getUserMedia({ video: this._videoConstraints() });
    this.cameraOn = true;
    this._setCamera(stream.getVideoTracks()[0]);
  }

  get canShareScreen() {
    return Boolean(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
  }

  async startScreenShare() {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const track = stream.getVideoTracks()[0];
    track.addEventListener("ended", () => this.stopScreenShare());
    if (this.cameraTrack) this.preview.removeTrack(this.cameraTrack);
    this.screenTrack = track;
    this.preview.addTrack(track);
    this.dispatchEvent(new CustomEvent("change", { detail: { kind: "video" } }));
  }

  stopScreenShare() {
    if (!this.screenTrack) return;
    const track = this.screenTrack;
    this.screenTrack = null;
    this.preview.removeTrack(track);
    track.stop();
    if (this.cameraTrack && this.cameraOn) this.preview.addTrack(this.cameraTrack);
    this.dispatchEvent(new CustomEvent("change", { detail: { kind: "video" } }));
  }

  stop() {
    for (const track of [this.audioTrack, this.cameraTrack, this.screenTrack]) {
      if (track) track.stop();
    }
    this.audioTrack = this.cameraTrack = this.screenTrack = null;
  }
}

/**
 * Calls ``onLevel(0..1)`` about 20 times a second with the microphone's loudness.
 * Returns a function that stops measuring.
 */
export function watchLevel(track, onLevel) {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!track || !Context) return () => {};
  const context = new Context();
  const source = context.createMediaStreamSource(new MediaStream([track]));
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const timer = setInterval(() => {
    if (context.state === "suspended") context.resume().catch(() => {});
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    const rms = Math.sqrt(sum / samples.length);
    // Speech is around 0.02–0.2 RMS; a square root spreads it over the bar.
    onLevel(Math.min(1, Math.sqrt(rms * 4)));
  }, 50);
  return () => {
    clearInterval(timer);
    source.disconnect();
    context.close().catch(() => {});
  };
}
