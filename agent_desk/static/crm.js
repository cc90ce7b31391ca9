// The CRM in one page with hash routes (#/customers, #/customers/12, #/tickets?status=open, ...):
// customers, tickets, orders, knowledge base, announcements, import and export. The list state lives in
// the address so Back and reload keep it. Also the pieces the route modules share (lists, pager, labels).
import { t, inLanguage, loadNamespace, applyI18n, bindLangSwitch } from '/static/i18n.js';
import { formatTime } from '/static/time.js';
import { get, post, ApiError } from '/static/api.js';
import { h, fill, $ } from '/static/dom.js';
import { flash } from '/static/forms.js';
import { busy, guarded, showError } from '/static/ivr-admin.js';
import * as customers from '/static/crm-customers.js';
import * as tickets from '/static/crm-tickets.js';
import * as orders from '/static/crm-orders.js';
import * as kb from '/static/crm-kb.js';

export const PAGE_SIZE = 20;
export const session = { me: null, users: new Map() };

// (path pattern, render(params, id), nav entry)
const ROUTES = [
  [/^customers$/, customers.list, 'customers'],
  [/^customers\/new$/, customers.edit, 'customers'],
  [/^customers\/(\d+)$/, customers.card, 'customers'],
  [/^customers\/(\d+)\/edit$/, customers.edit, 'customers'],
  [/^tickets$/, tickets.list, 'tickets'],
  [/^tickets\/new$/, tickets.create, 'tickets'],
  [/^tickets\/(\d+)$/, tickets.page, 'tickets'],
  [/^orders$/, orders.list, 'orders'],
  [/^orders\/new$/, orders.create, 'orders'],
  [/^orders\/(\d+)$/, orders.page, 'orders'],
  [/^kb$/, kb.search, 'kb'],
  [/^kb\/(\d+)$/, kb.article, 'kb'],
  [/^announcements$/, kb.announcements, 'announcements'],
  [/^io$/, customers.importExport, 'io'],
];

// --- shared pieces -----------------------------------------------------------------------------------
export function view() {
  return $('#view');
}

// "?a=1&b=2" from an object, leaving out empty values.
export function qs(params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') query.set(key, String(value));
  }
  const text = query.toString();
  return text ? `?${text}` : '';
}

export function go(path, params = {}) {
  const target = `#/${path}${qs(params)}`;
  if (location.hash === target) route();
  else location.hash = target;
}

// The server keeps naive UTC; shown in the business time zone (time.js).
export function when(value) {
  if (value === null || value === undefined || value === '') return '';
  return formatTime(value, 'minutes') || String(value);
}

// Seeded names carry both languages ("咨询 Consultation"): the part for the page's language.
export function bilingual(text) {
  return inLanguage(text || '');
}

// t('crm.<family>.<value>') when there is such a text, else the value as it is.
export function label(family, value) {
  if (value === null || value === undefined || value === '') return '';
  const key = `crm.${family}.${value}`;
  const text = t(key);
  return text === key ? String(value) : text;
}

export function userName(id) {
  if (id === null || id === undefined) return '';
  const user = session.me && session.me.id === id ? session.me : session.users.get(id);
  return user ? (user.display_name || user.username) : `#${id}`;
}

// Data that some roles may not read (403) counts as absent instead of failing the page.
export async function optional(promise, fallback = null) {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 403 || error.status === 404)) return fallback;
    throw error;
  }
}

export { flash };

// The field a refusal names, as the CRM's forms call it (empty when no form has such a field).
function fieldLabel(name) {
  for (const family of ['order', 'ticket', 'customer', 'contact']) {
    const key = `crm.${family}.${name}`;
    if (t(key) !== key) return t(key);
  }
  return '';
}

// FastAPI's validation errors (a list) as one line in the page's language: "field: message; ...".
function readable(error) {
  if (!(error instanceof ApiError) || !Array.isArray(error.detail)) return error;
  const text = error.detail.map((d) => {
    const path = (d.loc || []).filter((part) => part !== 'body' && typeof part !== 'number');
    const where = path.length ? fieldLabel(String(path[path.length - 1])) : '';
    const message = inLanguage(d.msg || '');
    return where ? `${where}: ${message}` : message;
  }).join('; ');
  const shown = new ApiError(error.status, text);
  shown.message = text;
  return shown;
}

// A handler that shows progress and any error; re-renders the route after it unless told not to.
export function action(run, { rerender = true } = {}) {
  return guarded(async (...args) => {
    const before = location.hash;
    try {
      await busy(run(...args));
    } catch (error) {
      throw readable(error);
    }
    if (rerender && location.hash === before) await route();
  });
}

