// The configuration the work runs on: ticket types with their SLA and workflow, the ticket and order
// workflows with their steps (edited as an ordered list, numbered 1, 2, 3 on saving), opportunity stages
// (open ones first, won and lost last and closed), seats with their extensions and who sits there.
import { t } from '/static/i18n.js';
import { h } from '/static/dom.js';
import {
  get, send, go, flash, bilingual, field, input, nameInput, nameValue, choice, adminForm, section, saveButtons, table,
  run,
} from '/static/admin.js';

export const ORDER_ACTIONS = ['review', 'manager_review', 'shipping', 'payment', 'receipt', 'followup'];

const num = (value) => (value === '' || value === null || value === undefined ? null : Number(value));

// --- ticket types ------------------------------------------------------------------------------------------
function typeForm(slot, flows, row) {
  const formEl = adminForm([
    field('code', input('code', row?.code, { maxlength: 30, placeholder: 'repair' }), 'admin.type.code'),
    field('name', nameInput('name', row?.name, { maxlength: 100 }), 'admin.type.name'),
    field('sla_hours', input('sla_hours', row ? row.sla_hours : 24, { type: 'number', min: 1, max: 8760 }),
      'admin.type.sla_hours'),
    field('workflow_id', choice('workflow_id', [['', t('admin.type.no_workflow')],
      ...flows.map((f) => [f.id, bilingual(f.name)])], row?.workflow_id), 'admin.type.workflow'),
    saveButtons('ticket-types'),
  ], async (form) => {
    const raw = form.elements.sla_hours.value.trim();
    const body = {
      code: form.elements.code.value.trim(), name: nameValue(form.elements.name),
      sla_hours: /^\d+$/.test(raw) ? Number(raw) : raw, workflow_id: num(form.elements.workflow_id.value),
    };
    const saved = row ? await send('PATCH', `/api/crm/admin/ticket-types/${row.id}`, body)
      : await send('POST', '/api/crm/admin/ticket-types', body);
    flash(t('admin.saved', { name: bilingual(saved.name) }));
    go('ticket-types');
  }, { required: ['code', 'name', 'sla_hours'] });
  slot.replaceChildren(section(row ? 'admin.type.edit' : 'admin.type.new', formEl));
}

export async function ticketTypes() {
  const [types, flows] = await Promise.all([get('/api/crm/admin/ticket-types'), get('/api/crm/admin/workflows/ticket')]);
  const flowName = (id) => bilingual((flows.find((f) => f.id === id) || {}).name || '');
  const slot = h('div', { id: 'type-form' });
  return h('div', { class: 'crm-grid' },
    section('admin.type.title',
      h('div', { class: 'buttons' },
        h('button', { type: 'button', class: 'primary', id: 'new-type', onclick: () => typeForm(slot, flows, null) },
          t('admin.type.new')),
        h('a', { href: '#/workflows/ticket', class: 'button' }, t('admin.nav.ticket_workflows'))),
      table([
        ['admin.type.code', (r) => r.code], ['admin.type.name', (r) => bilingual(r.name)],
        ['admin.type.sla_hours', (r) => t('admin.type.hours', { hours: r.sla_hours })],
        ['admin.type.workflow', (r) => flowName(r.workflow_id)],
        ['admin.edit', (r) => h('button', { type: 'button', class: 'edit-item', onclick: () => typeForm(slot, flows, r) },
          t('admin.edit'))],
      ], types)),
    slot);
}

// --- workflows and their steps -----------------------------------------------------------------------------
function stepRow(kind, step, roleOptions, userOptions, rows) {
  const actionControl = kind === 'order'
    ? choice('action', [['', t('admin.step.pick_action')], ...ORDER_ACTIONS.map((a) => [a, t(`admin.step.action.${a}`)])],
      step.action)
    : input('action', step.action, { maxlength: 30, placeholder: t('admin.step.action_hint') });
  const tr = h('tr', { class: 'step-row', dataset: { id: step.id ?? '' } },
    h('td', { class: 'num step-number' }),
    h('td', {}, nameInput('name', step.name, { maxlength: 100 })),
    h('td', {}, actionControl),
    h('td', {}, choice('assignee_role_id', roleOptions, step.assignee_role_id)),
    h('td', {}, choice('assignee_user_id', userOptions, step.assignee_user_id)),
    h('td', { class: 'step-moves' },
      h('button', { type: 'button', class: 'up', title: t('admin.step.up'), onclick: () => move(rows, tr, -1) }, '↑'),
      h('button', { type: 'button', class: 'down', title: t('admin.step.down'), onclick: () => move(rows, tr, 1) }, '↓'),
      h('button', { type: 'button', class: 'remove', title: t('admin.step.remove'), onclick: () => { tr.remove(); renumber(rows); } },
        '✕')));
  for (const control of tr.querySelectorAll('input, select')) control.removeAttribute('id');
  return tr;
}

function move(rows, tr, by) {
  const sibling = by < 0 ? tr.previousElementSibling : tr.nextElementSibling;
  if (sibling) (by < 0 ? sibling.before(tr) : sibling.after(tr));
  renumber(rows);
}

