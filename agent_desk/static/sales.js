// Sales management in one page with hash routes: the opportunities board with its funnel (#/board), targets and
// their progress (#/targets), the KPI appraisal (#/appraisal), quotes (#/quotes) and contracts (#/contracts).
// The filter bar (period in business days, department, person, stage) applies to the first three.
import { t, inLanguage, loadNamespace, applyI18n, bindLangSwitch } from '/static/i18n.js';
import { get, ApiError } from '/static/api.js';
import { h, fill, $ } from '/static/dom.js';
import { businessToday } from '/static/time.js';
import * as docs from '/static/sales-docs.js';
import {
  send, money, flash, showError, run, field, input, choice, section, table, salesForm, personName, numberOrNull,
  hashRouter,
} from '/static/sales-ui.js';

export const lists = { people: [], departments: [], stages: [] };
const MEASURES = ['calls', 'new_customers', 'orders', 'amount'];

// --- the filter bar ---------------------------------------------------------------------------------------

export function monthOf(today) {
  const [y, m] = today.split('-').map(Number);
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return [`${today.slice(0, 8)}01`, `${today.slice(0, 8)}${String(last).padStart(2, '0')}`];
}

function fillFilters() {
  const form = $('#filters');
  const options = (select, rows, label) => {
    const current = select.value;
    fill(select, h('option', { value: '' }, t('sales.filter.all')),
      rows.map((row) => h('option', { value: row.id, selected: String(row.id) === current }, label(row))));
  };
  options(form.elements.department_id, lists.departments, (d) => inLanguage(d.name));
  options(form.elements.user_id, lists.people, personName);
  options(form.elements.stage_id, lists.stages, (s) => inLanguage(s.name));
}

export function filterQuery(names = ['start', 'end', 'department_id', 'user_id']) {
  const form = $('#filters');
  const params = new URLSearchParams();
  for (const name of names) {
    const value = form.elements[name].value;
    if (value) params.set(name, value);
  }
  return params;
}

// --- the board and the funnel ------------------------------------------------------------------------------

function funnelChart(stages) {
  const widest = Math.max(1, ...stages.map((s) => s.count));
  return h('div', { class: 'funnel', id: 'funnel', role: 'img', 'aria-label': t('sales.board.funnel') },
    stages.map((s) => h('div', { class: `funnel-row ${s.outcome}`, dataset: { stage: s.stage_id } },
      h('span', {}, inLanguage(s.name)),
      h('div', { class: 'funnel-bar', style: `width: ${Math.round((s.count / widest) * 100)}%` }),
      h('span', { class: 'figures' }, t('sales.board.figures', {
        count: s.count, amount: money(s.amount), weighted: money(s.weighted),
      })))));
}

// A card's stage select: a move to a lost stage asks for the reason first.
function stageMover(card, stageId) {
  const reason = h('input', { name: 'lost_reason', maxlength: 300, placeholder: t('sales.board.lost_reason'), hidden: true });
  const select = choice('stage_id', lists.stages.map((s) => [s.id, inLanguage(s.name)]), stageId,
    { 'aria-label': t('sales.board.move'), id: `f-stage-${card.id}` });
  const formEl = h('form', { class: 'stage-move', novalidate: true }, select, reason,
    h('button', { type: 'submit', hidden: true, class: 'confirm-move' }, t('sales.board.move')));
  const lost = () => (lists.stages.find((s) => String(s.id) === select.value) || {}).outcome === 'lost';
  const move = () => run(async () => {
    await send('POST', `/api/crm/opportunities/${card.id}/stage`, { stage_id: Number(select.value), lost_reason: reason.value });
    flash(t('sales.board.moved', { title: card.title }));
    route();
  }, formEl);
  select.addEventListener('change', () => {
    reason.hidden = !lost();
    formEl.querySelector('.confirm-move').hidden = !lost();
    if (!lost()) move();
  });
  formEl.addEventListener('submit', (event) => { event.preventDefault(); move(); });
  return formEl;
}

