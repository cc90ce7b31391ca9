// Orders: the list, a new order with its lines, and the order page: lines (changed while the order is a draft,
// within each product's price range), the approval workflow (review, manager review, shipping with carrier and
// tracking number, payment, receipt, follow-up), send back, void, abnormal flag, order again (an abnormal or
// voided order as a new draft), returns and exchanges, and the history.
import { t } from '/static/i18n.js';
import { api, get, post, ApiError } from '/static/api.js';
import { h } from '/static/dom.js';
import { exportButtons } from '/static/crm-customers.js';
import {
  PAGE_SIZE, go, qs, when, label, userName, optional, action, field, details, select, form, section, table,
  filterBar, link, badge, customerNames, customerLink, workflowSteps, stepName, stepTrack, saveButtons,
  customerField, listSection, confirmButton, flash, bilingual,
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
  const query = {
    page: params.page || 1, size: PAGE_SIZE, sort: params.sort || '-id', q: params.q,
    status: params.status, abnormal: params.abnormal ? 'true' : '', customer_id: params.customer,
  };
  const found = await get(`/api/crm/orders${qs(query)}`);
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
  return listSection(BASE, 'order', { found, params, columns, bar, buttons: exportButtons('orders', query) });
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
    order.abnormal || order.status === 'void' ? reorderButton(order) : null,
  ], async (v) => {
    const reason = v.reason.trim();
    if (v.op !== 'void') return post(url('abnormal'), { abnormal: !order.abnormal, reason });
    if (!reason) throw new Error(t('crm.order.void_needs_reason'));
    return post(url('void'), { reason });
  });
}