function renumber(rows) {
  [...rows.children].forEach((tr, i) => { tr.querySelector('.step-number').textContent = String(i + 1); });
}

// A refusal names steps.<i>.<field>: mark that row's control.
function markStep(rows, error) {
  for (const old of rows.querySelectorAll('[aria-invalid]')) old.removeAttribute('aria-invalid');
  for (const item of (error && Array.isArray(error.detail) ? error.detail : [])) {
    const [, , index, name] = item.loc || [];
    const control = rows.children[index]?.querySelector(`[name="${name}"]`);
    if (control) control.setAttribute('aria-invalid', 'true');
  }
}

async function stepsEditor(flow, roles, users) {
  const roleOptions = [['', t('admin.step.no_role')], ...roles.map((r) => [r.id, bilingual(r.title || r.name)])];
  const userOptions = [['', t('admin.step.no_user')], ...users.map((u) => [u.id, u.display_name || u.username])];
  const rows = h('tbody', {});
  for (const step of flow.steps) rows.append(stepRow(flow.kind, step, roleOptions, userOptions, rows));
  renumber(rows);
  const add = () => { rows.append(stepRow(flow.kind, { name: '', action: '' }, roleOptions, userOptions, rows)); renumber(rows); };
  const save = () => run(async () => {
    const steps = [...rows.children].map((tr) => ({
      id: tr.dataset.id ? Number(tr.dataset.id) : null,
      name: nameValue(tr.querySelector('[name=name]')),
      action: tr.querySelector('[name=action]').value.trim(),
      assignee_role_id: num(tr.querySelector('[name=assignee_role_id]').value),
      assignee_user_id: num(tr.querySelector('[name=assignee_user_id]').value),
    }));
    try {
      await send('PUT', `/api/crm/admin/workflows/${flow.id}/steps`, { steps });
    } catch (error) {
      markStep(rows, error);
      throw error;
    }
    flash(t('admin.saved', { name: bilingual(flow.name) }));
    go(`workflows/${flow.kind}/${flow.id}`);
  });
  return h('div', { class: 'steps-editor', dataset: { workflow: flow.id } },
    h('table', { class: 'list crm-table steps-table' },
      h('thead', {}, h('tr', {}, ['admin.step.number', 'admin.step.name', 'admin.step.action_label', 'admin.step.role',
        'admin.step.user', ''].map((key) => h('th', {}, key ? t(key) : '')))),
      rows),
    h('div', { class: 'buttons' },
      h('button', { type: 'button', id: 'add-step', onclick: add }, t('admin.step.add')),
      h('button', { type: 'button', class: 'primary', id: 'save-steps', onclick: save }, t('admin.step.save'))));
}

function newFlowForm(kind) {
  return adminForm([
    field('name', input('name', '', { maxlength: 100 }), 'admin.flow.name'),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary', id: 'create-flow' }, t('admin.flow.create'))),
  ], async (form) => {
    const saved = await send('POST', '/api/crm/admin/workflows', { name: form.elements.name.value.trim(), kind });
    flash(t('admin.saved', { name: bilingual(saved.name) }));
    go(`workflows/${kind}/${saved.id}`);
  }, { required: ['name'] });
}

export async function workflows(kind, chosen) {
  const [flows, roles, users] = await Promise.all([
    get(`/api/crm/admin/workflows/${kind}`), get('/api/crm/admin/roles'), get('/api/crm/admin/users?size=200'),
  ]);
  const flow = flows.find((f) => f.id === chosen) || flows[0];
  return h('div', { class: 'crm-grid' },
    section(`admin.flow.title_${kind}`,
      h('nav', { class: 'tabs' }, ['ticket', 'order'].map((k) => h('a', {
        href: `#/workflows/${k}`, 'aria-current': k === kind ? 'page' : 'false',
      }, t(`admin.flow.title_${k}`)))),
      h('ul', { class: 'flow-list' }, flows.map((f) => h('li', {},
        h('a', { href: `#/workflows/${kind}/${f.id}`, 'aria-current': f === flow ? 'page' : 'false' }, bilingual(f.name)),
        h('span', { class: 'muted' }, ` ${t('admin.flow.steps', { count: f.steps.length })}`)))),
      section('admin.flow.new', newFlowForm(kind))),
    flow ? section('admin.flow.steps_title', h('p', { class: 'muted' }, bilingual(flow.name)),
      h('p', { class: 'muted' }, t('admin.flow.hint')),
      await stepsEditor(flow, roles, users.items || users)) : null);
}