async function opportunityForm(slot) {
  const customers = (await get('/api/crm/customers?size=200&sort=name')).items;
  const open = lists.stages.filter((s) => s.outcome === 'open');
  const formEl = salesForm([
    field('title', input('title', '', { maxlength: 200 })),
    field('customer_id', choice('customer_id', [['', t('sales.quotes.pick_customer')], ...customers.map((c) => [c.id, c.name])], '')),
    field('stage_id', choice('stage_id', open.map((s) => [s.id, inLanguage(s.name)]), open[0]?.id), 'sales.filter.stage'),
    field('amount', input('amount', '', { type: 'number', min: 0, step: '0.01' })),
    field('expected_close_on', input('expected_close_on', '', { type: 'date' })),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary', id: 'save-opportunity' }, t('sales.save'))),
  ], async (form) => {
    const body = {
      title: form.elements.title.value.trim(), customer_id: Number(form.elements.customer_id.value),
      stage_id: Number(form.elements.stage_id.value), amount: form.elements.amount.value || '0',
      expected_close_on: form.elements.expected_close_on.value || null,
    };
    const saved = await send('POST', '/api/crm/opportunities', body);
    flash(t('sales.board.saved', { title: saved.title }));
    route();
  }, ['title', 'customer_id']);
  slot.replaceChildren(section('sales.board.new', formEl));
}

async function board() {
  const params = filterQuery(['start', 'end', 'department_id', 'stage_id']);
  const person = $('#filters').elements.user_id.value;
  if (person) params.set('owner_id', person);
  const columns = await get(`/api/crm/opportunities/board?${params}`);
  const slot = h('div', { id: 'opportunity-form' });
  return h('div', { class: 'crm-card' },
    section('sales.board.funnel', funnelChart(columns)),
    section('sales.board.title',
      h('div', { class: 'buttons' }, h('button', {
        type: 'button', class: 'primary', id: 'new-opportunity', onclick: () => run(() => opportunityForm(slot)),
      }, t('sales.board.new'))),
      h('div', { class: 'board', id: 'board' }, columns.map((col) => h('div', {
        class: 'board-column', dataset: { stage: col.stage_id },
      },
      h('h3', {}, h('span', {}, inLanguage(col.name)), h('span', { class: 'muted' }, String(col.count))),
      col.cards.map((card) => h('div', { class: 'board-card', dataset: { id: card.id } },
        h('span', { class: 'title' }, card.title),
        h('span', { class: 'meta' }, card.customer_name),
        h('span', { class: 'meta' }, `${card.owner_name} · ${money(card.amount)}`),
        stageMover(card, col.stage_id))))))),
    slot);
}

// --- targets and their progress ------------------------------------------------------------------------------

function measureCell(m, name) {
  if (m.percent === null) return h('span', { class: 'muted' }, '—');
  const shown = name === 'amount' ? (v) => money(v) : (v) => String(Number(v));
  const width = Math.min(100, m.percent);
  return h('div', { class: 'progress', dataset: { measure: name } },
    h('span', {}, t('sales.targets.reached', { actual: shown(m.actual), target: shown(m.target), percent: m.percent })),
    h('div', { class: `progress-bar${m.percent >= 100 ? ' done' : ''}` }, h('span', { style: `width: ${width}%` })));
}

function subject(p) {
  const who = p.user_id ? p.user_name : `${inLanguage(p.department_name)} ${t('sales.targets.whole_department')}`;
  return h('span', { class: 'subject' }, who, p.title ? h('span', { class: 'muted target-title' }, p.title) : null);
}