// A button that asks "sure?" in place on the first click and acts on the second (no blocking dialog).
export function confirmButton(key, confirmKey, run, attrs = {}) {
  const button = h('button', { type: 'button', ...attrs }, t(key));
  let timer = null;
  const act = action(run);
  button.addEventListener('click', () => {
    if (!button.classList.contains('armed')) {
      button.classList.add('armed');
      button.textContent = t(confirmKey);
      timer = setTimeout(() => { button.classList.remove('armed'); button.textContent = t(key); }, 4000);
      return;
    }
    clearTimeout(timer);
    act();
  });
  return button;
}

export function field(key, control) {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, t(key)), control);
}

// Save and cancel (back) at the foot of a create or edit form.
export function saveButtons() {
  return h('div', { class: 'buttons' },
    h('button', { type: 'submit', class: 'primary' }, t('crm.action.save')),
    h('button', { type: 'button', onclick: () => history.back() }, t('common.cancel')));
}

// The customer a new ticket or order is for: fixed when opened from the card, else a number to enter.
export function customerField(key, customer, required = false) {
  return field(key, customer
    ? [h('input', { type: 'hidden', name: 'customer_id', value: customer.id }), h('b', {}, customer.name)]
    : h('input', { name: 'customer_id', type: 'number', min: 1, required, placeholder: t('crm.ticket.customer_id') }));
}

// A definition list of (label key, value), leaving out empty values.
export function details(pairs) {
  const shown = pairs.filter(([, value]) => value !== null && value !== undefined && value !== '');
  return h('dl', { class: 'details' }, shown.map(([key, value]) => [h('dt', {}, t(key)), h('dd', {}, value)]));
}

export function select(name, options, current = '') {
  return h('select', { name }, options.map(([value, text]) => h('option', {
    value, selected: String(value) === String(current ?? ''),
  }, text)));
}

// A form whose submit runs handler(values) with the form's fields (and the pressed button's name=value)
// as an object of strings.
export function form(attrs, children, handler, options = {}) {
  return h('form', {
    ...attrs,
    onsubmit: (event) => {
      event.preventDefault();
      const values = Object.fromEntries(new FormData(event.target, event.submitter).entries());
      return action(() => handler(values, event.target), options)();
    },
  }, children);
}

export function section(titleKey, ...children) {
  return h('section', { class: 'panel' }, h('h2', {}, t(titleKey)), children);
}

export function empty(key = 'crm.list.empty') {
  return h('p', { class: 'muted empty' }, t(key));
}

// A table of rows; a column is {key, label, sort, render(row)}; sortable headers set params.sort.
export function table(columns, rows, { params = null, base = '', open = null } = {}) {
  if (!rows.length) return empty();
  const current = params ? params.sort || '' : '';
  const header = columns.map((col) => {
    if (!col.sort || !params) return h('th', {}, t(col.label));
    const mark = current === col.sort ? ' ▲' : current === `-${col.sort}` ? ' ▼' : '';
    const next = current === col.sort ? `-${col.sort}` : col.sort;
    return h('th', {}, h('button', {
      type: 'button', class: 'sort', onclick: () => go(base, { ...params, sort: next, page: 1 }),
    }, t(col.label), mark));
  });
  return h('table', { class: 'list crm-table' },
    h('thead', {}, h('tr', {}, header)),
    h('tbody', {}, rows.map((row) => h('tr', {
      class: open ? 'clickable' : null,
      dataset: { id: row.id },
      onclick: open ? (event) => { if (!event.target.closest('button, a')) open(row); } : null,
    }, columns.map((col) => h('td', { class: col.class || null }, col.render ? col.render(row) : row[col.key]))))));
}

export function pager(found, params, base) {
  const pages = Math.max(1, Math.ceil(found.total / found.size));
  const page = found.page;
  const count = h('span', { class: 'muted' }, t('crm.list.page', { page, pages, total: found.total }));
  if (pages <= 1) return h('div', { class: 'pager' }, count);
  return h('div', { class: 'pager' },
    h('button', { type: 'button', disabled: page <= 1, onclick: () => go(base, { ...params, page: page - 1 }) },
      t('crm.list.prev')),
    count,
    h('button', { type: 'button', disabled: page >= pages, onclick: () => go(base, { ...params, page: page + 1 }) },
      t('crm.list.next')));
}

// A list route (#/<base>s): a "new" button, the filter bar, the sortable table and the pager.
export function listSection(base, kind, { found, params, columns, bar, buttons = [] }) {
  return section(`crm.${base}.title`,
    h('div', { class: 'buttons' },
      h('button', { type: 'button', class: 'primary', onclick: () => go(`${base}/new`) }, t(`crm.${kind}.new`)),
      buttons),
    bar,
    table(columns, found.items, { params, base, open: (row) => go(`${base}/${row.id}`) }),
    pager(found, params, base));
}

