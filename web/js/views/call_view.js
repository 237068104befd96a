// The call screen shared by families and staff: remote videos large, self-view small,
// big labelled controls, and a side panel (chat; for staff also people and waiting).

import { announce, clear, h, setText } from "../dom.js";
import { t } from "../i18n.js";
import { icon } from "../icons.js";
import { chatPanel } from "./chat_panel.js";
import { attachStream, tapToPlay } from "./video.js";
import { weakLinkBanner } from "./weak_link_banner.js";

function initials(name) {
  const parts = (name || "").trim().split(/\s+/).filter(Boolean);
  return parts.slice(0, 2).map((p) => p[0].toUpperCase()).join("") || "?";
}

/** A big button with an icon and a word under it. */
export function controlButton({ iconName, labelKey, onClick, className = "", action }) {
  const iconHolder = h("span", { class: "control-icon" }, icon(iconName));
  const label = h("span", { class: "control-label", i18n: labelKey });
  const button = h("button", { type: "button", class: `control ${className}`,
    dataset: { action }, on: { click: onClick } },
    iconHolder, label);
  button.setLabel = (key, name) => {
    setText(label, key);
    if (name) clear(iconHolder).append(icon(name));
  };
  return button;
}

export class CallView {
  /**
   * ``panels``: extra side panels, each {id, iconName, labelKey, element, badge?};
   * ``extraControls``: buttons placed before Leave.
   */
  constructor({ call, media, titleKey, titleVars, panels = [], extraControls = [], onLeave }) {
    this.call = call;
    this.media = media;
    this.tiles = new Map();
    this.openPanelId = null;

    this.tilesEl = h("div", { class: "tiles" });
    this.emptyEl = h("p", { class: "stage-empty", i18n: "call.alone" });
    this.selfVideo = h("video", {
      class: "mirrored",
      muted: true,
      autoplay: true,
      playsInline: true,
      attrs: { playsinline: true, muted: true },
    });
    this.selfOff = h("div", { class: "self-off", hidden: true }, icon("cameraOff"));
    this.selfEl = h("figure", { class: "self-view" }, this.selfVideo, this.selfOff,
      h("figcaption", { i18n: "call.you" }));
    this.stage = h("div", { class: "stage", dataset: { count: "0" } },
      this.tilesEl, this.emptyEl, this.selfEl);
    this.statusEl = h("p", { class: "call-status", hidden: true, attrs: { role: "status" } });
    this.retryButton = h("button", {
      type: "button", class: "button secondary small", i18n: "call.retry_now", hidden: true,
      on: { click: () => call.retryNow() },
    });
    this.weakBanner = weakLinkBanner({
      call,
      onAudioOnly: async () => {
        await this._toggleAudioOnly({ weak: true });
        this.audioOnlyButton.focus();
      },
    });

    const chat = chatPanel({ call, onUnread: (n) => this._badge("chat", n) });
    this.panels = [
      { id: "chat", iconName: "chat", labelKey: "call.chat", element: chat.element,
        onOpen: chat.onOpen },
      ...panels,
    ];
    this.panelEl = h("aside", { class: "panel", hidden: true });
    this.panelTitle = h("h2", { class: "panel-title", id: "panel-title" });
    this.panelBody = h("div", { class: "panel-body" });
    this.panelEl.append(
      h("div", { class: "panel-head" }, this.panelTitle,
        h("button", {
          type: "button", class: "icon-button", i18nAttrs: { "aria-label": "call.close_panel" },
          on: { click: () => this.togglePanel(null) },
        }, icon("close"))),
      this.panelBody,
    );
    this.panelEl.setAttribute("aria-labelledby", "panel-title");

    this.micButton = controlButton({
      iconName: "mic", labelKey: "call.mute", action: "mic", onClick: () => this._toggleMic(),
    });
    this.cameraButton = controlButton({
      iconName: "camera", labelKey: "call.camera_off", action: "camera",
      onClick: () => this._toggleCamera(),
    });
    this.audioOnlyButton = controlButton({
      iconName: "sound", labelKey: "call.audio_only", action: "audio-only",
      onClick: () => this._toggleAudioOnly(),
    });
    this.panelButtons = new Map();
    for (const panel of this.panels) {
      const button = controlButton({
        iconName: panel.iconName, labelKey: panel.labelKey, action: `panel-${panel.id}`,
        onClick: () => this.togglePanel(panel.id),
      });
      button.setAttribute("aria-expanded", "false");
      button.append(h("span", { class: "badge", hidden: true }));
      this.panelButtons.set(panel.id, button);
    }
    const leaveButton = controlButton({
      iconName: "leave", labelKey: "call.leave", className: "danger", action: "leave",
      onClick: onLeave,
    });
    this.controls = h(
      "div",
      { class: "controls", attrs: { role: "group" }, i18nAttrs: { "aria-label": "call.controls" } },
      this.micButton, this.cameraButton, this.audioOnlyButton,
      ...this.panelButtons.values(), ...extraControls, leaveButton,
    );

    this.element = h(
      "section",
      { class: "call-view", attrs: { "aria-labelledby": "call-title" } },
      h("div", { class: "call-top" },
        h("h1", { id: "call-title", class: "call-title", i18n: titleKey, vars: titleVars }),
        this.statusEl, this.retryButton, this.weakBanner.element),
      h("div", { class: "call-body" }, this.stage, this.panelEl),
      this.controls,
    );

    call.addEventListener("peers", () => this.render());
    call.addEventListener("media", (e) => this._updateTile(e.detail.peer));
    call.addEventListener("quality", (e) => {
      this._updateTile(e.detail.peer);
      this.weakBanner.render();
    });
    call.addEventListener("state", (e) => this._onState(e.detail));
    media.addEventListener("change", () => this._renderSelf());
    media.addEventListener("mic", () => this._renderButtons());
    this._renderSelf();
    this._renderButtons();
    this.render();
  }

