// Dates as staff see them, from dates.js (Kota's own strings, so North Sámi has no
// browser fallbacks).

import * as dates from "../dates.js";
import { t } from "../i18n.js";

/** A calendar day ("2026-12-05") as "lauantai 5. joulukuuta 2026". */
export function longDate(day) {
  return dates.formatDay(day, t);
}
