// Quotes and contracts: lists with their actions (send, accept, reject, make the order, print) and the forms
// that create them. Customers, products and orders are shown by name and number, never by id.
import { t } from '/static/i18n.js';
import { h } from '/static/dom.js';
import { formatTime } from '/static/time.js';
import { get } from '/static/api.js';
import {
  send, flash, run, field, input, choice, section, table, salesForm, money, numberOrNull,
} from '/static/sales-ui.js';
import { route } from '/static/sales.js';

const QUOTE_ACTIONS = {
  draft: [['sent', 'sales.quotes.send']],
  sent: [['accepted', 'sales.quotes.accept'], ['rejected', 'sales.quotes.reject'], ['draft', 'sales.quotes.reopen']],
  rejected: [['draft', 'sales.quotes.reopen']],
};
const CONTRACT_STATUSES = ['draft', 'signed', 'terminated'];

// Names of the rows a list points at, fetched once per batch of ids (id__in), within the user's scope.
async function namesOf(path, ids, label) {
  const wanted = [...new Set(ids.filter((id) => id !== null && id !== undefined))];
  if (!wanted.length) return new Map();
  const page = await get(`/api/crm/${path}?size=200&id__in=${wanted.join(',')}`);
  return new Map(page.items.map((row) => [row.id, label(row)]));
}

const printLink = (kind, id) => h('a', {
  href: `/sales/print?${kind}=${id}`, target: '_blank', rel: 'noopener', class: 'print-link',
}, t('sales.print.print'));

async function customersAndProducts() {
  const [customers, products] = await Promise.all([
    get('/api/crm/customers?size=200&sort=name'),
    get('/api/crm/products?size=200&is_active=true'),
  ]);
  return [customers.items, products.items];
}

function lineRow(products) {
  const options = [['', t('sales.quotes.pick_product')], ...products.map((p) => [p.id, `${p.sku} ${p.name}`])];
  const row = h('div', { class: 'quote-line' },
    choice('product_id', options, '', { 'aria-label': t('sales.field.product_id') }),
    h('input', { name: 'quantity', type: 'number', min: 1, value: 1, 'aria-label': t('sales.field.quantity') }),
    h('input', { name: 'unit_price', type: 'number', min: 0, step: '0.01', 'aria-label': t('sales.field.unit_price'),
      placeholder: t('sales.quotes.list_price') }),
    h('button', { type: 'button', class: 'link', onclick: () => row.remove() }, t('sales.quotes.remove_line')));
  row.querySelector('select').addEventListener('change', (event) => {
    const product = products.find((p) => String(p.id) === event.target.value);
    row.querySelector('[name=unit_price]').placeholder = product ? money(product.price) : t('sales.quotes.list_price');
  });
  return row;
}

function quoteForm(slot, customers, products) {
  const lines = h('div', { class: 'quote-lines', id: 'quote-lines' }, lineRow(products));
  const opportunities = choice('opportunity_id', [['', '—']], '');
  const customerSelect = choice('customer_id', [['', t('sales.quotes.pick_customer')],
    ...customers.map((c) => [c.id, c.name])], '');
  customerSelect.addEventListener('change', async () => {
    const id = customerSelect.value;
    const found = id ? (await get(`/api/crm/opportunities?size=200&customer_id=${id}&is_closed=false`)).items : [];
    opportunities.replaceChildren(...[['', '—'], ...found.map((o) => [o.id, o.title])].map(([value, text]) => h('option', { value }, text)));
  });
  const formEl = salesForm([
    field('customer_id', customerSelect),
    field('opportunity_id', opportunities),
    field('valid_until', input('valid_until', '', { type: 'date' })),
    field('lines', h('div', {}, lines, h('button', {
      type: 'button', id: 'add-line', onclick: () => lines.append(lineRow(products)),
    }, t('sales.quotes.add_line')))),
    field('notes', h('textarea', { id: 'f-notes', name: 'notes', rows: 2, maxlength: 2000 })),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary', id: 'save-quote' }, t('sales.save'))),
  ], async (form) => {
    const body = {
      customer_id: Number(form.elements.customer_id.value),
      opportunity_id: numberOrNull(form.elements.opportunity_id.value),
      valid_until: form.elements.valid_until.value || null,
      notes: form.elements.notes.value,
      lines: [...lines.querySelectorAll('.quote-line')].filter((row) => row.querySelector('select').value).map((row) => ({
        product_id: Number(row.querySelector('select').value),
        quantity: Number(row.querySelector('[name=quantity]').value),
        unit_price: numberOrNull(row.querySelector('[name=unit_price]').value),
      })),
    };
    const saved = await send('POST', '/api/crm/quotes', body);
    flash(t('sales.quotes.saved', { number: saved.number, total: money(saved.total) }));
    route();
  }, ['customer_id']);
  slot.replaceChildren(section('sales.quotes.new', formEl));
}

