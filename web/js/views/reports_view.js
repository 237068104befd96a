// Administrators: the organisation report (#/reports). A range of months (the last 12 by
// default) read from GET /api/reports/organisation; totals, then charts per month
// (report_charts.js) with their figures as tables; "show only" a service, a kind of
// meeting or a professional, asked of the server again so that waiting times stay exact;
// the same range and choice as CSV or Excel. What each figure means: docs/reports.md.

import { get } from "../api.js";
import { announce, clear, h, setText } from "../dom.js";
import { errorText, t } from "../i18n.js";
import { barChart, formatNumber, monthLabel } from "./report_charts.js";
import { staffZone, today } from "./staff_zone.js";

const MAX_MONTHS = 36;
// Connection-test verdicts (connection_test.completed) and their words.
const VERDICT_KEYS = {
  good: "reports.verdict.good",
  audio_only: "reports.verdict.audio_only",
  too_weak: "reports.verdict.too_weak",
  no_connection: "reports.verdict.no_connection",
};
const VERDICTS = Object.keys(VERDICT_KEYS);

/** "2026-03" plus ``n`` months. */
export function addMonths(month, n) {
  const [year, number] = month.split("-").map(Number);
  const index = year * 12 + (number - 1) + n;
  return `${String(Math.floor(index / 12)).padStart(4, "0")}-${String((index % 12) + 1).padStart(2, "0")}`;
}

function minutesOf(seconds) {
  return seconds === null || seconds === undefined ? null : Math.round(seconds / 6) / 10;
}

function select(id, labelKey) {
  const input = h("select", { id });
  return { input, field: h("div", { class: "field" }, h("label", { htmlFor: id, i18n: labelKey }), input) };
}