// What the page checks before sending (the server checks it again): a person or a department, a period whose
// end is not before its start, whole counts and an amount in cents, none negative, at least one set.
function targetRefusals(form) {
  const out = [];
  const refuse = (name, key) => out.push({ loc: ['body', name], msg: t(key), type: 'value_error' });
  if (!form.elements.user_id.value && !form.elements.department_id.value) refuse('user_id', 'sales.targets.err_subject');
  const [start, end] = [form.elements.period_start.value, form.elements.period_end.value];
  if (!start) refuse('period_start', 'sales.err.required');
  if (!end) refuse('period_end', 'sales.err.required');
  if (start && end && end < start) refuse('period_end', 'sales.targets.err_period');
  let any = false;
  for (const m of MEASURES) {
    const raw = form.elements[m].value.trim();
    const ok = raw === '' || (m === 'amount' ? /^\d+(\.\d{1,2})?$/ : /^\d+$/).test(raw);
    if (!ok) refuse(m, m === 'amount' ? 'sales.targets.err_amount' : 'sales.targets.err_count');
    if (ok && Number(raw) > 0) any = true;
  }
  if (!any && !out.some((item) => MEASURES.includes(item.loc[1]))) refuse('calls', 'sales.targets.err_none');
  return out;
}

function targetForm(slot, row = null) {
  const people = [['', t('sales.targets.no_person')], ...lists.people.map((p) => [p.id, personName(p)])];
  const departments = [['', '—'], ...lists.departments.map((d) => [d.id, inLanguage(d.name)])];
  const [start, end] = row ? [row.period_start, row.period_end] : monthOf(businessToday());
  const shown = (m) => (row && Number(row[m]) ? String(row[m]) : '');
  const formEl = salesForm([
    field('title', input('title', row?.title || '', { maxlength: 100 })),
    field('user_id', choice('user_id', people, row?.user_id ?? '')),
    field('department_id', choice('department_id', departments, row && !row.user_id ? row.department_id : '')),
    h('p', { class: 'muted hint' }, t('sales.targets.subject_hint')),
    field('period_start', input('period_start', start, { type: 'date' })),
    field('period_end', input('period_end', end, { type: 'date' })),
    ...MEASURES.map((m) => field(m, input(m, shown(m), { type: 'number', min: 0, step: m === 'amount' ? '0.01' : '1' }))),
    h('div', { class: 'buttons' },
      h('button', { type: 'submit', class: 'primary', id: 'save-target' }, t('sales.save')),
      h('button', { type: 'button', id: 'cancel-target', onclick: () => slot.replaceChildren() }, t('common.cancel'))),
  ], async (form) => {
    const refused = targetRefusals(form);
    if (refused.length) throw new ApiError(422, refused);
    const body = { title: form.elements.title.value.trim(), period_start: form.elements.period_start.value,
      period_end: form.elements.period_end.value };
    body.user_id = numberOrNull(form.elements.user_id.value);
    if (body.user_id === null) body.department_id = numberOrNull(form.elements.department_id.value);
    for (const m of MEASURES) body[m] = m === 'amount' ? (form.elements[m].value || '0') : Number(form.elements[m].value || 0);
    await (row ? send('PATCH', `/api/crm/sales-targets/${row.id}`, body) : send('POST', '/api/crm/sales-targets', body));
    flash(t('sales.targets.saved'));
    route();
  });
  slot.replaceChildren(section(row ? 'sales.targets.edit' : 'sales.targets.new', formEl));
  formEl.elements.title.focus();
}

// Delete asks "sure?" in place on the first click and deletes on the second (no blocking dialog).
function deleteButton(p) {
  const button = h('button', { type: 'button', class: 'link danger delete-target' }, t('sales.targets.delete'));
  button.addEventListener('click', () => {
    if (!button.classList.contains('armed')) {
      button.classList.add('armed');
      button.textContent = t('sales.targets.delete_confirm');
      return;
    }
    run(async () => {
      await send('DELETE', `/api/crm/sales-targets/${p.id}`);
      flash(t('sales.targets.deleted', { title: p.title || p.user_name || inLanguage(p.department_name) }));
      route();
    });
  });
  return button;
}

