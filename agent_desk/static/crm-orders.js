// Orders: the list, a new order with its lines, and the order page: lines, the approval workflow
// (review, manager review, shipping with carrier and tracking number, payment, receipt, follow-up),
// send back, void, abnormal flag, returns and exchanges, and the history.
import { t } from '/static/i18n.js';
import { get, post } from '/static/api.js';
import { h } from '/static/dom.js';
import {
  PAGE_SIZE, go, qs, when, label, userName, optional, action, field, details, select, form, section, table,
  filterBar, link, badge, customerNames, customerLink, workflowSteps, stepName, stepTrack, saveButtons,
  customerField, listSection,
} from '/static/crm.js';

const BASE = 'orders';
const STATUSES = ['draft', 'in_approval', 'completed', 'void', 'returned'];
const SORTS = ['id', 'number', 'total', 'status', 'created_at'];

async function productNames(ids) {
  const wanted = [...new Set(ids)].filter((id) => id !== null && id !== undefined);
  if (!wanted.length) return new Map();
  const found = await optional(get(`/api/crm/products${qs({ id__in: wanted.join(','), size: 200 })}`), { items: [] });
  return new Map(found.items.map((p) => [p.id, p.name]));
}

function activeProducts() {
  return optional(get('/api/crm/products?is_active=true&size=200'), { items: [] }).then((found) => found.items);
}

export async function list(params) {
  if (params.sort && !SORTS.includes(params.sort.replace(/^-/, ''))) params.sort = '';
  const found = await get(`/api/crm/orders${qs({
    page: params.page || 1, size: PAGE_SIZE, sort: params.sort || '-id', q: params.q,
    status: params.status, abnormal: params.abnormal ? 'true' : '', customer_id: params.customer,
  })}`);
  const workflows = [...new Set(found.items.map((o) => o.workflow_id))];
  const [names, stepLists] = await Promise.all([
    customerNames(found.items), Promise.all(workflows.map((id) => workflowSteps(id))),
  ]);
  const stepsOf = new Map(workflows.map((id, i) => [id, stepLists[i]]));
  const bar = filterBar(params, BASE, [
    h('input', { name: 'q', type: 'search', value: params.q || '', placeholder: t('crm.order.search_hint') }),
    select('status', [['', t('crm.filter.any_status')], ...STATUSES.map((s) => [s, label('order_status', s)])],
      params.status),
    h('label', {}, h('input', { type: 'checkbox', name: 'abnormal', checked: Boolean(params.abnormal) }), ' ',
      t('crm.order.abnormal_only')),
  ]);
  const columns = [
    { label: 'crm.order.number', sort: 'number', render: (o) => link(`orders/${o.id}`, o.number) },
    { label: 'crm.order.customer', render: (o) => customerLink(names, o.customer_id) },
    { label: 'crm.order.status', sort: 'status', render: (o) => [label('order_status', o.status),
      o.abnormal ? [' ', badge(t('crm.order.abnormal'), 'bad')] : null] },
    { label: 'crm.order.step', render: (o) => (o.status === 'in_approval'
      ? stepName(stepsOf.get(o.workflow_id) || [], o.step_position) : '') },
    { label: 'crm.order.total', sort: 'total', class: 'num', key: 'total' },
    { label: 'crm.order.owner', render: (o) => userName(o.owner_id) },
    { label: 'crm.order.created_at', sort: 'created_at', render: (o) => when(o.created_at) },
  ];
  return listSection(BASE, 'order', { found, params, columns, bar });
}

// --- new order -----------------------------------------------------------------------------------------
function lineRow(products) {
  const row = h('div', { class: 'order-line inline-form' },
    select('product_id', products.map((p) => [p.id, `${p.name} · ${p.price}`])),
    h('input', { name: 'quantity', type: 'number', min: 1, value: 1, required: true, 'aria-label': t('crm.order.quantity') }),
    h('input', { name: 'unit_price', type: 'number', min: 0, step: '0.01', placeholder: t('crm.order.unit_price_hint') }),
    h('button', { type: 'button', class: 'link', onclick: () => row.remove() }, t('crm.action.remove')));
  return row;
}

export async function create(params) {
  const customerId = params.customer ? Number(params.customer) : null;
  const [products, customer] = await Promise.all([
    activeProducts(), customerId ? get(`/api/crm/customers/${customerId}`) : Promise.resolve(null),
  ]);
  const lines = h('div', { class: 'order-lines' }, lineRow(products));
  const save = async (v, formEl) => {
    const rows = [...formEl.querySelectorAll('.order-line')].map((row) => ({
      product_id: Number(row.querySelector('[name=product_id]').value),
      quantity: Number(row.querySelector('[name=quantity]').value),
      unit_price: row.querySelector('[name=unit_price]').value || null,
    }));
    const created = await post('/api/crm/orders', {
      customer_id: Number(v.customer_id), shipping_address: v.shipping_address, notes: v.notes, lines: rows,
    });
    go(`orders/${created.id}`);
  };
  return section('crm.order.new',
    form({ class: 'crm-form', id: 'order-form' }, [
      customerField('crm.order.customer', customer, true),
      h('div', { class: 'field' }, h('span', { class: 'field-label' }, t('crm.order.lines')), lines,
        h('button', { type: 'button', onclick: () => lines.append(lineRow(products)) }, t('crm.order.add_line'))),
      field('crm.order.shipping_address', h('input', { name: 'shipping_address', maxlength: 300 })),
      field('crm.order.notes', h('textarea', { name: 'notes', rows: 2, maxlength: 5000 })),
      saveButtons(),
    ], save, { rerender: false }));
}