export function reportsView() {
  const thisMonth = today().slice(0, 7);
  const from = h("input", { id: "r-from", type: "month", required: true,
    value: addMonths(thisMonth, -11), pattern: "\\d{4}-\\d{2}", placeholder: "2026-01" });
  const to = h("input", { id: "r-to", type: "month", required: true, value: thisMonth,
    pattern: "\\d{4}-\\d{2}", placeholder: "2026-12" });
  const service = select("r-service", "reports.service");
  const kind = select("r-kind", "reports.kind");
  const staff = select("r-staff", "reports.staff");
  const error = h("p", { class: "notice error", hidden: true, attrs: { role: "alert" } });
  const status = h("p", { class: "hint report-status", attrs: { role: "status" } });
  const csv = h("a", { class: "button secondary", i18n: "reports.download_csv",
    dataset: { action: "download-csv" }, attrs: { download: "" } });
  const xlsx = h("a", { class: "button secondary", i18n: "reports.download_xlsx",
    dataset: { action: "download-xlsx" }, attrs: { download: "" } });
  const content = h("div", { class: "report-content" });
  const filters = h("fieldset", { class: "report-filters", hidden: true },
    h("legend", { i18n: "reports.filters" }),
    h("div", { class: "field-row" }, service.field, kind.field, staff.field));
  const form = h("form", { class: "form report-range", on: { submit: (e) => { e.preventDefault(); load(); } } },
    h("div", { class: "field-row" },
      h("div", { class: "field" }, h("label", { htmlFor: "r-from", i18n: "reports.from" }), from),
      h("div", { class: "field" }, h("label", { htmlFor: "r-to", i18n: "reports.to" }), to),
      h("div", { class: "field report-show" },
        h("button", { type: "submit", class: "button primary", i18n: "reports.show",
          dataset: { action: "show-report" } }))));
  const view = h("section", { class: "card wide reports", attrs: { "aria-labelledby": "reports-title" } },
    h("h1", { id: "reports-title", i18n: "reports.title" }),
    h("p", { class: "lead", i18n: "reports.lead" }),
    form,
    h("p", { class: "hint", i18n: "reports.timezone_hint", vars: { zone: staffZone() } }),
    error, status, filters, content,
    h("section", { class: "report-downloads", attrs: { "aria-labelledby": "downloads-title" } },
      h("h2", { id: "downloads-title", i18n: "reports.downloads" }),
      h("div", { class: "actions start" }, csv, xlsx)));

  let report = null;
  let charts = [];

  /** The range and the "show only" choices as a query; the downloads follow it too. */
  function query() {
    const params = new URLSearchParams({ from: from.value, to: to.value });
    for (const [name, select] of [["service", service], ["kind", kind], ["staff", staff]]) {
      if (select.input.value) params.set(name, select.input.value);
    }
    return params.toString();
  }

  function setDownloads() {
    csv.href = `/api/reports/organisation.csv?${query()}`;
    xlsx.href = `/api/reports/organisation.xlsx?${query()}`;
  }

  function rangeIsValid() {
    const ok = /^\d{4}-\d{2}$/.test(from.value) && /^\d{4}-\d{2}$/.test(to.value)
      && from.value <= to.value && addMonths(from.value, MAX_MONTHS - 1) >= to.value;
    if (!ok) {
      error.textContent = t("reports.range_error");
      error.hidden = false;
    }
    return ok;
  }

  function fillSelect(target, options, allKey) {
    const kept = target.value;
    clear(target).append(h("option", { value: "", i18n: allKey }),
      ...options.map(([value, label]) => h("option", { value }, label)));
    target.value = options.some(([value]) => value === kept) ? kept : "";
  }

  function fillFilters() {
    // The choices are what the range holds, whatever is chosen now: a choice never vanishes.
    const { services, kinds, staff: people } = report.choices;
    const byName = (a, b) => a[1].localeCompare(b[1]);
    fillSelect(service.input, services.map(({ id, name }) =>
      [String(id), id === "none" ? t("reports.no_service") : name || `#${id}`]).sort(byName),
    "reports.all_services");
    fillSelect(kind.input, kinds.map((k) => [k, t(`kind.${k}`)]).sort(byName), "reports.all_kinds");
    fillSelect(staff.input, people.map(({ id, name }) => [String(id), name || `#${id}`]).sort(byName),
      "reports.all_staff");
    filters.hidden = false;
  }

  function fact(key, value, field, unitKey = null) {
    return h("div", { class: "report-fact", dataset: { field } },
      h("dt", { i18n: key }),
      h("dd", { dataset: { value: String(value ?? "") } },
        unitKey && value !== null ? t(unitKey, { n: formatNumber(value) }) : formatNumber(value)));
  }

  function summary(lines) {
    // The server counts the totals of what is chosen, so waiting times are exact.
    const totals = report.totals;
    const served = lines.reduce((sum, l) => sum + l.served, 0);
    const left = lines.reduce((sum, l) => sum + l.left_waiting, 0);
    const tests = VERDICTS.reduce((sum, v) => sum + Number((totals.tests || {})[v] || 0), 0);
    const medianFact = fact("reports.waiting_median", minutesOf(totals.waiting_median_s), "waiting_median", "reports.minutes_value");
    const p90Fact = fact("reports.waiting_p90", minutesOf(totals.waiting_p90_s), "waiting_p90", "reports.minutes_value");
    return h("section", { class: "report-summary", attrs: { "aria-labelledby": "totals-title" } },
      h("h2", { id: "totals-title", i18n: "reports.totals" }),
      h("dl", { class: "report-facts" },
        fact("reports.appointments", totals.appointments, "appointments"),
        fact("reports.held", totals.held, "held"),
        fact("reports.cancelled", totals.cancelled, "cancelled"),
        fact("reports.no_show", totals.no_show, "no_show"),
        fact("reports.participants_joined", totals.participants_joined, "participants_joined"),
        fact("reports.minutes_per_participant", totals.minutes_per_participant, "minutes_per_participant",
          "reports.minutes_value"),
        medianFact, p90Fact,
        fact("reports.travel_km", totals.travel_km, "travel_km"),
        fact("reports.travel_hours", totals.travel_hours, "travel_hours"),
        fact("reports.travel_unknown", totals.travel_unknown, "travel_unknown"),
        fact("reports.tests_total", tests, "tests"),
        fact("reports.sound_only", totals.sound_only_switches, "sound_only_switches"),
        fact("reports.lines_served", served, "lines_served"),
        fact("reports.lines_left", left, "lines_left")));
  }

  function render() {
    for (const chart of charts) chart.dispose();
    charts = [];
    if (!report) return;
    const { rows, lines } = report;
    const months = report.months.map((m) => m.month);
    const perMonth = report.months;
    const linesPerMonth = months.map((m) => lines.filter((l) => l.month === m));
    const values = (pick) => perMonth.map(pick);
    charts = [
      barChart({ id: "chart-appointments", titleKey: "reports.chart_appointments", months, stacked: true, whole: true,
        series: [
          { id: "held", labelKey: "reports.held", values: values((s) => s.held) },
          { id: "no_show", labelKey: "reports.no_show", values: values((s) => s.no_show) },
          { id: "cancelled", labelKey: "reports.cancelled", values: values((s) => s.cancelled) },
        ] }),
      barChart({ id: "chart-waiting", titleKey: "reports.chart_waiting", months,
        noteKey: "reports.chart_waiting_note",
        series: [
          { id: "waiting_median", labelKey: "reports.waiting_median", values: values((s) => minutesOf(s.waiting_median_s)) },
          { id: "waiting_p90", labelKey: "reports.waiting_p90", values: values((s) => minutesOf(s.waiting_p90_s)) },
        ] }),
      barChart({ id: "chart-travel-km", titleKey: "reports.chart_travel_km", months,
        series: [{ id: "travel_km", labelKey: "reports.travel_km", values: values((s) => s.travel_km) }] }),
      barChart({ id: "chart-travel-hours", titleKey: "reports.chart_travel_hours", months,
        series: [{ id: "travel_hours", labelKey: "reports.travel_hours", values: values((s) => s.travel_hours) }] }),
      barChart({ id: "chart-tests", titleKey: "reports.chart_tests", months, stacked: true, whole: true,
        series: VERDICTS.map((v) => ({ id: v, labelKey: VERDICT_KEYS[v], values: values((s) => s.tests[v]) })) }),
      barChart({ id: "chart-lines", titleKey: "reports.chart_lines", months, stacked: true, whole: true,
        noteKey: "reports.chart_lines_note",
        series: [
          { id: "served", labelKey: "reports.lines_served",
            values: linesPerMonth.map((ls) => ls.reduce((sum, l) => sum + l.served, 0)) },
          { id: "left_waiting", labelKey: "reports.lines_left",
            values: linesPerMonth.map((ls) => ls.reduce((sum, l) => sum + l.left_waiting, 0)) },
        ] }),
    ];
    // h() drops null children; the DOM's own append would write out "null".
    clear(content).append(...[
      rows.length || lines.length ? null : h("p", { class: "notice", i18n: "reports.empty" }),
      summary(lines),
      h("section", { class: "report-charts", attrs: { "aria-labelledby": "charts-title" } },
        h("h2", { id: "charts-title", i18n: "reports.per_month" }),
        h("div", { class: "chart-grid" }, charts)),
    ].filter(Boolean));
  }

  let asked = 0;
  async function load() {
    error.hidden = true;
    if (!rangeIsValid()) return;
    setDownloads();
    const mine = ++asked;
    setText(status, "common.loading");
    view.setAttribute("aria-busy", "true");
    try {
      const answer = await get(`/api/reports/organisation?${query()}`);
      if (mine !== asked) return;
      report = answer;
      fillFilters();
      render();
      setText(status, "reports.showing", { from: monthLabel(report.from), to: monthLabel(report.to) });
      announce(status.textContent);
    } catch (failure) {
      if (mine !== asked) return;
      status.textContent = "";
      error.textContent = errorText(failure.code);
      error.hidden = false;
    } finally {
      if (mine === asked) view.removeAttribute("aria-busy");
    }
  }

  for (const choice of [service.input, kind.input, staff.input]) {
    choice.addEventListener("change", async () => {
      await load();
      if (!error.hidden) return;
      announce(t("reports.filtered"));
    });
  }
  for (const input of [from, to]) input.addEventListener("change", setDownloads);
  // Texts drawn into the charts (months, numbers) follow a language change.
  const relabel = () => {
    if (!report) return;
    fillFilters();
    render();
  };
  document.addEventListener("localechange", relabel);
  view.dispose = () => {
    document.removeEventListener("localechange", relabel);
    for (const chart of charts) chart.dispose();
  };
  setDownloads();
  load();
  return view;
}
