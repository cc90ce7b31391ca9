// Times as the business reads them: every page shows dates and times in the business time zone
// (CC_TIMEZONE, given by the server in <meta name="cc-timezone">), never in the browser's own zone.
// Shown as "YYYY-MM-DD HH:mm:ss", the way the reports print their periods.
import { t } from '/static/i18n.js';

const FALLBACK_ZONE = 'Asia/Shanghai';

function metaContent(name) {
  const meta = document.querySelector(`meta[name="${name}"]`);
  return meta ? meta.content : '';
}

function validZone(zone) {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch (_) {
    return false;
  }
}

const zone = validZone(metaContent('cc-timezone')) ? metaContent('cc-timezone') : FALLBACK_ZONE;
const parts = new Intl.DateTimeFormat('en-US', {
  timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit',
});

export function businessZone() {
  return zone;
}

// A Date from epoch seconds (number), an ISO-8601 text (without an offset it is UTC, as the API sends
// it) or a Date; null when the value is empty or unreadable.
export function toDate(value) {
  if (value === null || value === undefined || value === '') return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value;
  if (typeof value === 'number') return new Date(value * 1000);
  const text = String(value);
  const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) || !text.includes('T') && text.length <= 10
    ? text : `${text}Z`);
  return Number.isNaN(date.getTime()) ? null : date;
}

// The wall-clock fields of a moment in the business zone.
function fields(date) {
  const out = {};
  for (const { type, value } of parts.formatToParts(date)) out[type] = value;
  return out;
}

// Milliseconds the business zone is ahead of UTC at a moment.
function offsetMs(date) {
  const f = fields(date);
  const asUtc = Date.UTC(Number(f.year), Number(f.month) - 1, Number(f.day), Number(f.hour), Number(f.minute),
    Number(f.second));
  return asUtc - Math.floor(date.getTime() / 1000) * 1000;
}

// "2024-05-01 09:30:05" (what: 'datetime' | 'minutes' | 'date' | 'time') in the business zone.
export function formatTime(value, what = 'datetime') {
  const date = toDate(value);
  if (!date) return '';
  const f = fields(date);
  const day = `${f.year}-${f.month}-${f.day}`;
  if (what === 'date') return day;
  if (what === 'time') return `${f.hour}:${f.minute}:${f.second}`;
  if (what === 'minutes') return `${day} ${f.hour}:${f.minute}`;
  return `${day} ${f.hour}:${f.minute}:${f.second}`;
}

// Today's date in the business zone ("YYYY-MM-DD").
export function businessToday(now = new Date()) {
  return formatTime(now, 'date');
}

// A wall-clock text of the business zone ("2024-05-01" or "2024-05-01T09:30") as the moment it names.
export function fromBusinessTime(text) {
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d))?)?$/.exec(String(text || '').trim());
  if (!m) return null;
  const guess = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] || 0), Number(m[5] || 0),
    Number(m[6] || 0));
  let moment = guess - offsetMs(new Date(guess));
  const again = guess - offsetMs(new Date(moment)); // across a daylight-saving change
  if (again !== moment) moment = again;
  return new Date(moment);
}

// "UTC+08:00" for the business zone now.
export function zoneOffsetText(now = new Date()) {
  const minutes = Math.round(offsetMs(now) / 60000);
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

// The zone's name for the top bar: "时区 Asia/Shanghai (UTC+08:00)".
export function zoneLabel() {
  return t('common.timezone', { zone, offset: zoneOffsetText() });
}