// --- order page ----------------------------------------------------------------------------------------
// The fields the current step asks for (shipping: carrier and tracking number; payment: the amount).
function stepFields(order, stepAction) {
  if (stepAction === 'shipping') {
    return [
      field('crm.order.carrier', h('input', { name: 'carrier', required: true, maxlength: 50 })),
      field('crm.order.tracking_number', h('input', { name: 'tracking_number', required: true, maxlength: 50 })),
    ];
  }
  if (stepAction === 'payment') {
    return field('crm.order.paid_amount',
      h('input', { name: 'paid_amount', type: 'number', step: '0.01', min: 0, required: true, value: order.total }));
  }
  return null;
}

function workflowPanel(order, steps) {
  const url = (op) => `/api/crm/orders/${order.id}/${op}`;
  const current = steps.find((s) => s.position === order.step_position);
  const inApproval = order.status === 'in_approval';
  const finished = ['completed', 'returned'].includes(order.status);
  const voidable = !order.shipped_at && ['draft', 'in_approval'].includes(order.status);
  const approve = (v) => post(url('approve'), {
    note: v.note || '', carrier: v.carrier || '', tracking_number: v.tracking_number || '',
    paid_amount: v.paid_amount || null,
  });
  const sendBack = (formEl) => action(() => post(url('return'), { note: formEl.note.value.trim() }));
  const stepForm = inApproval && current ? form({ class: 'crm-form', id: 'step-form' }, [
    stepFields(order, current.action),
    field(current.action === 'followup' ? 'crm.order.followup_note' : 'crm.order.step_note',
      h('textarea', { name: 'note', rows: 2, maxlength: 5000, required: current.action === 'followup' })),
  ], approve) : null;
  if (stepForm) {
    stepForm.append(h('div', { class: 'buttons' },
      h('button', { type: 'submit', class: 'primary', id: 'approve' },
        t('crm.order.complete_step', { step: stepName(steps, order.step_position) })),
      h('button', { type: 'button', id: 'order-send-back', onclick: () => sendBack(stepForm)() }, t('crm.order.send_back'))));
  }
  return section('crm.order.workflow',
    steps.length && order.status !== 'draft' ? stepTrack(steps, order.step_position, finished) : null,
    h('p', { class: 'current-step' }, inApproval
      ? t('crm.order.at_step', { step: stepName(steps, order.step_position) })
      : label('order_status', order.status)),
    order.status === 'draft' ? h('button', {
      type: 'button', class: 'primary', id: 'submit-order', onclick: action(() => post(url('submit'))),
    }, t('crm.order.submit')) : null,
    stepForm,
    exceptionForm(order, voidable));
}

// Void (a reason is required) and the abnormal flag, with one reason box for both.
function exceptionForm(order, voidable) {
  const url = (op) => `/api/crm/orders/${order.id}/${op}`;
  return form({ class: 'inline-form', id: 'order-exception' }, [
    h('input', { name: 'reason', maxlength: 300, class: 'wide', placeholder: t('crm.order.reason_hint') }),
    voidable ? h('button', { type: 'submit', name: 'op', value: 'void', class: 'danger' }, t('crm.order.void')) : null,
    h('button', { type: 'submit', name: 'op', value: 'abnormal' },
      t(order.abnormal ? 'crm.order.clear_abnormal' : 'crm.order.mark_abnormal')),
  ], async (v) => {
    const reason = v.reason.trim();
    if (v.op !== 'void') return post(url('abnormal'), { abnormal: !order.abnormal, reason });
    if (!reason) throw new Error(t('crm.order.void_needs_reason'));
    return post(url('void'), { reason });
  });
}

function returnForm(order, line, products) {
  const replacement = select('replacement_product_id', [['', t('crm.order.no_replacement')],
    ...products.map((p) => [p.id, p.name])]);
  return form({ class: 'inline-form return-form' }, [
    select('kind', [['return', t('crm.order.kind_return')], ['exchange', t('crm.order.kind_exchange')]]),
    h('input', { name: 'quantity', type: 'number', min: 1, max: line.quantity - line.returned_quantity, value: 1,
      'aria-label': t('crm.order.quantity') }),
    replacement,
    h('input', { name: 'reason', maxlength: 300, placeholder: t('crm.order.return_reason') }),
    h('button', { type: 'submit' }, t('crm.order.request_return')),
  ], (v) => post(`/api/crm/orders/${order.id}/returns`, {
    order_line_id: line.id, quantity: Number(v.quantity), kind: v.kind, reason: v.reason,
    replacement_product_id: v.replacement_product_id ? Number(v.replacement_product_id) : null,
  }));
}

