// Camera and microphone check before a call: preview, sound-level meter, device
// pickers, and plain help when permission is denied or a device is missing.

import { clear, h, setText } from "../dom.js";
import { watchLevel } from "../media.js";
import { attachStream } from "./video.js";

const HELP_STEPS = {
  denied: ["devices.help.denied.step1", "devices.help.denied.step2", "devices.help.denied.step3"],
  in_use: ["devices.help.in_use.step1", "devices.help.in_use.step2"],
  camera_in_use: ["devices.help.in_use.step1", "devices.help.in_use.step2"],
  not_found: ["devices.help.not_found.step1"],
  no_devices: ["devices.help.not_found.step1"],
  failed: ["devices.help.failed.step1"],
  insecure: ["devices.help.insecure.step1"],
  unsupported: ["devices.help.unsupported.step1"],
};

/**
 * The check screen. ``onContinue`` runs when the person is ready; they may also
 * continue without devices (they can still hear, see and chat).
 */
export function deviceCheck({ media, titleKey, continueKey, onContinue, step, action }) {
  const video = h("video", {
    class: "preview-video mirrored",
    muted: true,
    autoplay: true,
    playsInline: true,
    attrs: { playsinline: true, muted: true },
    i18nAttrs: { "aria-label": "devices.preview_label" },
  });
  const noVideoText = h("p", { i18n: "devices.no_camera_preview" });
  const noVideo = h("div", { class: "preview-empty", hidden: true }, noVideoText);
  const bar = h("div", { class: "meter-bar" });
  const meter = h(
    "div",
    {
      class: "meter",
      attrs: { role: "meter", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": 0 },
      i18nAttrs: { "aria-label": "devices.meter_label" },
    },
    bar,
  );
  const meterHint = h("p", { class: "hint", i18n: "devices.meter_hint" });
  const meterBlock = h("div", { class: "meter-block" },
    h("p", { class: "label", i18n: "devices.meter_title" }), meter, meterHint);
  const cameraSelect = h("select", { id: "camera-select" });
  const micSelect = h("select", { id: "mic-select" });
  const pickers = h(
    "div",
    { class: "pickers", hidden: true },
    h("div", { class: "field" },
      h("label", { htmlFor: "camera-select", i18n: "devices.camera" }), cameraSelect),
    h("div", { class: "field" },
      h("label", { htmlFor: "mic-select", i18n: "devices.microphone" }), micSelect),
  );
  const helpTitle = h("h2", { class: "help-title" });
  const helpText = h("p");
  const helpSteps = h("ol", { class: "help-steps" });
  const retry = h("button", {
    type: "button",
    class: "button secondary",
    i18n: "devices.try_again",
    on: { click: () => start() },
  });
  const help = h("div", { class: "notice help", hidden: true, attrs: { role: "status" } },
    helpTitle, helpText, helpSteps, retry);
  const status = h("p", { class: "status", i18n: "devices.starting" });
  const continueButton = h("button", {
    type: "button",
    class: "button primary wide",
    i18n: continueKey,
    dataset: { action },
    on: { click: () => finish() },
  });
  const stepLabel = step ? h("p", { class: "step", i18n: "common.step", vars: step }) : null;

  const view = h(
    "section",
    { class: "card device-check", attrs: { "aria-labelledby": "devices-title" } },
    stepLabel,
    h("h1", { id: "devices-title", i18n: titleKey }),
    h("div", { class: "device-layout" },
      h("div", { class: "preview" }, video, noVideo),
      h("div", { class: "device-side" },
        status,
        meterBlock,
        pickers,
      )),
    help,
    h("div", { class: "actions" }, continueButton),
  );

  let stopLevel = () => {};

  function showLevel(level) {
    bar.style.transform = `scaleX(${level.toFixed(3)})`;
    meter.setAttribute("aria-valuenow", String(Math.round(level * 100)));
  }

  function listenTo(track) {
    stopLevel();
    stopLevel = watchLevel(track, showLevel);
  }

  async function fillPickers() {
    const { cameras, microphones } = await media.devices();
    fill(cameraSelect, cameras, media.videoDeviceId, "devices.camera_n");
    fill(micSelect, microphones, media.audioDeviceId, "devices.microphone_n");
    cameraSelect.closest(".field").hidden = cameras.length === 0;
    micSelect.closest(".field").hidden = microphones.length === 0;
    pickers.hidden = cameras.length + microphones.length === 0;
  }

  function fill(select, devices, selected, fallbackKey) {
    clear(select);
    devices.forEach((device, index) => {
      const option = device.label
        ? h("option", { value: device.deviceId }, device.label)
        : h("option", { value: device.deviceId, i18n: fallbackKey, vars: { n: index + 1 } });
      option.selected = device.deviceId === selected;
      select.append(option);
    });
  }

  function showProblem(problem) {
    help.hidden = !problem;
    if (!problem) return;
    setText(helpTitle, `devices.problem.${problem}.title`);
    setText(helpText, `devices.problem.${problem}.text`);
    clear(helpSteps);
    for (const key of HELP_STEPS[problem] || []) helpSteps.append(h("li", { i18n: key }));
    retry.hidden = problem === "insecure" || problem === "unsupported";
  }

  function showPreview() {
    const hasVideo = Boolean(media.videoTrack);
    video.hidden = !hasVideo;
    noVideo.hidden = hasVideo;
    meterBlock.hidden = !media.audioTrack;
    setText(noVideoText, media.audioTrack ? "devices.no_camera_preview" : "devices.no_media_preview");
    if (hasVideo) attachStream(video, media.preview);
    if (media.audioTrack) listenTo(media.audioTrack);
  }

  async function start() {
    setText(status, "devices.starting");
    status.hidden = false;
    const problem = await media.start();
    showProblem(problem);
    showPreview();
    if (!problem) setText(status, "devices.ready");
    else status.hidden = true;
    await fillPickers();
  }

  cameraSelect.addEventListener("change", async () => {
    try {
      await media.useCamera(cameraSelect.value);
      showProblem(null);
    } catch {
      showProblem("camera_in_use");
    }
    showPreview();
  });
  micSelect.addEventListener("change", async () => {
    try {
      await media.useMicrophone(micSelect.value);
    } catch {
      showProblem("failed");
    }
    showPreview();
  });

  function finish() {
    stopLevel();
    onContinue();
  }

  return { view, start };
}