function quoteActions(quote) {
  const moves = (QUOTE_ACTIONS[quote.status] || []).map(([status, key]) => h('button', {
    type: 'button', class: `quote-${status}`, onclick: () => run(async () => {
      await send('POST', `/api/crm/quotes/${quote.id}/status`, { status });
      flash(t('sales.quotes.moved', { number: quote.number, status: t(`sales.quote_status.${status}`) }));
      route();
    }),
  }, t(key)));
  if (quote.status === 'accepted') {
    moves.push(h('button', { type: 'button', class: 'primary make-order', onclick: () => run(async () => {
      const order = await send('POST', `/api/crm/quotes/${quote.id}/order`);
      flash(t('sales.quotes.ordered', { number: order.number }));
      route();
    }) }, t('sales.quotes.make_order')));
  }
  return h('div', { class: 'actions' }, moves, printLink('quote', quote.id));
}

export async function quotes() {
  const [page, [customers, products]] = await Promise.all([get('/api/crm/quotes?size=100'), customersAndProducts()]);
  const [names, orders] = await Promise.all([
    namesOf('customers', page.items.map((q) => q.customer_id), (c) => c.name),
    namesOf('orders', page.items.map((q) => q.order_id), (o) => o.number),
  ]);
  const slot = h('div', { id: 'quote-form' });
  return h('div', { class: 'crm-card' },
    section('sales.quotes.title',
      h('div', { class: 'buttons' }, h('button', {
        type: 'button', class: 'primary', id: 'new-quote', onclick: () => quoteForm(slot, customers, products),
      }, t('sales.quotes.new'))),
      h('div', { id: 'quotes' }, table([
        ['sales.field.number', (q) => q.number],
        ['sales.field.customer_id', (q) => names.get(q.customer_id) || ''],
        ['sales.field.status', (q) => h('span', { class: 'badge' }, t(`sales.quote_status.${q.status}`))],
        ['sales.field.total', (q) => money(q.total), 'num'],
        ['sales.field.valid_until', (q) => q.valid_until || ''],
        ['sales.field.created_at', (q) => formatTime(q.created_at, 'minutes')],
        ['sales.field.order_id', (q) => orders.get(q.order_id) || ''],
        ['sales.actions', quoteActions],
      ], page.items))),
    slot);
}

function contractForm(slot, customers, quoteRows) {
  const quoteSelect = choice('quote_id', [['', '—']], '');
  const customerSelect = choice('customer_id', [['', t('sales.quotes.pick_customer')],
    ...customers.map((c) => [c.id, c.name])], '');
  customerSelect.addEventListener('change', () => {
    const mine = quoteRows.filter((q) => String(q.customer_id) === customerSelect.value);
    quoteSelect.replaceChildren(...[['', '—'], ...mine.map((q) => [q.id, `${q.number} · ${money(q.total)}`])]
      .map(([value, text]) => h('option', { value }, text)));
  });
  const statuses = CONTRACT_STATUSES.map((s) => [s, t(`sales.contract_status.${s}`)]);
  const formEl = salesForm([
    field('title', input('title', '', { maxlength: 200 })),
    field('customer_id', customerSelect),
    field('quote_id', quoteSelect),
    field('status', choice('status', statuses, 'draft')),
    field('signed_on', input('signed_on', '', { type: 'date' })),
    field('starts_on', input('starts_on', '', { type: 'date' })),
    field('ends_on', input('ends_on', '', { type: 'date' })),
    field('amount', input('amount', '', { type: 'number', min: 0, step: '0.01', placeholder: t('sales.contracts.amount_hint') })),
    field('terms', h('textarea', { id: 'f-terms', name: 'terms', rows: 4 })),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary', id: 'save-contract' }, t('sales.save'))),
  ], async (form) => {
    const value = (name) => form.elements[name].value || null;
    const body = {
      title: form.elements.title.value.trim(), customer_id: Number(value('customer_id')),
      quote_id: numberOrNull(form.elements.quote_id.value), status: value('status'), signed_on: value('signed_on'),
      starts_on: value('starts_on'), ends_on: value('ends_on'), terms: form.elements.terms.value,
    };
    if (value('amount') !== null) body.amount = value('amount');
    const saved = await send('POST', '/api/crm/contracts', body);
    flash(t('sales.contracts.saved', { number: saved.number }));
    route();
  }, ['title', 'customer_id']);
  slot.replaceChildren(section('sales.contracts.new', formEl));
}

export async function contracts() {
  const [page, quotePage, [customers]] = await Promise.all([
    get('/api/crm/contracts?size=100'), get('/api/crm/quotes?size=200'), customersAndProducts(),
  ]);
  const names = await namesOf('customers', page.items.map((c) => c.customer_id), (c) => c.name);
  const slot = h('div', { id: 'contract-form' });
  return h('div', { class: 'crm-card' },
    section('sales.contracts.title',
      h('div', { class: 'buttons' }, h('button', {
        type: 'button', class: 'primary', id: 'new-contract', onclick: () => contractForm(slot, customers, quotePage.items),
      }, t('sales.contracts.new'))),
      h('div', { id: 'contracts' }, table([
        ['sales.field.number', (c) => c.number],
        ['sales.field.title', (c) => c.title],
        ['sales.field.customer_id', (c) => names.get(c.customer_id) || ''],
        ['sales.field.status', (c) => h('span', { class: 'badge' }, t(`sales.contract_status.${c.status}`))],
        ['sales.field.amount', (c) => money(c.amount), 'num'],
        ['sales.field.signed_on', (c) => c.signed_on || ''],
        ['sales.actions', (c) => printLink('contract', c.id)],
      ], page.items))),
    slot);
}
