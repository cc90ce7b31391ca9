// Reports: pick a kind, a date range and a grouping; see a table and a chart; export Excel or CSV.
// Column labels come from the server in the chosen language; every other text goes through t().
import { t, getLang, loadNamespace, applyI18n, bindLangSwitch } from '/static/i18n.js';
import { get } from '/static/api.js';
import { businessToday } from '/static/time.js';

const KINDS = ['service_center', 'agent_service', 'queue_history', 'ivr', 'customer_calls', 'satisfaction',
  'seat_states', 'cdr'];
const GROUPS = ['hour', 'day', 'week', 'month', 'year'];
const COLOURS = ['#1f6feb', '#2da44e', '#cf222e', '#bf8700', '#8250df', '#1b7c83', '#bc4c00', '#57606a'];

const form = document.getElementById('rp-form');
const message = document.getElementById('rp-message');
const pager = document.getElementById('rp-pager');
const prevButton = document.getElementById('rp-prev');
const nextButton = document.getElementById('rp-next');
let chart = null;
let last = null;
// The report on screen: its kind and query as submitted (the pager pages that query, not the form's
// fields edited since), the period offset of the page shown and the offsets of the pages before it.
let shown = null;
let loads = 0; // a load answered after a newer one began is dropped

function el(tag, className = '', text = '') {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== '') node.textContent = text;
  return node;
}

function fillSelect(select, values, prefix) {
  const current = select.value;
  select.replaceChildren(...values.map((v) => {
    const option = el('option', '', t(`${prefix}${v}`));
    option.value = v;
    return option;
  }));
  if (current) select.value = current;
}

