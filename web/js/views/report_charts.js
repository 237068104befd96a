// Bar charts for the organisation report, drawn as plain inline SVG (no chart library).
// One bar (or a stack, or a group) per month. Each chart is a <figure> whose SVG has a
// name for screen readers, a legend in words, and the same figures as a table under
// "Show the figures as a table", so nothing is only a picture. The SVG is drawn for the
// width it has (a ResizeObserver draws it again), so its texts stay readable on a phone.

import { h } from "../dom.js";
import { intlTag, t } from "../i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const HEIGHT = 240;
const MARGIN = { top: 14, right: 12, bottom: 34, left: 52 };
const FONT = 14;
// Room one month label needs below the axis ("12/26" at 14 px, with a gap).
const LABEL_PX = 48;

// Series colours are classes (.series-0 … .series-4 in reports.css; the page's CSP allows
// no inline styles), each with at least 3:1 contrast on white and named in the legend.
const COLOURS = 5;

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) el.append(child);
  }
  return el;
}

/** A number as the page's language writes it (1 decimal at most); null is a dash. */
export function formatNumber(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return new Intl.NumberFormat(intlTag(), { maximumFractionDigits: digits }).format(value);
}

/** "3/26" under a bar, "3/2026" in a table. */
export function monthLabel(month, short = false) {
  const [year, number] = month.split("-");
  return t("reports.month_label", { m: Number(number), y: short ? year.slice(2) : year });
}

/** A round top for the value axis in four steps of 1, 2, 2.5 or 5 times a power of ten;
 * counts (``whole``) step by whole numbers only. */
export function axisTop(max, whole = false) {
  if (!(max > 0)) return 4;
  const step = max / 4;
  const power = 10 ** Math.floor(Math.log10(step));
  if (whole) {
    const unit = Math.max(1, power);
    return [1, 2, 5, 10].find((m) => m * unit >= step) * unit * 4;
  }
  const nice = [1, 2, 2.5, 5, 10].find((m) => m * power >= step) * power;
  return nice * 4;
}

function draw(chart, width) {
  const { months, series, stacked, whole } = chart;
  const plotW = Math.max(width - MARGIN.left - MARGIN.right, 60);
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const totals = months.map((_, i) => (stacked
    ? series.reduce((sum, s) => sum + (s.values[i] || 0), 0)
    : Math.max(0, ...series.map((s) => s.values[i] || 0))));
  const top = axisTop(Math.max(0, ...totals), whole);
  const y = (v) => MARGIN.top + plotH - (v / top) * plotH;
  const band = plotW / Math.max(months.length, 1);
  const groupW = Math.min(band * 0.72, 64);
  const root = svg("svg", {
    class: "chart-svg", width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`,
    role: "img", "aria-labelledby": chart.titleId, "aria-describedby": chart.noteId,
    focusable: "false",
  });
  // Value axis: four steps with their numbers and light lines.
  for (let step = 0; step <= 4; step += 1) {
    const value = (top / 4) * step;
    const at = y(value);
    root.append(
      svg("line", { class: "grid", x1: MARGIN.left, x2: MARGIN.left + plotW, y1: at, y2: at }),
      svg("text", { class: "tick", x: MARGIN.left - 6, y: at + FONT / 3, "text-anchor": "end",
        "font-size": FONT }, formatNumber(value)));
  }
  const every = Math.max(1, Math.ceil((LABEL_PX * months.length) / plotW));
  months.forEach((month, i) => {
    const left = MARGIN.left + band * i + (band - groupW) / 2;
    let base = 0;
    series.forEach((s, k) => {
      const value = s.values[i] || 0;
      const barW = stacked ? groupW : groupW / series.length;
      const x = stacked ? left : left + barW * k;
      const from = stacked ? base : 0;
      const height = Math.max(y(from) - y(from + value), 0);
      if (value > 0) {
        root.append(svg("rect", {
          x, y: y(from + value), width: Math.max(barW - (stacked ? 0 : 2), 1),
          height, class: `bar series-${s.colour}`,
          "data-month": month, "data-series": s.id, "data-value": s.values[i],
        }, svg("title", {}, `${monthLabel(month)}: ${t(s.labelKey)} ${formatNumber(s.values[i])}`)));
      }
      if (stacked) base += value;
    });
    if (i % every === 0) {
      root.append(svg("text", { class: "tick", x: MARGIN.left + band * i + band / 2,
        y: HEIGHT - MARGIN.bottom + FONT + 8, "text-anchor": "middle", "font-size": FONT },
      monthLabel(month, true)));
    }
  });
  root.append(svg("line", { class: "axis", x1: MARGIN.left, x2: MARGIN.left + plotW,
    y1: y(0), y2: y(0) }));
  return root;
}

function table(chart) {
  return h("table", { class: "chart-table" },
    h("caption", {}, t(chart.titleKey)),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col", i18n: "reports.month" }),
      chart.series.map((s) => h("th", { scope: "col", i18n: s.labelKey })))),
    h("tbody", {}, chart.months.map((month, i) => h("tr", { dataset: { month } },
      h("th", { scope: "row" }, monthLabel(month)),
      chart.series.map((s) => h("td", { dataset: { series: s.id, value: String(s.values[i] ?? "") } },
        formatNumber(s.values[i])))))));
}

/**
 * A bar chart of ``months`` ("2026-03", …). ``series``: [{id, labelKey, values}] with one
 * value per month (null: nothing to count); ``stacked`` piles them, otherwise they stand
 * side by side; ``whole``: the values are counts. Returns a <figure>; call
 * ``figure.redraw()`` after the texts change.
 */
export function barChart({ id, titleKey, months, series, stacked = false, whole = false, noteKey = null }) {
  const chart = {
    months, stacked, whole, titleKey, titleId: `${id}-title`, noteId: `${id}-note`,
    series: series.map((s, k) => ({ ...s, colour: k % COLOURS })),
  };
  const frame = h("div", { class: "chart-frame" });
  const details = h("details", { class: "chart-details" });
  const legend = h("ul", { class: "chart-legend" });
  const title = h("h3", { id: chart.titleId, i18n: titleKey });
  const note = h("p", { id: chart.noteId, class: "hint chart-note", i18n: noteKey || "reports.chart_note" });
  const figure = h("figure", { class: "chart", dataset: { chart: id } },
    title, legend, frame, note, details);
  let width = 0;

  function render() {
    frame.replaceChildren(draw(chart, width || 600));
  }

  figure.redraw = () => {
    legend.replaceChildren(...chart.series.map((s) => h("li", {},
      h("span", { class: `swatch series-${s.colour}`, attrs: { "aria-hidden": "true" } }),
      h("span", { i18n: s.labelKey }))));
    // A narrow screen scrolls the table sideways (a named region, reachable by keyboard).
    details.replaceChildren(h("summary", { i18n: "reports.show_table" }),
      h("div", { class: "table-scroll", tabIndex: 0,
        attrs: { role: "region", "aria-labelledby": chart.titleId } }, table(chart)));
    render();
  };
  figure.redraw();
  // Drawn again for the width the chart gets (first layout, turning the tablet).
  const watcher = new ResizeObserver(() => {
    const now = Math.floor(frame.clientWidth);
    if (now > 0 && now !== width) {
      width = now;
      render();
    }
  });
  watcher.observe(frame);
  figure.dispose = () => watcher.disconnect();
  return figure;
}
