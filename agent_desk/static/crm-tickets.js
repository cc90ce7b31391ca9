// Tickets (work orders): the list with filters (type, status, priority, assignee, overdue), a new ticket,
// and the ticket page: its workflow step, due time, note with pass on / send back / close, follow-up
// visit, attachments and the full history.
import { t } from '/static/i18n.js';
import { api, get, post } from '/static/api.js';
import { h } from '/static/dom.js';
import { formatTime, fromBusinessTime } from '/static/time.js';
import { upload, exportButtons } from '/static/crm-customers.js';
import {
  PAGE_SIZE, session, go, qs, when, bilingual, label, userName, optional, action, field, details, select, form,
  section, table, filterBar, link, badge, customerNames, customerLink, workflowSteps, stepName, stepTrack,
  saveButtons, customerField, listSection,
} from '/static/crm.js';

const BASE = 'tickets';
export const STATUSES = ['open', 'in_progress', 'returned', 'resolved', 'closed'];
const OPEN = 'open,in_progress,returned';
const PRIORITIES = ['low', 'normal', 'high', 'urgent'];
const SORTS = ['id', 'due_at', 'priority', 'status', 'created_at'];

let typeList = null;
export function ticketTypes() {
  typeList = typeList || get('/api/crm/ticket-types?size=200').then((found) => found.items);
  return typeList;
}

// Naive UTC, as the server keeps times.
function utcText(date) {
  return date.toISOString().slice(0, 19);
}

export function overdue(ticket) {
  return Boolean(ticket.due_at) && !['resolved', 'closed'].includes(ticket.status)
    && new Date(`${ticket.due_at}Z`) < new Date();
}

function dueCell(ticket) {
  return h('span', { class: overdue(ticket) ? 'status-bad' : null }, when(ticket.due_at),
    overdue(ticket) ? [' ', badge(t('crm.ticket.overdue'), 'bad')] : null);
}

function listQuery(params) {
  const query = {
    page: params.page || 1, size: PAGE_SIZE, sort: params.sort || '-id', q: params.q,
    type_id: params.type, status: params.status, priority: params.priority,
    assignee_id: params.assignee === 'me' ? session.me.id : params.assignee,
    customer_id: params.customer,
  };
  if (params.overdue) {
    query.due_at__lte = utcText(new Date());
    if (!params.status) query.status__in = OPEN;
  }
  return query;
}

export async function list(params) {
  if (params.sort && !SORTS.includes(params.sort.replace(/^-/, ''))) params.sort = '';
  const [types, found] = await Promise.all([ticketTypes(), get(`/api/crm/tickets${qs(listQuery(params))}`)]);
  const names = await customerNames(found.items);
  const typeName = (id) => bilingual((types.find((x) => x.id === id) || {}).name || '');
  const users = [...session.users.values()].map((u) => [u.id, u.display_name || u.username]);
  const bar = filterBar(params, BASE, [
    h('input', { name: 'q', type: 'search', value: params.q || '', placeholder: t('crm.ticket.search_hint') }),
    select('type', [['', t('crm.ticket.any_type')], ...types.map((x) => [x.id, bilingual(x.name)])], params.type),
    select('status', [['', t('crm.filter.any_status')], ...STATUSES.map((s) => [s, label('ticket_status', s)])],
      params.status),
    select('priority', [['', t('crm.ticket.any_priority')], ...PRIORITIES.map((p) => [p, t(`priority.${p}`)])],
      params.priority),
    select('assignee', [['', t('crm.ticket.any_assignee')], ['me', t('crm.ticket.mine')], ...users], params.assignee),
    h('label', {}, h('input', { type: 'checkbox', name: 'overdue', checked: Boolean(params.overdue) }), ' ',
      t('crm.ticket.overdue_only')),
  ]);
  const columns = [
    { label: 'crm.ticket.id', sort: 'id', class: 'num', render: (x) => x.id },
    { label: 'crm.ticket.subject', render: (x) => link(`tickets/${x.id}`, x.title) },
    { label: 'crm.ticket.type', render: (x) => typeName(x.type_id) },
    { label: 'crm.ticket.customer', render: (x) => customerLink(names, x.customer_id) },
    { label: 'crm.ticket.status', sort: 'status', render: (x) => label('ticket_status', x.status) },
    { label: 'crm.ticket.priority', sort: 'priority', render: (x) => t(`priority.${x.priority}`) },
    { label: 'crm.ticket.assignee', render: (x) => userName(x.assignee_id) },
    { label: 'crm.ticket.due_at', sort: 'due_at', render: dueCell },
  ];
  return listSection(BASE, 'ticket', { found, params, columns, bar, buttons: exportButtons('tickets', listQuery(params)) });
}

