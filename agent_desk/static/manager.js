// The manager's statistics: pick a report, a period of business days, a department and a person; the page
// shows the chart and the table, and the export link gives the same rows as an Excel file in the page's language.
import { t, inLanguage, loadNamespace, applyI18n, bindLangSwitch, getLang } from '/static/i18n.js';
import { get, ApiError } from '/static/api.js';
import { h, fill, $ } from '/static/dom.js';
import { businessToday } from '/static/time.js';
import { money, showError, run, section, personName } from '/static/sales-ui.js';

const GROUPS = {
  sales: ['sales_by_agent', 'sales_by_product', 'sales_by_day', 'orders_by_status'],
  tickets: ['tickets_by_handler', 'tickets_by_department', 'tickets_by_type'],
  customers: ['customers_by_category', 'customers_by_region', 'customers_by_source', 'customers_new_lost'],
  calls: ['agent_states', 'ivr_paths'],
};
const MONEY = new Set(['amount']);
const lists = { people: [], departments: [] };

function query() {
  const form = $('#filters');
  const params = new URLSearchParams();
  for (const name of ['start', 'end', 'department_id', 'user_id']) {
    if (form.elements[name].value) params.set(name, form.elements[name].value);
  }
  return params;
}

function cell(key, value) {
  if (MONEY.has(key)) return money(value);
  return inLanguage(String(value ?? ''));
}

function chart(report) {
  if (!report.chart || !report.rows.length) return null;
  const { label, value } = report.chart;
  const widest = Math.max(1, ...report.rows.map((r) => Number(r[value])));
  return h('div', { class: 'funnel', id: 'chart', role: 'img', 'aria-label': inLanguage(report.title) },
    report.rows.slice(0, 40).map((r) => h('div', { class: 'funnel-row chart-row' },
      h('span', {}, cell(label, r[label])),
      h('div', { class: 'chart-track' }, h('div', {
        class: 'funnel-bar chart-bar', style: `width: ${Math.max(1, Math.round((Number(r[value]) / widest) * 100))}%`,
      })),
      h('span', { class: 'figures' }, cell(value, r[value])))));
}

function grid(report) {
  if (!report.rows.length) return h('p', { class: 'muted empty' }, t('sales.empty'));
  return h('table', { class: 'list crm-table', id: 'report-table' },
    h('thead', {}, h('tr', {}, report.columns.map((c) => h('th', {}, inLanguage(c.label))))),
    h('tbody', {}, report.rows.map((r) => h('tr', {}, report.columns.map((c) => h('td', {
      class: typeof r[c.key] === 'number' || MONEY.has(c.key) ? 'num' : null,
    }, cell(c.key, r[c.key])))))));
}

async function show() {
  const kind = $('#filter-kind').value;
  const params = query();
  $('#export').href = `/api/manager/reports/${encodeURIComponent(kind)}/export?${params}&lang=${getLang()}`;
  const report = await run(() => get(`/api/manager/reports/${encodeURIComponent(kind)}?${params}`));
  if (!report) return;
  fill($('#view'), section('manager.chart', h('h3', { id: 'report-title' }, inLanguage(report.title)),
    chart(report) || h('p', { class: 'muted' }, t('manager.no_chart'))),
  section('manager.table', grid(report)));
  document.body.dataset.rendered = kind;
}

function fillSelects() {
  const form = $('#filters');
  const keep = form.elements.kind.value || 'sales_by_agent';
  fill(form.elements.kind, Object.entries(GROUPS).map(([group, kinds]) => h('optgroup', {
    label: t(`manager.group.${group}`),
  }, kinds.map((k) => h('option', { value: k, selected: k === keep }, t(`manager.kind.${k}`))))));
  const options = (select, rows, text) => {
    const current = select.value;
    fill(select, h('option', { value: '' }, t('sales.filter.all')),
      rows.map((row) => h('option', { value: row.id, selected: String(row.id) === current }, text(row))));
  };
  options(form.elements.department_id, lists.departments, (d) => inLanguage(d.name));
  options(form.elements.user_id, lists.people, personName);
}

async function optional(url) {
  try {
    return (await get(url)).items;
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return [];
    throw error;
  }
}

async function main() {
  await Promise.all(['common', 'sales', 'manager'].map(loadNamespace));
  applyI18n(document);
  bindLangSwitch($('#lang-switch'));
  const me = await get('/api/auth/me');
  $('#user-name').textContent = me.display_name || me.username;
  [lists.people, lists.departments] = await Promise.all([
    optional('/api/crm/users?size=200&is_active=true'), optional('/api/crm/departments?size=200'),
  ]);
  const today = businessToday();
  const [y, m] = today.split('-').map(Number);
  $('#filter-start').value = `${today.slice(0, 8)}01`;
  $('#filter-end').value = `${today.slice(0, 8)}${String(new Date(Date.UTC(y, m, 0)).getUTCDate()).padStart(2, '0')}`;
  fillSelects();
  $('#filters').addEventListener('submit', (event) => { event.preventDefault(); show(); });
  $('#filter-kind').addEventListener('change', show);
  document.addEventListener('langchange', () => { fillSelects(); show(); });
  await show();
  document.body.dataset.ready = '1';
}

main().catch((error) => showError(error));