async function targets() {
  const rows = await get(`/api/crm/sales-targets/progress?${filterQuery()}`);
  const slot = h('div', { id: 'target-form' });
  const edit = (p) => run(async () => targetForm(slot, await get(`/api/crm/sales-targets/${p.id}`)));
  const columns = [
    ['sales.targets.subject', subject],
    ['sales.targets.period', (p) => `${p.period_start} ~ ${p.period_end}`],
    ...MEASURES.map((m) => [`sales.field.${m}`, (p) => measureCell(p.measures[m], m)]),
    ['sales.appraisal.score', (p) => (p.score === null ? '—' : String(p.score)), 'num'],
    ['sales.appraisal.grade', (p) => h('span', { class: `grade grade-${p.grade}` }, p.grade)],
    ['sales.targets.actions', (p) => [
      h('button', { type: 'button', class: 'link edit-target', onclick: () => edit(p) }, t('sales.targets.edit_button')),
      ' ', deleteButton(p)]],
  ];
  return h('div', { class: 'crm-card' },
    section('sales.targets.title',
      h('div', { class: 'buttons' }, h('button', {
        type: 'button', class: 'primary', id: 'new-target', onclick: () => targetForm(slot),
      }, t('sales.targets.new'))),
      h('div', { id: 'targets' }, table(columns, rows))),
    slot);
}

async function appraisal() {
  const found = await get(`/api/crm/sales-targets/appraisal?${filterQuery(['start', 'end', 'department_id'])}`);
  const legend = found.grades.map((g) => t('sales.appraisal.legend_item', { grade: g.grade, score: g.min_score }));
  return section('sales.appraisal.title',
    h('p', { class: 'muted' }, t('sales.appraisal.rule', { cap: found.cap, grades: legend.join(t('sales.list_sep')) })),
    h('div', { id: 'appraisal' }, table([
      ['sales.appraisal.rank', (p) => String(found.items.indexOf(p) + 1), 'num'],
      ['sales.appraisal.person', subject],
      ['sales.filter.department', (p) => inLanguage(p.department_name)],
      ['sales.targets.period', (p) => `${p.period_start} ~ ${p.period_end}`],
      ...MEASURES.map((m) => [`sales.field.${m}`, (p) => measureCell(p.measures[m], m)]),
      ['sales.appraisal.score', (p) => (p.score === null ? '—' : String(p.score)), 'num'],
      ['sales.appraisal.grade', (p) => h('span', { class: `grade grade-${p.grade}` }, p.grade)],
    ], found.items)));
}

// --- routing ------------------------------------------------------------------------------------------------

export const me = { user: null };
export const route = hashRouter(
  { board, targets, appraisal, quotes: docs.quotes, contracts: docs.contracts }, 'board', '#sales-nav',
);

async function optional(url) {
  try {
    return (await get(url)).items;
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return []; // the filter offers what the user may see
    throw error;
  }
}

async function main() {
  await Promise.all(['common', 'sales'].map(loadNamespace));
  applyI18n(document);
  bindLangSwitch($('#lang-switch'));
  me.user = await get('/api/auth/me');
  $('#user-name').textContent = me.user.display_name || me.user.username;
  [lists.people, lists.departments, lists.stages] = await Promise.all([
    optional('/api/crm/users?size=200&is_active=true'),
    optional('/api/crm/departments?size=200'),
    optional('/api/crm/opportunity-stages?size=200'),
  ]);
  const [start, end] = monthOf(businessToday());
  $('#filter-start').value = start;
  $('#filter-end').value = end;
  fillFilters();
  $('#filters').addEventListener('submit', (event) => { event.preventDefault(); route(); });
  window.addEventListener('hashchange', route);
  document.addEventListener('langchange', () => { $('#flash').hidden = true; fillFilters(); route(); });
  await route();
}

main().catch((error) => showError(error));