// --- new ticket ----------------------------------------------------------------------------------------
export async function create(params) {
  const customerId = params.customer ? Number(params.customer) : null;
  const [types, customer] = await Promise.all([
    ticketTypes(),
    customerId ? get(`/api/crm/customers/${customerId}`) : Promise.resolve(null),
  ]);
  const save = async (v) => {
    const created = await post('/api/crm/tickets', {
      title: v.title, description: v.description, type_id: Number(v.type_id), priority: v.priority,
      customer_id: v.customer_id ? Number(v.customer_id) : null,
    });
    go(`tickets/${created.id}`);
  };
  return section('crm.ticket.new',
    form({ class: 'crm-form', id: 'ticket-form' }, [
      customerField('crm.ticket.customer', customer),
      field('crm.ticket.subject', h('input', { name: 'title', required: true, maxlength: 200 })),
      field('crm.ticket.type', select('type_id', types.map((x) => [x.id, bilingual(x.name)]))),
      field('crm.ticket.priority', select('priority', PRIORITIES.map((p) => [p, t(`priority.${p}`)]), 'normal')),
      field('crm.ticket.description', h('textarea', { name: 'description', rows: 4, maxlength: 20000 })),
      saveButtons(),
    ], save, { rerender: false }));
}

// --- ticket page ---------------------------------------------------------------------------------------
function workflowPanel(ticket, steps) {
  const finished = ['resolved', 'closed'].includes(ticket.status);
  const note = h('textarea', { id: 'step-note', rows: 3, maxlength: 5000, placeholder: t('crm.ticket.note_hint') });
  const step = (op) => action(() => post(`/api/crm/tickets/${ticket.id}/${op}`, { note: note.value.trim() }));
  // step_position is a step's number (1, 2, 3 or 0, 1, 2 ...), not its place in the list.
  const last = steps.length && ticket.step_position >= steps[steps.length - 1].position;
  return section('crm.ticket.workflow',
    steps.length ? stepTrack(steps, ticket.step_position, finished) : null,
    h('p', { class: 'current-step' }, finished
      ? t('crm.ticket.finished', { status: label('ticket_status', ticket.status) })
      : t('crm.ticket.at_step', { step: stepName(steps, ticket.step_position), who: userName(ticket.assignee_id)
        || t('crm.ticket.role_queue') })),
    ticket.status === 'closed' ? null : [
      note,
      h('div', { class: 'buttons' },
        finished ? null : h('button', { type: 'button', class: 'primary', id: 'pass-on', onclick: step('pass') },
          t(last ? 'crm.ticket.resolve' : 'crm.ticket.pass')),
        finished ? null : h('button', {
          type: 'button', id: 'send-back', disabled: !steps.length || ticket.step_position === steps[0].position, onclick: step('return'),
        }, t('crm.ticket.send_back')),
        h('button', { type: 'button', id: 'add-note', onclick: step('notes') }, t('crm.ticket.add_note')),
        h('button', { type: 'button', class: 'danger', onclick: step('close') }, t('crm.ticket.close'))),
    ]);
}

