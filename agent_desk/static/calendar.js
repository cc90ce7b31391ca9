// The business calendar (工作日/节假日设置): working hours per weekday (several spans a day), the hours
// of make-up working days, public holidays and make-up working days (调休上班), and a month view of
// which days are open, computed from the edits before they are saved (same rules as ivr/calendar.py).
import { t } from '/static/i18n.js';
import { api, get } from '/static/api.js';
import { h, fill, $ } from '/static/dom.js';
import { busy, errorText, guarded, startPage } from '/static/ivr-admin.js';

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const TIME = /^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/;
const LISTS = ['holidays', 'workdays'];

const state = {
  calendar: { timezone: 'Asia/Shanghai', hours: {}, workday_hours: [], holidays: [], workdays: [] },
  month: null,
};

function setStatus(text, ok) {
  const status = $('#cal-status');
  status.textContent = text;
  status.className = ok === undefined ? 'muted' : (ok ? 'status-ok' : 'status-bad');
}

// --- the rules ------------------------------------------------------------------------------------------
function weekdayOf(iso) {
  const [year, month, day] = iso.split('-').map(Number);
  return WEEKDAYS[(new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7];
}

function spanText(spans) {
  return spans.map(([start, end]) => `${start}-${end}`).join(', ');
}

// What a day is: holiday, workday (make-up working day), open (weekday with hours) or closed.
function dayKind(iso) {
  const { calendar } = state;
  const holiday = calendar.holidays.find((day) => day.date === iso);
  if (holiday) return { kind: 'holiday', what: holiday.name || t('ivr.cal.legend_holiday') };
  const workday = calendar.workdays.find((day) => day.date === iso);
  if (workday) {
    const spans = calendar.workday_hours.length ? calendar.workday_hours : (calendar.hours.mon || []);
    return { kind: 'workday', what: `${workday.name || t('ivr.cal.legend_workday')} ${spanText(spans)}` };
  }
  const spans = calendar.hours[weekdayOf(iso)] || [];
  return spans.length ? { kind: 'open', what: spanText(spans) } : { kind: 'closed', what: t('ivr.cal.closed') };
}

function badSpan() {
  const rows = WEEKDAYS.map((day) => [t(`ivr.weekday.${day}`), state.calendar.hours[day] || []]);
  rows.push([t('ivr.cal.workday_hours'), state.calendar.workday_hours]);
  for (const [label, spans] of rows) {
    for (const [start, end] of spans) {
      if (!TIME.test(start) || !TIME.test(end) || end <= start) return t('ivr.cal.bad_time', { day: label, span: `${start}-${end}` });
    }
  }
  return null;
}

// --- weekly hours -------------------------------------------------------------------------------------
function spanEditor(spans, index) {
  const input = (slot) => h('input', {
    value: spans[index][slot], maxlength: '5', size: '5', placeholder: 'HH:MM', pattern: TIME.source,
    'aria-label': t(slot ? 'ivr.cal.end' : 'ivr.cal.start'),
    oninput: (event) => { spans[index][slot] = event.target.value.trim(); changed(false); },
  });
  return h('span', { class: 'span-row' }, input(0), '–', input(1),
    h('button', { type: 'button', class: 'span-remove', title: t('ivr.cal.remove'),
      onclick: () => { spans.splice(index, 1); changed(true); } }, '×'));
}

function hoursRow(key, label, spans, hint) {
  return h('tr', { dataset: { day: key } },
    h('th', {}, label),
    h('td', {},
      spans.length ? spans.map((_, i) => spanEditor(spans, i)) : h('span', { class: 'muted span-none' }, hint),
      h('button', { type: 'button', class: 'span-add',
        onclick: () => { spans.push(['09:00', '18:00']); changed(true); } }, t('ivr.cal.add_span'))));
}

function renderHours() {
  const { calendar } = state;
  for (const day of WEEKDAYS) calendar.hours[day] = calendar.hours[day] || [];
  fill($('#cal-hours'),
    WEEKDAYS.map((day) => hoursRow(day, t(`ivr.weekday.${day}`), calendar.hours[day], t('ivr.cal.closed'))),
    hoursRow('workday_hours', t('ivr.cal.workday_hours'), calendar.workday_hours, t('ivr.cal.workday_hours_hint')));
  $('#cal-timezone').value = calendar.timezone;
}

// --- holidays and make-up working days -----------------------------------------------------------------
function dayList(list) {
  const form = h('form', { class: 'day-form', onsubmit: (event) => { event.preventDefault(); addDay(list, form); } },
    h('input', { type: 'date', name: 'date', required: true, title: t('ivr.cal.date') }),
    h('input', { name: 'name', maxlength: '40', placeholder: t('ivr.cal.name') }),
    h('button', { type: 'submit' }, t('ivr.cal.add')));
  fill($(`#${list} .day-list`), form,
    h('div', { class: 'day-scroll' }, h('table', { class: 'list' }, h('tbody', { class: 'day-rows' }))));
}

function renderDays(list) {
  const rows = state.calendar[list].map((day, index) => h('tr', { dataset: { date: day.date } },
    h('td', {}, day.date),
    h('td', { class: 'muted' }, t(`ivr.weekday.${weekdayOf(day.date)}`)),
    h('td', {}, day.name),
    h('td', {}, h('button', { type: 'button', class: 'day-remove',
      onclick: () => { state.calendar[list].splice(index, 1); changed(true); } }, t('ivr.cal.remove')))));
  fill($(`#${list} .day-rows`), rows.length ? rows : h('tr', {}, h('td', { class: 'muted' }, t('ivr.cal.none'))));
}

function addDay(list, form) {
  const date = form.elements.date.value;
  const name = form.elements.name.value.trim();
  const other = LISTS.find((each) => each !== list);
  if (!date) setStatus(t('ivr.cal.need_date'), false);
  else if (state.calendar[list].some((day) => day.date === date)) setStatus(t('ivr.cal.duplicate', { date }), false);
  else if (state.calendar[other].some((day) => day.date === date)) setStatus(t('ivr.cal.clash', { date }), false);
  else {
    state.calendar[list].push({ date, name });
    state.calendar[list].sort((a, b) => a.date.localeCompare(b.date));
    state.month = { year: Number(date.slice(0, 4)), month: Number(date.slice(5, 7)) };
    form.reset();
    changed(true);
  }
}

// --- month view ---------------------------------------------------------------------------------------
function renderMonth() {
  const { year, month } = state.month;
  $('#month-label').textContent = t('ivr.cal.month_label', { year, month });
  const first = `${year}-${String(month).padStart(2, '0')}-01`;
  const blanks = WEEKDAYS.indexOf(weekdayOf(first));
  const length = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const cells = WEEKDAYS.map((day) => h('div', { class: 'dow' }, t(`ivr.weekday.${day}`)));
  for (let i = 0; i < blanks; i += 1) cells.push(h('div', { class: 'day blank' }));
  for (let day = 1; day <= length; day += 1) {
    const iso = `${first.slice(0, 8)}${String(day).padStart(2, '0')}`;
    const { kind, what } = dayKind(iso);
    cells.push(h('div', { class: `day ${kind}`, dataset: { date: iso, kind }, title: what },
      h('span', { class: 'num' }, String(day)), h('span', { class: 'what' }, what)));
  }
  fill($('#month-grid'), cells);
}

function moveMonth(step) {
  const index = state.month.year * 12 + state.month.month - 1 + step;
  state.month = { year: Math.floor(index / 12), month: (index % 12) + 1 };
  renderMonth();
}

// --- loading and saving -------------------------------------------------------------------------------
function render() {
  renderHours();
  for (const list of LISTS) renderDays(list);
  renderMonth();
}

// Re-draw after an edit; typing in a time box only re-draws the month so the box keeps its focus.
function changed(structure) {
  if (structure) {
    renderHours();
    for (const list of LISTS) renderDays(list);
  }
  renderMonth();
  setStatus(t('ivr.cal.unsaved'));
}

async function load() {
  state.calendar = await busy(get('/api/ivr/calendar'));
  render();
}

async function save() {
  const problem = badSpan();
  if (problem) {
    setStatus(problem, false);
    return;
  }
  state.calendar.timezone = $('#cal-timezone').value.trim() || 'Asia/Shanghai';
  try {
    state.calendar = await busy(api('PUT', '/api/ivr/calendar', state.calendar));
  } catch (error) {
    setStatus(t('ivr.cal.refused', { detail: errorText(error) }), false);
    return;
  }
  render();
  setStatus(t('ivr.cal.saved'), true);
}

async function main() {
  const today = new Date();
  state.month = { year: today.getFullYear(), month: today.getMonth() + 1 };
  for (const list of LISTS) dayList(list);
  $('#month-prev').addEventListener('click', () => moveMonth(-1));
  $('#month-next').addEventListener('click', () => moveMonth(1));
  $('#cal-save').addEventListener('click', guarded(save));
  $('#cal-timezone').addEventListener('input', () => setStatus(t('ivr.cal.unsaved')));
  document.addEventListener('langchange', () => {
    for (const list of LISTS) dayList(list);
    render();
  });
  await load();
}

startPage(main);
