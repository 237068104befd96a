// Simple line icons (24×24, drawn with the text colour); always shown next to a word.

const PATHS = {
  mic: ["M12 3a3 3 0 0 1 3 3v6a3 3 0 0 1-6 0V6a3 3 0 0 1 3-3z", "M5 11a7 7 0 0 0 14 0", "M12 18v3"],
  micOff: [
    "M12 3a3 3 0 0 1 3 3v6a3 3 0 0 1-6 0V6a3 3 0 0 1 3-3z",
    "M5 11a7 7 0 0 0 14 0",
    "M12 18v3",
    "M3 3l18 18",
  ],
  camera: ["M3 7h12v10H3z", "M15 10l6-3v10l-6-3"],
  cameraOff: ["M3 7h12v10H3z", "M15 10l6-3v10l-6-3", "M2 3l20 18"],
  sound: ["M4 10h4l5-4v12l-5-4H4z", "M16 9a4 4 0 0 1 0 6", "M19 6a8 8 0 0 1 0 12"],
  video: ["M3 7h12v10H3z", "M15 10l6-3v10l-6-3"],
  screen: ["M3 4h18v12H3z", "M8 20h8", "M12 16v4"],
  chat: ["M4 5h16v11H9l-5 4z"],
  people: [
    "M9 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6z",
    "M3 20a6 6 0 0 1 12 0",
    "M16 11a3 3 0 1 0 0-6",
    "M17 14a6 6 0 0 1 4 6",
  ],
  leave: ["M10 4H4v16h6", "M14 8l4 4-4 4", "M18 12H8"],
  end: ["M4 4l16 16", "M20 4L4 20"],
  check: ["M4 12l5 5L20 6"],
  close: ["M6 6l12 12", "M18 6L6 18"],
  copy: ["M8 8h12v12H8z", "M4 16V4h12"],
};

const NS = "http://www.w3.org/2000/svg";

export function icon(name) {
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.classList.add("icon");
  for (const d of PATHS[name] || []) {
    const path = document.createElementNS(NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}