  _onState({ state }) {
    const reconnecting = state === "reconnecting";
    this.retryButton.hidden = !reconnecting;
    this.element.classList.toggle("is-reconnecting", reconnecting);
    this._renderStatus();
  }

  /** The line under the title: our socket reconnecting, else a peer we cannot reach. */
  _renderStatus() {
    const unreachable = [...this.call.peers.values()].some((p) => p.connection === "unreachable");
    let key = null;
    if (this.call.state === "reconnecting") key = "call.reconnecting";
    else if (unreachable) key = this.call.staff ? "relay.unreachable_staff" : "relay.unreachable";
    this.statusEl.hidden = key === null;
    // Set only on change, so the status is announced once.
    if (key && this.statusEl.dataset.i18n !== key) setText(this.statusEl, key);
  }

  /** Lay out one tile per peer; the grid adapts to the count (1–5 others). */
  render() {
    const peers = [...this.call.peers.values()];
    for (const [id, tile] of this.tiles) {
      if (!this.call.peers.has(id)) {
        tile.element.remove();
        this.tiles.delete(id);
      }
    }
    for (const peer of peers) {
      if (!this.tiles.has(peer.id)) this._addTile(peer);
      this._updateTile(peer);
    }
    this.stage.dataset.count = String(peers.length);
    this.emptyEl.hidden = peers.length > 0;
    this.weakBanner.render();
    this._renderStatus();
  }

  _addTile(peer) {
    const video = h("video", {
      class: "remote",
      autoplay: true,
      playsInline: true,
      attrs: { playsinline: true },
      dataset: { peer: peer.id },
    });
    const placeholder = h("div", { class: "tile-placeholder" },
      h("span", { class: "initials", attrs: { "aria-hidden": "true" } }));
    const name = h("span", { class: "tile-name" });
    const state = h("span", { class: "tile-state" });
    const element = h("figure", { class: "tile", dataset: { peer: peer.id } },
      video, placeholder, h("figcaption", {}, name, state));
    this.tilesEl.append(element);
    this.tiles.set(peer.id, { element, video, placeholder, name, state, signature: null, tap: null });
  }

