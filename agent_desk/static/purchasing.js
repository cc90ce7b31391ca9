// Purchasing and stock in one page with hash routes: supplier documents (#/documents: 进货单, 退货单, 换货单, posted
// to move the stock), stock with alert levels and price schemes (#/stock), the money ledger (#/ledger) and the
// dealers' orders (#/dealers), the last two for the period of the filter bar.
import { t, loadNamespace, applyI18n, bindLangSwitch } from '/static/i18n.js';
import { h, fill, $ } from '/static/dom.js';
import { businessToday, formatTime } from '/static/time.js';
import {
  get, send, money, flash, showError, run, field, input, choice, section, table, salesForm, numberOrNull, hashRouter,
} from '/static/sales-ui.js';

const KINDS = ['purchase', 'supplier_return', 'exchange'];
const SCHEMES = ['retail', 'dealer', 'floor'];
const label = (key) => `purchasing.field.${key}`;

function productOptions(products, none) {
  return [['', none], ...products.map((p) => [p.id, `${p.sku} ${p.name}`])];
}

function lineRow(products, kind) {
  const row = h('div', { class: 'quote-line' },
    choice('product_id', productOptions(products, t('sales.quotes.pick_product')), '', { 'aria-label': t(label('product_id')) }),
    h('input', { name: 'quantity', type: 'number', min: 1, value: 1, 'aria-label': t(label('quantity')) }),
    h('input', { name: 'unit_cost', type: 'number', min: 0, step: '0.01', 'aria-label': t(label('unit_cost')),
      placeholder: t(label('unit_cost')) }),
    kind === 'exchange' ? choice('replacement_product_id', productOptions(products, t('purchasing.same_product')), '',
      { 'aria-label': t(label('replacement_product_id')) }) : null,
    h('button', { type: 'button', class: 'link', onclick: () => row.remove() }, t('sales.quotes.remove_line')));
  return row;
}

function documentForm(slot, suppliers, products, kind) {
  const lines = h('div', { class: 'quote-lines', id: 'document-lines' }, lineRow(products, kind));
  const kindSelect = choice('kind', KINDS.map((k) => [k, t(`purchasing.kind.${k}`)]), kind);
  kindSelect.addEventListener('change', () => documentForm(slot, suppliers, products, kindSelect.value));
  const formEl = salesForm([
    field('kind', kindSelect, label('kind')),
    field('supplier_id', choice('supplier_id', [['', t('purchasing.pick_supplier')], ...suppliers.map((s) => [s.id, s.name])], ''),
      label('supplier_id')),
    field('lines', h('div', {}, lines, h('button', {
      type: 'button', id: 'add-line', onclick: () => lines.append(lineRow(products, kind)),
    }, t('sales.quotes.add_line'))), label('lines')),
    field('note', h('textarea', { id: 'f-note', name: 'note', rows: 2, maxlength: 2000 }), label('note')),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary', id: 'save-document' }, t('sales.save'))),
  ], async (form) => {
    const body = {
      kind: form.elements.kind.value,
      supplier_id: Number(form.elements.supplier_id.value),
      note: form.elements.note.value,
      lines: [...lines.querySelectorAll('.quote-line')].filter((row) => row.querySelector('select').value).map((row) => {
        const value = (name) => row.querySelector(`[name=${name}]`)?.value ?? '';
        return {
          product_id: Number(value('product_id')),
          quantity: Number(value('quantity')),
          unit_cost: Number(value('unit_cost') || 0),
          replacement_product_id: numberOrNull(value('replacement_product_id')),
        };
      }),
    };
    const saved = await send('POST', '/api/crm/supplier-documents', body);
    flash(t('purchasing.saved', { number: saved.number }));
    route();
  }, ['supplier_id']);
  slot.replaceChildren(section('purchasing.new', formEl));
}

function documentActions(doc) {
  if (doc.status !== 'draft') return '';
  const act = (action, key, cls) => h('button', { type: 'button', class: cls, onclick: () => run(async () => {
    const saved = await send('POST', `/api/crm/supplier-documents/${doc.id}/${action}`);
    flash(t(`purchasing.${action}ed`, { number: saved.number }));
    route();
  }) }, t(key));
  return h('div', { class: 'actions' }, act('post', 'purchasing.post', 'primary post-document'),
    act('void', 'purchasing.void', 'void-document'));
}

async function documents() {
  const [page, suppliers, products] = await Promise.all([
    get('/api/crm/supplier-documents?size=100'),
    get('/api/crm/suppliers?size=200'),
    get('/api/crm/products?size=200&is_active=true'),
  ]);
  const names = new Map(suppliers.items.map((s) => [s.id, s.name]));
  const slot = h('div', { id: 'document-form' });
  return h('div', { class: 'crm-card' },
    section('purchasing.documents',
      h('div', { class: 'buttons' }, h('button', {
        type: 'button', class: 'primary', id: 'new-document',
        onclick: () => documentForm(slot, suppliers.items, products.items, 'purchase'),
      }, t('purchasing.new'))),
      h('div', { id: 'documents' }, table([
        ['sales.field.number', (d) => d.number],
        [label('kind'), (d) => t(`purchasing.kind.${d.kind}`)],
        [label('supplier_id'), (d) => names.get(d.supplier_id) || ''],
        ['sales.field.status', (d) => h('span', { class: 'badge' }, t(`purchasing.status.${d.status}`))],
        ['sales.field.total', (d) => money(d.total), 'num'],
        ['sales.field.created_at', (d) => formatTime(d.created_at, 'minutes')],
        [label('posted_at'), (d) => formatTime(d.posted_at, 'minutes')],
        ['sales.actions', documentActions],
      ], page.items))),
    slot);
}