function linesPanel(order, names, products) {
  const returnable = order.shipped_at && !['void', 'returned'].includes(order.status);
  return section('crm.order.lines', table([
    { label: 'crm.order.product', render: (l) => names.get(l.product_id) || `#${l.product_id}` },
    { label: 'crm.order.quantity', key: 'quantity', class: 'num' },
    { label: 'crm.order.unit_price', key: 'unit_price', class: 'num' },
    { label: 'crm.order.amount', key: 'amount', class: 'num' },
    { label: 'crm.order.returned', key: 'returned_quantity', class: 'num' },
    { label: 'crm.order.return_exchange', render: (l) => (returnable && l.quantity > l.returned_quantity
      ? returnForm(order, l, products) : '') },
  ], order.lines));
}

function returnsPanel(returns, names) {
  const decide = (r, accept) => action(() => post(`/api/crm/order-returns/${r.id}/decide`, { accept, note: '' }));
  return section('crm.order.returns', table([
    { label: 'crm.order.return_kind', render: (r) => t(r.kind === 'exchange' ? 'crm.order.kind_exchange' : 'crm.order.kind_return') },
    { label: 'crm.order.quantity', key: 'quantity', class: 'num' },
    { label: 'crm.order.replacement', render: (r) => (r.replacement_product_id ? names.get(r.replacement_product_id)
      || `#${r.replacement_product_id}` : '') },
    { label: 'crm.order.refund', key: 'refund_amount', class: 'num' },
    { label: 'crm.order.return_reason', key: 'reason' },
    { label: 'crm.order.status', render: (r) => label('return_status', r.status) },
    { label: 'crm.order.actions', render: (r) => [
      r.status === 'requested' ? [
        h('button', { type: 'button', onclick: decide(r, true) }, t('crm.order.approve_return')),
        h('button', { type: 'button', onclick: decide(r, false) }, t('crm.order.reject_return'))] : null,
      r.status === 'approved' ? h('button', {
        type: 'button', onclick: action(() => post(`/api/crm/order-returns/${r.id}/receive`)),
      }, t('crm.order.receive_return')) : null] },
  ], returns));
}

function historyPanel(events, steps) {
  return section('crm.order.history', table([
    { label: 'crm.history.at', render: (e) => when(e.at) },
    { label: 'crm.history.user', render: (e) => userName(e.user_id) },
    { label: 'crm.history.action', render: (e) => label('order_action', e.action) },
    { label: 'crm.history.step', render: (e) => (e.to_step !== null ? stepName(steps, e.to_step) : '') },
    { label: 'crm.history.note', key: 'note' },
  ], events));
}

export async function page(params, id) {
  const order = await get(`/api/crm/orders/${id}/full`);
  const [events, steps, customer, returns, products] = await Promise.all([
    get(`/api/crm/orders/${id}/history`),
    workflowSteps(order.workflow_id),
    optional(get(`/api/crm/customers/${order.customer_id}`)),
    optional(get(`/api/crm/order-returns?order_id=${id}&size=100`), { items: [] }).then((f) => f.items),
    activeProducts(),
  ]);
  const names = await productNames([...order.lines.map((l) => l.product_id),
    ...returns.map((r) => r.replacement_product_id)]);
  return h('div', { class: 'crm-card', dataset: { order: order.id, status: order.status, step: order.step_position } },
    h('div', { class: 'card-head' },
      h('h1', {}, t('crm.order.heading', { number: order.number })),
      badge(label('order_status', order.status), 'order-status'),
      order.abnormal ? badge(t('crm.order.abnormal'), 'bad') : null),
    h('div', { class: 'crm-grid' },
      section('crm.order.details', details([
        ['crm.order.customer', customer ? link(`customers/${customer.id}`, customer.name) : `#${order.customer_id}`],
        ['crm.order.total', order.total],
        ['crm.order.owner', userName(order.owner_id)],
        ['crm.order.created_at', when(order.created_at)],
        ['crm.order.shipping_address', order.shipping_address],
        ['crm.order.carrier', order.carrier],
        ['crm.order.tracking_number', order.tracking_number],
        ['crm.order.shipped_at', when(order.shipped_at)],
        ['crm.order.paid_amount', order.paid_at ? order.paid_amount : ''],
        ['crm.order.received_at', when(order.received_at)],
        ['crm.order.followup_note', order.followup_note],
        ['crm.order.abnormal_reason', order.abnormal_reason],
        ['crm.order.void_reason', order.void_reason],
        ['crm.order.notes', order.notes],
      ])),
      workflowPanel(order, steps),
      linesPanel(order, names, products),
      returns.length ? returnsPanel(returns, names) : null,
      historyPanel(events, steps)));
}