  _updateTile(peer) {
    const tile = this.tiles.get(peer.id);
    if (!tile) return;
    // Re-attach when the tracks change: Safari may not show tracks added to a live stream.
    const signature = peer.stream.getTracks().map((track) => track.id).join(",");
    if (tile.signature !== signature) {
      tile.signature = signature;
      tile.video.srcObject = null;
      attachStream(tile.video, peer.stream).then((result) => {
        if (result === "blocked" && !tile.tap) {
          tile.tap = tapToPlay(tile.video, () => { tile.tap = null; });
          tile.element.append(tile.tap);
        }
      });
    }
    const showVideo = peer.hasVideo && !this.call.audioOnly;
    tile.element.classList.toggle("no-video", !showVideo);
    tile.placeholder.firstChild.textContent = initials(peer.name);
    tile.name.textContent = peer.name || t("call.someone");
    const connection = peer.connection;
    tile.element.dataset.connection = connection;
    tile.element.dataset.sendLevel = peer.quality ? peer.quality.level : "full";
    tile.element.dataset.sendCause = (peer.quality && peer.quality.cause) || "";
    if (connection === "connected") tile.state.textContent = "";
    else setText(tile.state, `connection.${connection}`);
  }

  _renderSelf() {
    const track = this.media.videoTrack;
    this.selfOff.hidden = Boolean(track);
    this.selfVideo.hidden = !track;
    this.selfVideo.classList.toggle("mirrored", !this.media.screenTrack);
    if (track) attachStream(this.selfVideo, this.media.preview);
    this._renderButtons();
  }

  _renderButtons() {
    const { media, call } = this;
    this.micButton.hidden = !media.hasMicrophone;
    this.micButton.setLabel(media.micOn ? "call.mute" : "call.unmute", media.micOn ? "mic" : "micOff");
    this.micButton.classList.toggle("is-off", !media.micOn);
    const cameraOn = Boolean(media.cameraTrack) && media.cameraOn;
    this.cameraButton.hidden = call.audioOnly || !media.hasCamera;
    this.cameraButton.setLabel(cameraOn ? "call.camera_off" : "call.camera_on",
      cameraOn ? "camera" : "cameraOff");
    this.cameraButton.classList.toggle("is-off", !cameraOn);
    this.audioOnlyButton.setLabel(call.audioOnly ? "call.video_back" : "call.audio_only",
      call.audioOnly ? "video" : "sound");
    this.audioOnlyButton.classList.toggle("is-on", call.audioOnly);
  }

  _toggleMic() {
    this.media.setMicOn(!this.media.micOn);
    announce(t(this.media.micOn ? "call.mic_is_on" : "call.mic_is_off"));
  }

  async _toggleCamera() {
    const on = !(this.media.cameraTrack && this.media.cameraOn);
    try {
      await this.media.setCameraOn(on);
    } catch {
      announce(t("devices.problem.camera_in_use.title"));
    }
    this._renderButtons();
    announce(t(on ? "call.camera_is_on" : "call.camera_is_off"));
  }

  /** ``weak``: the weak-link banner's offer, not the button, asked for it. */
  async _toggleAudioOnly({ weak = false } = {}) {
    try {
      await this.call.setAudioOnly(!this.call.audioOnly, { weak });
    } catch {
      announce(t("devices.problem.camera_in_use.title"));
    }
    this._renderButtons();
    this.render();
    announce(t(this.call.audioOnly ? "call.audio_only_is_on" : "call.audio_only_is_off"));
  }

  /** Open one side panel (or close with null / the open one's id). */
  togglePanel(id) {
    const next = this.openPanelId === id ? null : id;
    this.openPanelId = next;
    for (const [panelId, button] of this.panelButtons) {
      button.setAttribute("aria-expanded", String(panelId === next));
      button.classList.toggle("is-on", panelId === next);
    }
    this.panelEl.hidden = next === null;
    this.element.classList.toggle("panel-open", next !== null);
    if (next === null) return;
    const panel = this.panels.find((p) => p.id === next);
    setText(this.panelTitle, panel.labelKey);
    clear(this.panelBody).append(panel.element);
    if (panel.onOpen) panel.onOpen();
  }

  openPanel(id) {
    if (this.openPanelId !== id) this.togglePanel(id);
  }

  _badge(id, count) {
    const button = this.panelButtons.get(id);
    if (!button) return;
    const badge = button.querySelector(".badge");
    badge.hidden = !count;
    badge.textContent = count ? String(count) : "";
  }

  setBadge(id, count) {
    this._badge(id, count);
  }

  isPanelOpen(id) {
    return this.openPanelId === id;
  }
}