// Order again: a new draft with the same customer and lines; the old order stays as it is.
function reorderButton(order) {
  return confirmButton('crm.order.reorder', 'crm.order.reorder_confirm', async () => {
    const made = await post(`/api/crm/orders/${order.id}/reorder`);
    flash(t('crm.order.reordered', { number: made.number }));
    go(`orders/${made.id}`);
  }, { id: 'reorder', title: t('crm.order.reorder_hint') });
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

function linesTable(order, names, products) {
  const returnable = order.shipped_at && !['void', 'returned'].includes(order.status);
  return table([
    { label: 'crm.order.product', render: (l) => names.get(l.product_id) || `#${l.product_id}` },
    { label: 'crm.order.quantity', key: 'quantity', class: 'num' },
    { label: 'crm.order.unit_price', key: 'unit_price', class: 'num' },
    { label: 'crm.order.amount', key: 'amount', class: 'num' },
    { label: 'crm.order.returned', key: 'returned_quantity', class: 'num' },
    { label: 'crm.order.return_exchange', render: (l) => (returnable && l.quantity > l.returned_quantity
      ? returnForm(order, l, products) : '') },
  ], order.lines);
}

function linesPanel(order, names, products) {
  const panel = section('crm.order.lines', linesTable(order, names, products));
  if (order.status === 'draft') {
    panel.append(h('div', { class: 'buttons' }, h('button', {
      type: 'button', id: 'edit-lines', onclick: () => panel.replaceWith(linesEditor(order, names, products, panel)),
    }, t('crm.order.edit_lines'))));
  }
  return panel;
}

// --- changing a draft's lines ----------------------------------------------------------------------------
// The order rules: a unit price within the product's floor and ceiling when it has a ceiling, the retail
// price when left empty, a whole quantity of at least 1. Checked here first, so each refusal stands next to
// its field; what the server still refuses is put next to the field it names.
const MAX_QUANTITY = 1000000;
const cents = (value) => Number(value).toFixed(2);

function priceRange(product) {
  const ceiling = Number(product?.price_ceiling || 0);
  return product && ceiling > 0 ? [Number(product.price_floor || 0), ceiling] : null;
}

function priceHint(product) {
  if (!product) return '';
  const range = priceRange(product);
  const retail = t('crm.order.retail_price', { price: cents(product.price) });
  return range ? `${retail} · ${t('crm.order.price_range', { floor: cents(range[0]), ceiling: cents(range[1]) })}`
    : retail;
}

function fieldError(control, message) {
  control.setAttribute('aria-invalid', 'true');
  control.after(h('p', { class: 'field-error', role: 'alert' }, message));
}

function clearErrors(root) {
  for (const old of root.querySelectorAll('.field-error')) old.remove();
  for (const old of root.querySelectorAll('[aria-invalid]')) old.removeAttribute('aria-invalid');
}

function editRow(catalog, line, changed) {
  const productOf = (id) => catalog.find((p) => p.id === Number(id));
  const choose = select('product_id', catalog.map((p) => [p.id, p.inactive
    ? `${p.name} ${t('crm.order.inactive')}` : p.name]), line.product_id);
  choose.setAttribute('aria-label', t('crm.order.product'));
  const quantity = h('input', { name: 'quantity', type: 'number', min: 1, max: MAX_QUANTITY, step: 1,
    value: line.quantity, 'aria-label': t('crm.order.quantity') });
  const price = h('input', { name: 'unit_price', type: 'number', min: 0, step: '0.01', value: line.unit_price ?? '',
    placeholder: t('crm.order.unit_price_hint'), 'aria-label': t('crm.order.unit_price') });
  const hint = h('small', { class: 'muted price-range' });
  const amount = h('td', { class: 'num line-amount' });
  const row = h('tr', { class: 'edit-line' },
    h('td', {}, choose), h('td', {}, quantity), h('td', {}, price, h('br'), hint), amount,
    h('td', {}, h('button', { type: 'button', class: 'link remove-line', onclick: () => { row.remove(); changed(); } },
      t('crm.action.remove'))));
  row.read = () => {
    const product = productOf(choose.value);
    const text = price.value.trim();
    return { product, quantity: quantity.value.trim(), price: text === '' ? product?.price : text, text };
  };
  row.controls = { product_id: choose, quantity, unit_price: price };
  row.refresh = () => {
    const { product, quantity: q, price: p } = row.read();
    hint.textContent = priceHint(product);
    const value = Number(q) * Number(p);
    amount.textContent = Number.isFinite(value) && q !== '' ? cents(value) : '';
  };
  choose.addEventListener('change', () => { price.value = productOf(choose.value)?.price ?? ''; changed(); });
  quantity.addEventListener('input', changed);
  price.addEventListener('input', changed);
  return row;
}

// The refusals of one row's values, by field (empty when the row is fine).
function rowRefusals({ product, quantity, price, text }) {
  const out = {};
  if (!product) out.product_id = t('crm.order.err_product');
  if (!/^\d+$/.test(quantity) || Number(quantity) < 1 || Number(quantity) > MAX_QUANTITY) {
    out.quantity = t('crm.order.err_quantity', { max: MAX_QUANTITY });
  }
  if (text !== '' && !/^\d+(\.\d{1,2})?$/.test(text)) out.unit_price = t('crm.order.err_price');
  else {
    const range = priceRange(product);
    if (range && !(range[0] <= Number(price) && Number(price) <= range[1])) {
      out.unit_price = t('crm.order.err_price_range', { floor: cents(range[0]), ceiling: cents(range[1]) });
    }
  }
  if (product && product.inactive) out.product_id = t('crm.order.err_inactive');
  return out;
}

// A server refusal names lines.<i>.<field> (the schema) or lines.<field> (the order rules, with the product's
// name in the message): the row it is about gets the message next to that field.
function placeServerRefusals(rows, error) {
  if (!(error instanceof ApiError) || !Array.isArray(error.detail)) return false;
  let placed = false;
  for (const item of error.detail) {
    const path = (item.loc || []).filter((part) => part !== 'body');
    if (path[0] !== 'lines') continue;
    const index = typeof path[1] === 'number' ? path[1] : -1;
    const name = String(path[path.length - 1]);
    const message = item.type === 'value_error' || !item.type ? bilingual(item.msg) : t('crm.order.err_invalid');
    const row = rows[index] || rows.find((r) => r.read().product && String(item.msg).includes(r.read().product.name))
      || rows[0];
    const control = row && row.controls[name];
    if (control) { fieldError(control, message); placed = true; }
  }
  return placed;
}

function linesEditor(order, names, products, viewPanel) {
  const catalog = [...products];
  for (const line of order.lines) {
    if (!catalog.some((p) => p.id === line.product_id)) {
      catalog.push({ id: line.product_id, name: names.get(line.product_id) || `#${line.product_id}`, inactive: true,
        price: line.unit_price });
    }
  }
  const body = h('tbody', {});
  const total = h('output', { class: 'num', id: 'lines-total' });
  const rows = () => [...body.children];
  const changed = () => {
    let sum = 0;
    for (const row of rows()) {
      row.refresh();
      const { quantity, price } = row.read();
      sum += Number(quantity) * Number(price) || 0;
    }
    total.textContent = cents(sum);
  };
  const add = (line) => { body.append(editRow(catalog, line, changed)); changed(); };
  for (const line of order.lines) add(line);
  const addButton = h('button', { type: 'button', id: 'add-line', onclick: () => {
    const first = products[0];
    if (first) add({ product_id: first.id, quantity: 1, unit_price: first.price });
  } }, t('crm.order.add_line'));
  const save = async (_values, formEl) => {
    clearErrors(formEl);
    let refused = false;
    const lines = rows().map((row) => {
      const values = row.read();
      for (const [name, message] of Object.entries(rowRefusals(values))) {
        fieldError(row.controls[name], message);
        refused = true;
      }
      return { product_id: values.product?.id, quantity: Number(values.quantity), unit_price: values.text || null };
    });
    if (!lines.length) {
      fieldError(addButton, t('crm.order.err_no_lines'));
      refused = true;
    }
    if (refused) throw new Error(t('crm.order.err_fields'));
    try {
      const saved = await api('PUT', `/api/crm/orders/${order.id}/lines`, { lines });
      flash(t('crm.order.lines_saved', { total: saved.total }));
    } catch (error) {
      placeServerRefusals(rows(), error);
      throw error;
    }
  };
  const panel = section('crm.order.lines',
    h('p', { class: 'muted' }, t('crm.order.lines_hint')),
    form({ id: 'lines-form', novalidate: true }, [
      h('table', { class: 'list crm-table lines-editor' },
        h('thead', {}, h('tr', {}, ['crm.order.product', 'crm.order.quantity', 'crm.order.unit_price',
          'crm.order.amount', ''].map((key) => h('th', {}, key ? t(key) : '')))),
        body,
        h('tfoot', {}, h('tr', {}, h('th', { colspan: 3 }, t('crm.order.total')), h('td', { class: 'num' }, total),
          h('td')))),
      h('div', { class: 'buttons' }, addButton,
        h('button', { type: 'submit', class: 'primary', id: 'save-lines' }, t('crm.order.save_lines')),
        h('button', { type: 'button', id: 'cancel-lines', onclick: () => panel.replaceWith(viewPanel) },
          t('common.cancel'))),
    ], save));
  panel.classList.add('lines-editing');
  return panel;
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

// The notes the order service writes itself, in the reader's language: a change of lines as product × quantity
// @ price, before and after; ordering again with the other order's number. People's notes stay as written.
const LINE_NOTE = /\((\d+), (\d+), '([^']*)'\)/g;
const linesNote = (text, names) => [...text.matchAll(LINE_NOTE)]
  .map(([, id, quantity, price]) => `${names.get(Number(id)) || `#${id}`} × ${quantity} @ ${cents(price)}`)
  .join(', ');

function eventNote(event, names) {
  const note = event.note || '';
  const change = /^明细修改 lines changed: (.*) -> (.*)$/.exec(note);
  if (event.action === 'edit' && change) {
    return t('crm.order.lines_changed', { before: linesNote(change[1], names), after: linesNote(change[2], names) });
  }
  const again = /^重新下单 ordered again as (\S+)$/.exec(note);
  if (event.action === 'reorder' && again) return t('crm.order.reordered_as', { number: again[1] });
  return note;
}

function noteProductIds(events) {
  return events.filter((e) => e.action === 'edit')
    .flatMap((e) => [...(e.note || '').matchAll(LINE_NOTE)].map((m) => Number(m[1])));
}

function orderNotes(notes) {
  const of = /^重新下单 re-order of (\S+)$/.exec(notes || '');
  return of ? t('crm.order.reorder_of', { number: of[1] }) : notes;
}

function historyPanel(events, steps, names) {
  return section('crm.order.history', table([
    { label: 'crm.history.at', render: (e) => when(e.at) },
    { label: 'crm.history.user', render: (e) => userName(e.user_id) },
    { label: 'crm.history.action', render: (e) => label('order_action', e.action) },
    { label: 'crm.history.step', render: (e) => (e.to_step !== null ? stepName(steps, e.to_step) : '') },
    { label: 'crm.history.note', render: (e) => eventNote(e, names) },
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
    ...returns.map((r) => r.replacement_product_id), ...noteProductIds(events)]);
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
        ['crm.order.notes', orderNotes(order.notes)],
      ])),
      workflowPanel(order, steps),
      linesPanel(order, names, products),
      returns.length ? returnsPanel(returns, names) : null,
      historyPanel(events, steps, names)));
}
