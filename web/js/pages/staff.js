// The professional's pages at /staff: sign in, a day's appointments, one appointment
// (people and links), the appointment form, and for administrators the usage log and
// the services families book themselves (#/services, #/services/7); the contact lines'
// duty board (#/lines) and, for administrators, their setup (#/lines/setup, #/lines/setup/3)
// and the organisation report (#/reports); for registry staff the client's access report by
// contact (#/access-report).
// Routes live in the fragment (#/day/2026-03-03, #/appointment/7, #/new, ...).

import { del, get, setCsrfToken } from "../api.js";
import { clear, h, showView } from "../dom.js";
import { savedLocale, setLocale, t } from "../i18n.js";
import { accessReportStaffView } from "../views/access_report_staff.js";
import { appointmentForm } from "../views/appointment_form.js";
import { appointmentView } from "../views/appointment_view.js";
import { calendarFeedView } from "../views/calendar_feed_view.js";
import { dayView } from "../views/day_view.js";
import { setMessaging } from "../views/delivery_choice.js";
import { languageSelect } from "../views/language_picker.js";
import { linesBoardView } from "../views/lines_board.js";
import { lineForm } from "../views/lines_form.js";
import { linesSetupView } from "../views/lines_setup.js";
import { loginView } from "../views/login_view.js";
import { reportsView } from "../views/reports_view.js";
import { serviceForm } from "../views/service_form.js";
import { servicesView } from "../views/services_view.js";
import { setStaffZone, today } from "../views/staff_zone.js";
import { usageLogView } from "../views/usage_log_view.js";

const main = document.getElementById("main");
const tools = document.getElementById("header-tools");
let me = null;
// The view on show, so a view holding a socket (the lines board) can close it on leaving.
let shown = null;

function setTitle(key) {
  const title = document.querySelector("title");
  title.dataset.i18n = key;
  document.title = t(key);
}

function navigate(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

function renderHeader() {
  clear(tools).append(languageSelect());
  if (!me) return;
  tools.append(
    h("nav", { class: "staff-nav", i18nAttrs: { "aria-label": "staff.nav_label" } },
      h("a", { href: `#/day/${today()}`, i18n: "staff.today" }),
      h("a", { href: "#/lines", i18n: "lines.nav", dataset: { action: "nav-lines" } }),
      me.role === "admin" ? h("a", { href: "#/services", i18n: "services.title" }) : null,
      h("a", { href: "#/calendar", i18n: "staff.calendar" }),
      me.role === "admin" ? h("a", { href: "#/usage-log", i18n: "usage.title" }) : null,
      // organisation reports
      me.role === "admin" ? h("a", { href: "#/reports", i18n: "reports.nav" }) : null,
      // Access reports: registry staff only (staff.registry).
      me.registry ? h("a", { href: "#/access-report", i18n: "access.staff.nav",
        dataset: { action: "nav-access-report" } }) : null),
    h("span", { class: "signed-in-as" }, me.display_name),
    h("button", { type: "button", class: "button secondary small", i18n: "staff.sign_out",
      on: { click: signOut } }));
}

async function signOut() {
  try {
    await del("/api/session");
  } finally {
    me = null;
    setCsrfToken(null);
    renderHeader();
    route();
  }
}

function route() {
  if (!me) {
    if (shown && shown.dispose) shown.dispose();
    shown = null;
    setTitle("login.page_title");
    showView(main, loginView({ onSignedIn: signedIn }));
    return;
  }
  const hash = window.location.hash.slice(1) || `/day/${today()}`;
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);
  let view;
  if (parts[0] === "appointment" && /^\d+$/.test(parts[1] || "")) {
    if (parts[2] === "edit") {
      setTitle("form.edit_title");
      view = appointmentForm({ id: Number(parts[1]), me, navigate });
    } else {
      setTitle("appointment.title");
      view = appointmentView({ id: Number(parts[1]) });
    }
  } else if (parts[0] === "new") {
    setTitle("form.new_title");
    view = appointmentForm({ day: params.get("date"), me, navigate });
  } else if (parts[0] === "services" && me.role === "admin") {
    if (parts[1] === "new" || /^\d+$/.test(parts[1] || "")) {
      setTitle(parts[1] === "new" ? "services.new_title" : "services.edit_title");
      view = serviceForm({ id: parts[1] === "new" ? null : Number(parts[1]), navigate });
    } else {
      setTitle("services.title");
      view = servicesView();
    }
  } else if (parts[0] === "lines" && parts[1] === "setup" && me.role === "admin") {
    if (parts[2] === "new" || /^\d+$/.test(parts[2] || "")) {
      setTitle(parts[2] === "new" ? "lines.new_title" : "lines.edit_title");
      view = lineForm({ id: parts[2] === "new" ? null : Number(parts[2]), navigate });
    } else {
      setTitle("lines.setup_title");
      view = linesSetupView();
    }
  } else if (parts[0] === "lines") {
    setTitle("lines.title");
    view = linesBoardView({ me });
  } else if (parts[0] === "calendar") {
    setTitle("feed.page_title");
    view = calendarFeedView();
  } else if (parts[0] === "access-report" && me.registry) {
    // Access reports: the client's access report by contact, registry staff only.
    setTitle("access.staff.title");
    view = accessReportStaffView();
  } else if (parts[0] === "usage-log" && me.role === "admin") {
    setTitle("usage.title");
    view = usageLogView();
  } else if (parts[0] === "reports" && me.role === "admin") {
    // organisation reports
    setTitle("reports.title");
    view = reportsView();
  } else {
    const day = /^\d{4}-\d{2}-\d{2}$/.test(parts[1] || "") ? parts[1] : today();
    setTitle("day.page_title");
    view = dayView({ day, navigate });
  }
  if (shown && shown.dispose) shown.dispose();
  shown = view;
  clear(main);
  showView(main, view);
}

function signedIn(body) {
  me = body.staff;
  setStaffZone(body.timezone);
  setMessaging(body.messaging);
  setCsrfToken(body.csrf_token);
  renderHeader();
  route();
}

async function boot() {
  await setLocale(savedLocale());
  try {
    signedIn(await get("/api/session"));
  } catch {
    me = null;
    renderHeader();
    route();
  }
  window.addEventListener("hashchange", route);
}

boot();