function isoDate(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

function params() {
  const data = new FormData(form);
  const query = new URLSearchParams();
  const endDay = new Date(`${data.get('end')}T00:00:00`);
  endDay.setDate(endDay.getDate() + 1); // the form's end date is inclusive; the API's end is exclusive
  query.set('start', String(data.get('start')));
  query.set('end', isoDate(endDay));
  query.set('group_by', String(data.get('group_by')));
  for (const key of ['queue', 'agent', 'department']) {
    const value = String(data.get(key) || '').trim();
    if (value) query.set(key, value);
  }
  query.set('lang', getLang());
  return query;
}

// Rows per page of the reports paged by periods (agent service, queue history, satisfaction, seat states):
// 5000, or the page URL's ?limit= (1..100000) for an administrator who wants other pages, and the tests.
function pageLimit() {
  const asked = new URLSearchParams(location.search).get('limit');
  const n = /^\d+$/.test(asked || '') ? Number(asked) : 0;
  return n >= 1 && n <= 100000 ? n : 5000;
}

const LIMIT = pageLimit();

function seconds(value) {
  const s = Math.round(value);
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  return h ? `${h}:${mm}:${String(s % 60).padStart(2, '0')}` : `${mm}:${String(s % 60).padStart(2, '0')}`;
}

// Columns whose cells are codes (stats/labels.py): shown by their names, direction.inbound -> 呼入 / Inbound.
const CODED = new Set(['direction', 'disposition', 'hangup_by']);

function cellText(column, value) {
  if (value === null || value === undefined) return '';
  if (CODED.has(column.key) && value !== '') {
    const key = `${column.key}.${value}`;
    const text = t(key);
    return text === key ? String(value) : text;
  }
  if (column.kind === 'pct') return `${Number(value).toFixed(2)}%`;
  if (column.kind === 'seconds') return seconds(value);
  return String(value);
}

function renderTable(table) {
  const head = el('tr');
  head.append(...table.columns.map((c) => el('th', '', c.label)));
  document.getElementById('rp-head').replaceChildren(head);
  const numeric = new Set(['int', 'float', 'pct', 'seconds']);
  document.getElementById('rp-rows').replaceChildren(...table.rows.map((row) => {
    const tr = el('tr');
    table.columns.forEach((column, i) => {
      const td = el('td', numeric.has(column.kind) ? 'num' : '');
      if (column.kind === 'link' && row[i]) {
        const a = el('a', '', t('rp.play'));
        a.href = row[i];
        a.target = '_blank';
        a.rel = 'noopener';
        td.append(a);
      } else {
        td.textContent = cellText(column, row[i]);
      }
      tr.append(td);
    });
    return tr;
  }));
}

// Reports whose rows are one per period and per queue: the chart draws one series per queue of the
// measure chosen beside it (not one line zig-zagging across the queues).
const SPLIT = { queue_history: 'queue' };
const measureSelect = document.getElementById('rp-measure');

function splitChart(table, spec, index, labelOf) {
  const splitKey = SPLIT[table.kind];
  const si = index[splitKey];
  const measures = spec.series.filter((k) => k in index);
  fillMeasures(measures, labelOf);
  const measure = measures.includes(measureSelect.value) ? measureSelect.value : measures[0];
  const xi = index[spec.x];
  const periods = [];
  const groups = new Map();
  for (const row of table.rows) {
    const x = row[xi];
    if (!periods.includes(x)) periods.push(x);
    const group = row[si] ?? '';
    if (!groups.has(group)) groups.set(group, new Map());
    groups.get(group).set(x, row[index[measure]]);
  }
  const datasets = [...groups.entries()].map(([group, values], n) => ({
    label: String(group),
    data: periods.map((p) => (values.has(p) ? values.get(p) : null)),
    backgroundColor: COLOURS[n % COLOURS.length],
    borderColor: COLOURS[n % COLOURS.length],
    spanGaps: true,
  }));
  const y = measure.endsWith('_pct') ? { beginAtZero: true, min: 0, max: 100 } : { beginAtZero: true };
  y.title = { display: true, text: labelOf[measure] };
  return { labels: periods, datasets, scales: { x: {}, y } };
}

function fillMeasures(measures, labelOf) {
  const current = measureSelect.value;
  measureSelect.replaceChildren(...measures.map((key) => {
    const option = el('option', '', labelOf[key]);
    option.value = key;
    return option;
  }));
  measureSelect.value = measures.includes(current) ? current : measures[0];
}

function renderChart(table) {
  if (chart) chart.destroy();
  chart = null;
  const spec = table.chart || {};
  const split = SPLIT[table.kind];
  document.getElementById('rp-measure-label').hidden = !split;
  if (!window.Chart || !spec.x || !spec.series || !table.rows.length) return;
  const index = Object.fromEntries(table.columns.map((c, i) => [c.key, i]));
  const labelOf = Object.fromEntries(table.columns.map((c) => [c.key, c.label]));
  if (split && index[split] !== undefined) {
    const data = splitChart(table, spec, index, labelOf);
    chart = new window.Chart(document.getElementById('rp-chart'), {
      type: spec.type === 'line' ? 'line' : 'bar',
      data: { labels: data.labels, datasets: data.datasets },
      options: { responsive: true, maintainAspectRatio: false, animation: false, scales: data.scales },
    });
    return;
  }
  const xi = index[spec.x];
  const rows = table.rows.slice(0, 200);
  const labels = rows.map((r) => (index.period !== undefined && spec.x !== 'period' ? `${r[xi]} ${r[index.period]}` : r[xi]));
  const datasets = spec.series.filter((k) => k in index).map((key, n) => ({
    label: labelOf[key],
    data: rows.map((r) => r[index[key]]),
    backgroundColor: COLOURS[n % COLOURS.length],
    borderColor: COLOURS[n % COLOURS.length],
    yAxisID: key.endsWith('_pct') ? 'pct' : 'y',
  }));
  const scales = { x: { stacked: Boolean(spec.stacked) }, y: { stacked: Boolean(spec.stacked), beginAtZero: true } };
  if (datasets.some((d) => d.yAxisID === 'pct')) scales.pct = { position: 'right', min: 0, max: 100 };
  chart = new window.Chart(document.getElementById('rp-chart'), {
    type: spec.type === 'line' ? 'line' : 'bar',
    data: { labels, datasets },
    options: { responsive: true, maintainAspectRatio: false, animation: false, scales },
  });
}

function renderPager(periods) {
  pager.hidden = !periods;
  if (!periods) return;
  document.getElementById('rp-periods').textContent = t('rp.periods', {
    from: periods.offset + 1, to: periods.offset + periods.count, total: periods.total,
  });
  prevButton.disabled = !shown.before.length;
  nextButton.disabled = periods.offset + periods.count >= periods.total;
}

// Load the page of periods from offset (before: the offsets of the pages before it, for previous).
async function load(offset, before) {
  const request = shown;
  const query = new URLSearchParams(request.query);
  query.set('lang', getLang());
  // The kinds the server pages by periods (/api/stats/kinds); the others keep their own limit (the CDR's rows).
  if (info && (info.paged || []).includes(request.kind)) {
    query.set('limit', String(LIMIT));
    query.set('period_offset', String(offset));
  }
  const mine = ++loads;
  message.textContent = t('rp.loading');
  prevButton.disabled = true;
  nextButton.disabled = true;
  try {
    const answer = await get(`/api/stats/reports/${encodeURIComponent(request.kind)}?${query}`);
    if (mine !== loads) return;
    last = answer;
    request.offset = offset;
    request.before = before;
    renderTable(last);
    renderChart(last);
    renderPager(last.periods);
    const empty = last.periods ? t('rp.page_empty') : t('rp.empty');
    message.textContent = last.rows.length ? t('rp.rows', { count: last.rows.length }) : empty;
  } catch (error) {
    if (mine !== loads) return;
    message.textContent = t('rp.failed', { detail: error.message });
    if (last) renderPager(last.periods);
  }
}

// A submit of the form: its report from the first period.
function run(event) {
  if (event) event.preventDefault();
  if (!form.reportValidity()) return;
  shown = { kind: document.getElementById('rp-kind').value, query: params(), offset: 0, before: [] };
  last = null;
  pager.hidden = true;
  load(0, []);
}

function nextPage() {
  const periods = last && last.periods;
  if (!periods) return;
  load(periods.offset + periods.count, [...shown.before, shown.offset]);
}

function previousPage() {
  if (!shown || !shown.before.length) return;
  load(shown.before[shown.before.length - 1], shown.before.slice(0, -1));
}

function exportAs(format) {
  if (!form.reportValidity()) return;
  const kind = document.getElementById('rp-kind').value;
  const query = params();
  query.set('format', format);
  location.href = `/api/stats/reports/${encodeURIComponent(kind)}/export?${query}`;
}

let info = null;

async function loadInfo() {
  try {
    info = await get('/api/stats/kinds');
  } catch (_) { /* the defaults below still let the page work */ }
}

function renderDefinitions() {
  const settings = (info && info.settings) || { sl_threshold_s: 20, short_abandon_s: 5 };
  const p = { sl: settings.sl_threshold_s, short: settings.short_abandon_s };
  document.getElementById('rp-definitions').replaceChildren(
    ...[1, 2, 3, 4, 5].map((n) => el('li', '', t(`wb.def${n}`, p))),
  );
}

async function main() {
  await loadNamespace('common').catch(() => {});
  await loadNamespace('wallboard');
  applyI18n(document);
  bindLangSwitch(document.getElementById('lang-switch'));
  fillSelect(document.getElementById('rp-kind'), KINDS, 'rp.kind_');
  fillSelect(document.getElementById('rp-group'), GROUPS, 'rp.group_');
  document.getElementById('rp-group').value = 'day';
  await loadInfo();
  const today = businessToday(); // the business zone's today, the same day the reports mean
  form.elements.start.value = `${today.slice(0, 8)}01`;
  form.elements.end.value = today;
  form.addEventListener('submit', run);
  document.getElementById('rp-xlsx').addEventListener('click', () => exportAs('xlsx'));
  document.getElementById('rp-csv').addEventListener('click', () => exportAs('csv'));
  prevButton.addEventListener('click', previousPage);
  nextButton.addEventListener('click', nextPage);
  measureSelect.addEventListener('change', () => { if (last) renderChart(last); });
  document.addEventListener('langchange', () => {
    fillSelect(document.getElementById('rp-kind'), KINDS, 'rp.kind_');
    fillSelect(document.getElementById('rp-group'), GROUPS, 'rp.group_');
    renderDefinitions();
    if (shown) load(shown.offset, shown.before); // the same page, in the new language
  });
  renderDefinitions();
  run();
}

main();
