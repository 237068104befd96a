// Putting a stream on a <video>: inline on iPhone/iPad, started without a tap when
// the browser allows it, and a visible "tap to start" when it does not.

import { h } from "../dom.js";

/**
 * Attach ``stream`` and start playing. Resolves to "playing", or "blocked" when the
 * browser wants a tap first (other failures, such as a newer stream, are "aborted").
 */
export function attachStream(video, stream) {
  video.playsInline = true;
  video.setAttribute("playsinline", "");
  video.autoplay = true;
  if (video.srcObject !== stream) video.srcObject = stream;
  return video.play().then(
    () => "playing",
    (error) => (error && error.name === "NotAllowedError" ? "blocked" : "aborted"),
  );
}

/**
 * A button over a tile that starts playback with a tap, for browsers that refuse
 * to play sound until the person touches the page.
 */
export function tapToPlay(video, onPlaying) {
  const button = h("button", {
    type: "button",
    class: "button primary tap-to-play",
    i18n: "call.tap_to_play",
    on: {
      click: async () => {
        try {
          await video.play();
          button.remove();
          if (onPlaying) onPlaying();
        } catch {
          // Still refused; the button stays.
        }
      },
    },
  });
  return button;
}
