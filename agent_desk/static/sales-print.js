// A quote (?quote=ID) or a contract (?contract=ID) as a printable document, in the page's language.
import { t, loadNamespace, applyI18n, bindLangSwitch, getLang } from '/static/i18n.js';
import { get } from '/static/api.js';
import { h, fill, $ } from '/static/dom.js';
import { formatTime } from '/static/time.js';

const money = (v) => Number(v || 0).toLocaleString(getLang(), { minimumFractionDigits: 2, maximumFractionDigits: 2 });

function facts(pairs) {
  return h('dl', {}, pairs.filter(([, value]) => value !== null && value !== undefined && value !== '')
    .map(([key, value]) => [h('dt', {}, t(key)), h('dd', {}, String(value))]));
}

function signatures() {
  return h('div', { class: 'signatures' },
    h('div', {}, t('sales.print.seller_sign')), h('div', {}, t('sales.print.buyer_sign')));
}

function quoteDocument(q) {
  return [
    h('h1', {}, t('sales.print.quote_heading')),
    h('p', { class: 'number' }, `${t('sales.field.number')}: ${q.number}`),
    facts([
      ['sales.field.customer_id', q.customer_name], ['sales.print.address', q.customer_address],
      ['sales.field.opportunity_id', q.opportunity_title], ['sales.print.owner', q.owner_name],
      ['sales.print.date', formatTime(q.created_at, 'date')], ['sales.field.valid_until', q.valid_until],
      ['sales.field.status', t(`sales.quote_status.${q.status}`)], ['sales.field.order_id', q.order_number],
    ]),
    h('table', {},
      h('thead', {}, h('tr', {}, ['sales.print.line_no', 'sales.print.sku', 'sales.field.product_id', 'sales.print.unit',
        'sales.field.quantity', 'sales.field.unit_price', 'sales.field.amount']
        .map((key, i) => h('th', { class: i >= 4 ? 'num' : null }, t(key))))),
      h('tbody', {}, q.lines.map((line, i) => h('tr', {},
        h('td', {}, String(i + 1)), h('td', {}, line.sku), h('td', {}, line.product_name), h('td', {}, line.unit),
        h('td', { class: 'num' }, String(line.quantity)), h('td', { class: 'num' }, money(line.unit_price)),
        h('td', { class: 'num' }, money(line.amount))))),
      h('tfoot', {}, h('tr', {}, h('th', { colspan: 6, class: 'num' }, t('sales.field.total')),
        h('th', { class: 'num', id: 'document-total' }, money(q.total))))),
    q.notes ? h('div', { class: 'terms' }, q.notes) : null,
    signatures(),
  ];
}

function contractDocument(c) {
  return [
    h('h1', {}, c.title),
    h('p', { class: 'number' }, `${t('sales.print.contract_heading')} · ${t('sales.field.number')}: ${c.number}`),
    facts([
      ['sales.field.customer_id', c.customer_name], ['sales.print.address', c.customer_address],
      ['sales.field.opportunity_id', c.opportunity_title], ['sales.field.quote_id', c.quote_number],
      ['sales.field.order_id', c.order_number], ['sales.print.owner', c.owner_name],
      ['sales.field.amount', money(c.amount)], ['sales.field.status', t(`sales.contract_status.${c.status}`)],
      ['sales.field.signed_on', c.signed_on], ['sales.field.starts_on', c.starts_on], ['sales.field.ends_on', c.ends_on],
    ]),
    h('h2', {}, t('sales.field.terms')),
    h('div', { class: 'terms' }, c.terms || ''),
    signatures(),
  ];
}

async function render() {
  const params = new URLSearchParams(location.search);
  const quote = params.get('quote');
  const contract = params.get('contract');
  const notice = $('#notice');
  notice.hidden = true;
  try {
    if (quote && /^\d+$/.test(quote)) {
      const doc = await get(`/api/crm/quotes/${quote}/document`);
      document.title = `${t('sales.print.quote_heading')} ${doc.number}`;
      fill($('#document'), quoteDocument(doc));
    } else if (contract && /^\d+$/.test(contract)) {
      const doc = await get(`/api/crm/contracts/${contract}/document`);
      document.title = `${t('sales.print.contract_heading')} ${doc.number}`;
      fill($('#document'), contractDocument(doc));
    } else {
      throw new Error(t('sales.print.nothing'));
    }
  } catch (error) {
    notice.textContent = error.message;
    notice.hidden = false;
  }
  document.body.dataset.ready = '1';
}

async function main() {
  await Promise.all(['common', 'sales'].map(loadNamespace));
  applyI18n(document);
  bindLangSwitch($('#lang-switch'));
  $('#print').addEventListener('click', () => window.print());
  document.addEventListener('langchange', render);
  await render();
}

main();