function thresholdForm(product) {
  const formEl = h('form', { class: 'stock-form', novalidate: true },
    h('input', { name: 'minimum', type: 'number', min: 0, value: product.minimum ?? '', 'aria-label': t(label('minimum')) }),
    h('button', { type: 'submit' }, t('sales.save')));
  formEl.addEventListener('submit', (event) => {
    event.preventDefault();
    run(async () => {
      await send('PUT', `/api/crm/stock/${product.id}/threshold`, { minimum: numberOrNull(formEl.elements.minimum.value) });
      flash(t('purchasing.threshold_saved', { name: product.name }));
      route();
    }, formEl);
  });
  return formEl;
}

function pricesForm(product) {
  const formEl = h('form', { class: 'stock-form prices-form', novalidate: true },
    SCHEMES.map((s) => h('label', {}, t(`purchasing.scheme.${s}`), ' ', h('input', {
      name: s, type: 'number', min: 0, step: '0.01', value: product.prices[s] ?? '',
    }))),
    h('button', { type: 'submit' }, t('sales.save')));
  formEl.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = Object.fromEntries(SCHEMES.map((s) => [s, numberOrNull(formEl.elements[s].value)]));
    run(async () => {
      await send('PUT', `/api/crm/stock/${product.id}/prices`, body);
      flash(t('purchasing.prices_saved', { name: product.name }));
      route();
    }, formEl);
  });
  return formEl;
}

async function stock() {
  const rows = await get('/api/crm/stock');
  return section('purchasing.stock', h('div', { id: 'stock' }, table([
    ['purchasing.field.sku', (p) => p.sku],
    [label('product_id'), (p) => p.name],
    [label('stock'), (p) => h('span', {}, `${p.stock} ${p.unit}`,
      p.alert ? h('span', { class: 'badge bad stock-alert' }, t('purchasing.alert')) : null), 'num'],
    [label('minimum'), thresholdForm],
    ['purchasing.prices', pricesForm],
  ], rows, (p) => ({ dataset: { sku: p.sku } }))));
}

function period() {
  const form = $('#filters');
  return new URLSearchParams({ start: form.elements.start.value, end: form.elements.end.value });
}

async function ledger() {
  const rows = await get(`/api/crm/ledger?${period()}`);
  const sum = (kind) => rows.filter((r) => r.kind === kind).reduce((acc, r) => acc + Number(r.amount), 0);
  return section('purchasing.ledger',
    h('p', { id: 'ledger-totals' }, t('purchasing.ledger_totals', {
      income: money(sum('payment')), refunds: money(-sum('refund')), net: money(sum('payment') + sum('refund')),
    })),
    h('div', { id: 'ledger' }, table([
      ['purchasing.field.at', (r) => formatTime(r.at, 'minutes')],
      [label('entry'), (r) => t(`purchasing.entry.${r.kind}`)],
      ['sales.field.order_id', (r) => r.order_number],
      ['sales.field.customer_id', (r) => r.customer_name],
      ['sales.field.amount', (r) => h('span', { class: Number(r.amount) < 0 ? 'money-out' : 'money-in' }, money(r.amount)), 'num'],
      [label('balance'), (r) => money(r.balance), 'num'],
    ], rows)));
}

async function dealers() {
  const found = await get(`/api/crm/dealer-orders?${period()}`);
  return h('div', { class: 'crm-card' },
    section('purchasing.dealers',
      h('p', { id: 'dealer-count' }, t('purchasing.dealer_count', { count: found.count, dealers: found.dealers.length })),
      h('div', { id: 'dealers' }, table([
        ['sales.field.customer_id', (d) => d.customer_name],
        ['sales.field.orders', (d) => String(d.orders), 'num'],
        ['sales.field.total', (d) => money(d.total), 'num'],
      ], found.dealers))),
    section('purchasing.dealer_orders', table([
      ['sales.field.number', (o) => o.number],
      ['sales.field.customer_id', (o) => o.customer_name],
      ['sales.field.status', (o) => t(`purchasing.order_status.${o.status}`)],
      ['sales.field.total', (o) => money(o.total), 'num'],
      ['sales.field.created_at', (o) => formatTime(o.created_at, 'minutes')],
    ], found.orders)));
}

export const route = hashRouter({ documents, stock, ledger, dealers }, 'documents', '#purchasing-nav');

async function main() {
  await Promise.all(['common', 'sales', 'purchasing'].map(loadNamespace));
  applyI18n(document);
  bindLangSwitch($('#lang-switch'));
  const me = await get('/api/auth/me');
  $('#user-name').textContent = me.display_name || me.username;
  const today = businessToday();
  const [y, m] = today.split('-').map(Number);
  $('#filter-start').value = `${today.slice(0, 8)}01`;
  $('#filter-end').value = `${today.slice(0, 8)}${String(new Date(Date.UTC(y, m, 0)).getUTCDate()).padStart(2, '0')}`;
  $('#filters').addEventListener('submit', (event) => { event.preventDefault(); route(); });
  window.addEventListener('hashchange', route);
  document.addEventListener('langchange', () => { $('#flash').hidden = true; route(); });
  await route();
}

main().catch((error) => showError(error));