function duePanel(ticket) {
  // the inputs read and write the business zone's wall clock (time.js), like every time shown
  const local = (iso) => (iso ? formatTime(iso, 'minutes').replace(' ', 'T') : '');
  return section('crm.ticket.times',
    form({ class: 'inline-form' }, [
      field('crm.ticket.due_at', h('input', { type: 'datetime-local', name: 'due_at', value: local(ticket.due_at), required: true })),
      h('button', { type: 'submit' }, t('crm.action.save')),
    ], (v) => api('PATCH', `/api/crm/tickets/${ticket.id}`, { due_at: utcText(fromBusinessTime(v.due_at)) })),
    form({ class: 'inline-form' }, [
      field('crm.ticket.visit_at', h('input', { type: 'datetime-local', name: 'at', value: local(ticket.followup_at) })),
      h('input', { name: 'note', maxlength: 5000, placeholder: t('crm.ticket.visit_note'), value: ticket.followup_note || '' }),
      h('button', { type: 'submit' }, t('crm.ticket.visit_save')),
    ], (v) => post(`/api/crm/tickets/${ticket.id}/visit`, { at: v.at ? utcText(fromBusinessTime(v.at)) : null, note: v.note })));
}

function historyPanel(events, steps) {
  return section('crm.ticket.history', table([
    { label: 'crm.history.at', render: (e) => when(e.at) },
    { label: 'crm.history.user', render: (e) => userName(e.user_id) },
    { label: 'crm.history.action', render: (e) => label('ticket_action', e.action) },
    { label: 'crm.history.step', render: (e) => [stepName(steps, e.from_step), e.to_step !== null && e.to_step !== e.from_step
      ? ` → ${stepName(steps, e.to_step)}` : ''] },
    { label: 'crm.history.note', key: 'note' },
  ], events));
}

function attachmentsPanel(ticket, files) {
  const input = h('input', { type: 'file', name: 'file', required: true });
  return section('crm.ticket.attachments',
    files && files.length ? h('ul', { class: 'items' }, files.map((f) => h('li', {},
      h('a', { href: `/api/crm/tickets/${ticket.id}/attachments/${f.id}`, download: f.filename }, f.filename),
      h('span', { class: 'muted' }, `${Math.ceil(f.size / 1024)} KB`)))) : null,
    form({ class: 'inline-form' }, [input, h('button', { type: 'submit' }, t('crm.ticket.attach'))],
      () => {
        const data = new FormData();
        data.append('file', input.files[0]);
        return upload(`/api/crm/tickets/${ticket.id}/attachments`, data, 'json');
      }));
}

export async function page(params, id) {
  const ticket = await get(`/api/crm/tickets/${id}`);
  const [events, steps, types, customer, files] = await Promise.all([
    get(`/api/crm/tickets/${id}/history`),
    workflowSteps(ticket.workflow_id),
    ticketTypes(),
    ticket.customer_id ? optional(get(`/api/crm/customers/${ticket.customer_id}`)) : null,
    optional(get(`/api/crm/tickets/${id}/attachments`), []),
  ]);
  const type = types.find((x) => x.id === ticket.type_id);
  return h('div', { class: 'crm-card', dataset: { ticket: ticket.id, status: ticket.status, step: ticket.step_position } },
    h('div', { class: 'card-head' },
      h('h1', {}, t('crm.ticket.heading', { id: ticket.id }), ' ', ticket.title),
      badge(label('ticket_status', ticket.status), 'ticket-status'),
      badge(t(`priority.${ticket.priority}`)),
      overdue(ticket) ? badge(t('crm.ticket.overdue'), 'bad') : null),
    h('div', { class: 'crm-grid' },
      section('crm.ticket.details', details([
        ['crm.ticket.type', type ? bilingual(type.name) : ''],
        ['crm.ticket.customer', customer ? link(`customers/${customer.id}`, customer.name) : ''],
        ['crm.ticket.assignee', userName(ticket.assignee_id)],
        ['crm.ticket.owner', userName(ticket.owner_id)],
        ['crm.ticket.created_at', when(ticket.created_at)],
        ['crm.ticket.due_at', dueCell(ticket)],
        ['crm.ticket.visit_at', when(ticket.followup_at)],
        ['crm.ticket.description', ticket.description],
      ])),
      workflowPanel(ticket, steps),
      duePanel(ticket),
      attachmentsPanel(ticket, files),
      historyPanel(events, steps)));
}
