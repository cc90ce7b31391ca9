// The audit log: who changed what and when, filtered by user, action, table and period (days of the
// business time zone), newest first, a page at a time.
import { t } from '/static/i18n.js';
import { h } from '/static/dom.js';
import { formatTime, fromBusinessTime } from '/static/time.js';
import { ApiError } from '/static/api.js';
import { get, go, field, input, adminForm, section, table, showError } from '/static/admin.js';

const PAGE = 50;
const utc = (date) => date.toISOString().slice(0, 19);

function query(params) {
  const q = new URLSearchParams({ size: String(PAGE), page: params.page || '1', sort: '-at' });
  for (const key of ['username', 'action', 'resource']) if (params[key]) q.set(key, params[key]);
  if (params.from) q.set('at__gte', utc(fromBusinessTime(params.from)));
  if (params.to) q.set('at__lte', utc(new Date(fromBusinessTime(params.to).getTime() + 86_399_000)));
  return q;
}

// A code as its name when there is one (customer -> 客户), else the code itself (a table added later).
function named(family, code) {
  const key = `admin.audit.${family}.${code}`;
  const text = t(key);
  return text === key ? code : text;
}

function changes(row) {
  const text = JSON.stringify(row.changes || {});
  return h('code', { class: 'audit-changes', title: text }, text.length > 120 ? `${text.slice(0, 120)}…` : text);
}

// A day as 2026-12-01 that exists in the calendar.
function isDay(text) {
  const m = /^(\d{4})-(\d\d)-(\d\d)$/.exec(text);
  if (!m) return false;
  const day = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return day.toISOString().slice(0, 10) === text;
}

// The period is checked here first: a day that is not a date, or an end before the start, is named.
function periodRefusals(form) {
  const refusals = [];
  for (const name of ['from', 'to']) {
    const value = form.elements[name].value.trim();
    if (value && !isDay(value)) refusals.push({ loc: ['body', name], type: 'date_from_datetime_parsing', msg: '' });
  }
  const [from, to] = ['from', 'to'].map((name) => form.elements[name].value.trim());
  if (!refusals.length && from && to && from > to) {
    refusals.push({ loc: ['body', 'to'], type: 'value_error', msg: t('admin.audit.end_before_start') });
  }
  return refusals;
}

export async function log(params = {}) {
  const found = await get(`/api/crm/audit?${query(params)}`);
  const formEl = adminForm([
    field('username', input('username', params.username, { maxlength: 50 }), 'admin.audit.user'),
    field('action', input('action', params.action, { maxlength: 30, placeholder: 'update' }), 'admin.audit.action'),
    field('resource', input('resource', params.resource, { maxlength: 50, placeholder: 'customer' }), 'admin.audit.table'),
    field('from', input('from', params.from, { placeholder: '2026-12-01', maxlength: 10 }), 'admin.audit.from'),
    field('to', input('to', params.to, { placeholder: '2026-12-31', maxlength: 10 }), 'admin.audit.to'),
    h('div', { class: 'buttons' },
      h('button', { type: 'submit', class: 'primary', id: 'audit-search' }, t('admin.audit.search')),
      h('button', { type: 'button', onclick: () => go('audit') }, t('admin.audit.reset'))),
  ], async (form) => {
    const refusals = periodRefusals(form);
    if (refusals.length) {
      showError(new ApiError(422, refusals), form);
      return;
    }
    const wanted = new URLSearchParams();
    for (const key of ['username', 'action', 'resource', 'from', 'to']) {
      const value = form.elements[key].value.trim();
      if (value) wanted.set(key, value);
    }
    go(`audit${wanted.toString() ? `?${wanted}` : ''}`);
  });
  const pages = Math.max(1, Math.ceil(found.total / PAGE));
  const page = Number(params.page || 1);
  const to = (n) => { const q = new URLSearchParams({ ...params, page: String(n) }); go(`audit?${q}`); };
  return h('div', {},
    section('admin.audit.title', formEl),
    section('admin.audit.entries',
      h('p', { class: 'muted', id: 'audit-count' }, t('admin.count', { total: found.total })),
      table([
        ['admin.audit.at', (r) => formatTime(r.at)],
        ['admin.audit.user', (r) => r.username],
        ['admin.audit.action', (r) => named('act', r.action)],
        ['admin.audit.table', (r) => named('tbl', r.resource)],
        ['admin.audit.object', (r) => r.object_id],
        ['admin.audit.changes', changes],
        ['admin.audit.ip', (r) => r.ip],
      ], found.items),
      pages > 1 ? h('div', { class: 'buttons pager' },
        h('button', { type: 'button', disabled: page <= 1, onclick: () => to(page - 1) }, '‹'),
        h('span', {}, `${page} / ${pages}`),
        h('button', { type: 'button', disabled: page >= pages, onclick: () => to(page + 1) }, '›')) : null));
}