// The list's filter bar: changing a field reloads the list from page 1.
export function filterBar(params, base, controls) {
  return form({ class: 'filters crm-filters', role: 'search' }, [
    controls,
    h('button', { type: 'submit', class: 'primary' }, t('common.search')),
    h('button', { type: 'button', onclick: () => go(base, {}) }, t('crm.list.reset')),
  ], (values) => go(base, { ...values, sort: params.sort, page: 1 }), { rerender: false });
}

export function link(path, text) {
  return h('a', { href: `#/${path}` }, text);
}

export function badge(text, kind = '') {
  return text ? h('span', { class: `badge ${kind}`.trim() }, text) : null;
}

// Click-to-dial through the desk: the agent's phone rings first, then the number.
export function dialButton(number) {
  return h('button', {
    type: 'button', class: 'dial', title: t('crm.phone.dial'),
    onclick: action(async () => {
      await post('/api/desk/dial', { number: number.replace(/[^0-9+*#]/g, '') });
      flash(t('crm.phone.dialing', { number }));
    }, { rerender: false }),
  }, '☎ ', number);
}

// Names of the customers a list's rows point at, in one request.
export async function customerNames(rows) {
  const ids = [...new Set(rows.map((row) => row.customer_id).filter((id) => id !== null && id !== undefined))];
  if (!ids.length) return new Map();
  const found = await optional(get(`/api/crm/customers${qs({ id__in: ids.join(','), size: 200 })}`), { items: [] });
  return new Map(found.items.map((c) => [c.id, c.name]));
}

export function customerLink(names, id) {
  if (id === null || id === undefined) return '';
  return link(`customers/${id}`, names.get(id) || `#${id}`);
}

const stepsOf = new Map();
export function workflowSteps(workflowId) {
  if (workflowId === null || workflowId === undefined) return Promise.resolve([]);
  if (!stepsOf.has(workflowId)) {
    const url = `/api/crm/workflow-steps${qs({ workflow_id: workflowId, size: 100, sort: 'position' })}`;
    stepsOf.set(workflowId, optional(get(url), { items: [] }).then((found) => found.items));
  }
  return stepsOf.get(workflowId);
}

export function stepName(steps, position) {
  const step = steps.find((s) => s.position === position);
  return step ? bilingual(step.name) : (position === null || position === undefined ? '' : `#${position + 1}`);
}

// The workflow as a row of steps: done ones ticked, the current one marked.
export function stepTrack(steps, position, finished) {
  return h('ol', { class: 'steps' }, steps.map((step) => {
    const state = finished || step.position < position ? 'done' : step.position === position ? 'current' : 'todo';
    return h('li', { class: state, dataset: { step: step.action }, 'aria-current': state === 'current' ? 'step' : null },
      bilingual(step.name));
  }));
}

// Users for names and the owner/assignee filters; only roles that may read users get the list.
async function loadUsers() {
  const found = await optional(get('/api/crm/users?size=200'), { items: [] });
  for (const user of found.items) session.users.set(user.id, user);
}

// --- router ------------------------------------------------------------------------------------------
let routing = 0;

export async function route() {
  const [path, search] = location.hash.replace(/^#\/?/, '').split('?');
  const params = Object.fromEntries(new URLSearchParams(search || ''));
  const found = ROUTES.map(([pattern, render, nav]) => [pattern.exec(path || 'customers'), render, nav])
    .find(([match]) => match);
  const mine = ++routing;
  $('#notice').hidden = true;
  if (!found) {
    fill(view(), empty('crm.not_found'));
    return;
  }
  const [match, render, nav] = found;
  for (const a of document.querySelectorAll('#crm-nav a[data-route]')) {
    a.setAttribute('aria-current', a.dataset.route === nav ? 'page' : 'false');
  }
  try {
    const content = await busy(render(params, match[1] ? Number(match[1]) : null));
    if (mine === routing && content) fill(view(), content);
  } catch (error) {
    if (mine === routing) {
      fill(view());
      showError(readable(error));
    }
  }
  if (mine === routing) {
    // For people and tests alike: which address the view shows now.
    document.body.dataset.rendered = decodeURIComponent(location.hash);
    document.body.dataset.ready = '1';
  }
}

async function main() {
  await Promise.all(['common', 'ivr', 'crm'].map(loadNamespace));
  applyI18n(document);
  bindLangSwitch($('#lang-switch'));
  session.me = await get('/api/auth/me');
  $('#user-name').textContent = session.me.display_name || session.me.username;
  await loadUsers();
  window.addEventListener('hashchange', route);
  // A message shown before the switch stays in the old language: drop it with the switch.
  document.addEventListener('langchange', () => { $('#flash').hidden = true; route(); });
  await route();
}

main().catch(showError);