// --- opportunity stages ------------------------------------------------------------------------------------
function stageForm(slot, row) {
  const closed = row && row.outcome !== 'open';
  const formEl = adminForm([
    field('name', nameInput('name', row?.name, { maxlength: 50 }), 'admin.stage.name'),
    field('probability', input('probability', row ? row.probability : 20, { type: 'number', min: 0, max: 100, disabled: closed }),
      'admin.stage.probability'),
    field('outcome', choice('outcome', ['open', 'won', 'lost'].map((o) => [o, t(`admin.stage.outcome.${o}`)]),
      row ? row.outcome : 'open'), 'admin.stage.outcome_label'),
    saveButtons('stages'),
  ], async (form) => {
    const raw = form.elements.probability.value.trim();
    const body = {
      name: nameValue(form.elements.name), outcome: form.elements.outcome.value,
      probability: /^\d+$/.test(raw) ? Number(raw) : raw,
    };
    const saved = row ? await send('PATCH', `/api/crm/admin/opportunity-stages/${row.id}`, body)
      : await send('POST', '/api/crm/admin/opportunity-stages', body);
    flash(t('admin.saved', { name: bilingual(saved.name) }));
    go('stages');
  }, { required: ['name'] });
  slot.replaceChildren(section(row ? 'admin.stage.edit' : 'admin.stage.new', formEl));
}

export async function stages() {
  const rows = await get('/api/crm/admin/opportunity-stages');
  const slot = h('div', { id: 'stage-form' });
  const reorder = (row, by) => run(async () => {
    const ids = rows.map((s) => s.id);
    const at = ids.indexOf(row.id);
    if (at + by < 0 || at + by >= ids.length) return;
    [ids[at], ids[at + by]] = [ids[at + by], ids[at]];
    await send('PUT', '/api/crm/admin/opportunity-stages/order', { ids });
    go('stages');
  });
  return h('div', { class: 'crm-grid' },
    section('admin.stage.title',
      h('p', { class: 'muted' }, t('admin.stage.hint')),
      h('div', { class: 'buttons' }, h('button', {
        type: 'button', class: 'primary', id: 'new-stage', onclick: () => stageForm(slot, null),
      }, t('admin.stage.new'))),
      table([
        ['admin.stage.position', (r) => String(r.position)],
        ['admin.stage.name', (r) => bilingual(r.name)],
        ['admin.stage.probability', (r) => `${r.probability}%`],
        ['admin.stage.outcome_label', (r) => t(`admin.stage.outcome.${r.outcome}`)],
        ['admin.stage.order', (r) => [
          h('button', { type: 'button', class: 'up', title: t('admin.step.up'), onclick: () => reorder(r, -1) }, '↑'),
          h('button', { type: 'button', class: 'down', title: t('admin.step.down'), onclick: () => reorder(r, 1) }, '↓')]],
        ['admin.edit', (r) => h('button', { type: 'button', class: 'edit-item', onclick: () => stageForm(slot, r) },
          t('admin.edit'))],
      ], rows)),
    slot);
}

// --- seats -------------------------------------------------------------------------------------------------
function seatForm(slot, departments, row) {
  const formEl = adminForm([
    field('name', input('name', row?.name, { maxlength: 50, placeholder: 'A-01' }), 'admin.seat.name'),
    field('extension', input('extension', row?.extension, { maxlength: 20, inputmode: 'numeric' }), 'admin.seat.extension'),
    field('department_id', choice('department_id', [['', t('admin.seat.no_department')],
      ...departments.map((d) => [d.id, bilingual(d.name)])], row?.department_id), 'admin.seat.department'),
    row && row.user_id ? h('label', { class: 'field' }, h('input', { type: 'checkbox', name: 'unbind' }), ' ',
      t('admin.seat.unbind', { name: row.user_name })) : null,
    saveButtons('seats'),
  ], async (form) => {
    const body = {
      name: form.elements.name.value.trim(), extension: form.elements.extension.value.trim(),
      department_id: num(form.elements.department_id.value),
    };
    if (form.elements.unbind && form.elements.unbind.checked) body.user_id = null;
    const saved = row ? await send('PATCH', `/api/crm/admin/seats/${row.id}`, body)
      : await send('POST', '/api/crm/admin/seats', body);
    flash(t('admin.saved', { name: saved.name }));
    go('seats');
  }, { required: ['name', 'extension'] });
  slot.replaceChildren(section(row ? 'admin.seat.edit' : 'admin.seat.new', formEl));
}

export async function seats() {
  const [rows, departments] = await Promise.all([get('/api/crm/admin/seats'), get('/api/crm/departments?size=200')]);
  const items = departments.items || departments;
  const deptName = (id) => bilingual((items.find((d) => d.id === id) || {}).name || '');
  const slot = h('div', { id: 'seat-form' });
  return h('div', { class: 'crm-grid' },
    section('admin.seat.title',
      h('div', { class: 'buttons' }, h('button', {
        type: 'button', class: 'primary', id: 'new-seat', onclick: () => seatForm(slot, items, null),
      }, t('admin.seat.new'))),
      table([
        ['admin.seat.name', (r) => r.name], ['admin.seat.extension', (r) => r.extension],
        ['admin.seat.department', (r) => deptName(r.department_id)],
        ['admin.seat.agent', (r) => r.user_name || t('admin.seat.free')],
        ['admin.edit', (r) => h('button', { type: 'button', class: 'edit-item', onclick: () => seatForm(slot, items, r) },
          t('admin.edit'))],
      ], rows)),
    slot);
}
