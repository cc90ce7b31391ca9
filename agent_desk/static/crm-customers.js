// Customers: the list (search by name or by phone in any format, filters, sorting, pages), the customer
// card (details, custom fields, contacts, phones with click-to-dial, tickets, orders, calls with their
// recordings, follow-ups), create/edit, the public pool; and the import/export page.
import { t, getLang } from '/static/i18n.js';
import { api, get, post, ApiError, csrfToken } from '/static/api.js';
import { h, fill } from '/static/dom.js';
import { busy, guarded } from '/static/ivr-admin.js';
import { playCall } from '/static/player.js';
import { messagesPanel } from '/static/messaging-card.js';
import {
  PAGE_SIZE, session, go, qs, when, label, userName, optional, flash, action, field, details, select, form,
  section, table, filterBar, link, badge, dialButton, empty, confirmButton, saveButtons, listSection,
} from '/static/crm.js';

const BASE = 'customers';
const KINDS = ['company', 'person'];
const SORTS = ['name', 'category', 'level', 'region', 'created_at', 'last_followup_at'];
// Digits with the usual separators: searched through the phone index, so "+86 138-1234-5678" finds
// the customer saved as 13812345678.
const PHONE_QUERY = /^\+?[\d\s().-]{5,}$/;

// --- list ----------------------------------------------------------------------------------------------
function ownerOptions() {
  const users = [...session.users.values()].map((u) => [u.id, u.display_name || u.username]);
  return [['', t('crm.filter.any_owner')], ['me', t('crm.filter.mine')], ...users];
}

function listQuery(params, ids) {
  const query = {
    page: params.page || 1, size: PAGE_SIZE, sort: params.sort || '-id',
    category: params.category, level: params.level,
    owner_id: params.owner === 'me' ? session.me.id : params.owner,
    status: params.pool || null,
    status__in: params.pool ? null : 'active,pool',
  };
  if (ids) query.id__in = ids.join(',');
  else query.q = params.q;
  return query;
}

// Matches of the last phone search that lie outside the user's data scope (shown as a count only).
const phoneSearch = { hidden: 0 };

// A phone-looking search goes through the caller lookup; null when the search is by text.
async function idsForPhone(text) {
  if (!text || !PHONE_QUERY.test(text.trim()) || text.replace(/\D/g, '').length < 5) return null;
  const found = await get(`/api/crm/lookup${qs({ number: text.trim() })}`);
  phoneSearch.hidden = found.hidden_matches || 0;
  return found.candidates.map((c) => c.id);
}

const COLUMNS = [
  { label: 'crm.customer.name', sort: 'name', render: (c) => link(`customers/${c.id}`, c.name) },
  { label: 'crm.customer.kind', render: (c) => label('kind', c.kind) },
  { label: 'crm.customer.category', sort: 'category', key: 'category' },
  { label: 'crm.customer.level', sort: 'level', key: 'level' },
  { label: 'crm.customer.region', sort: 'region', key: 'region' },
  { label: 'crm.customer.owner', render: (c) => c.owner_name || userName(c.owner_id) },
  { label: 'crm.customer.status', render: (c) => badge(label('status', c.status), c.status === 'pool' ? 'warn' : '') },
  { label: 'crm.customer.last_followup', sort: 'last_followup_at', render: (c) => when(c.last_followup_at) },
  { label: 'crm.customer.created_at', sort: 'created_at', render: (c) => when(c.created_at) },
];

export async function list(params) {
  if (params.sort && !SORTS.includes(params.sort.replace(/^-/, ''))) params.sort = '';
  const ids = await idsForPhone(params.q);
  const found = ids && !ids.length
    ? { items: [], total: 0, page: 1, size: PAGE_SIZE }
    : await get(`/api/crm/customers${qs(listQuery(params, ids))}`);
  const bar = filterBar(params, BASE, [
    h('input', {
      name: 'q', type: 'search', value: params.q || '', class: 'wide',
      placeholder: t('crm.customer.search_hint'), 'aria-label': t('crm.customer.search_hint'),
    }),
    h('input', { name: 'category', value: params.category || '', placeholder: t('crm.customer.category') }),
    h('input', { name: 'level', value: params.level || '', placeholder: t('crm.customer.level'), size: 6 }),
    select('owner', ownerOptions(), params.owner),
    select('pool', [['', t('crm.filter.any_status')], ['active', label('status', 'active')],
      ['pool', label('status', 'pool')]], params.pool),
  ]);
  const matches = ids ? h('p', { class: 'muted', id: 'phone-matches' },
    t('crm.customer.phone_matches', { count: found.total }),
    phoneSearch.hidden ? [' ', t('crm.customer.hidden_matches', { count: phoneSearch.hidden })] : null) : null;
  return listSection(BASE, 'customer', {
    found, params, columns: COLUMNS, bar: [bar, matches],
    buttons: [h('button', { type: 'button', onclick: () => go('io') }, t('crm.nav.io')),
      exportButtons('customers', listQuery(params, ids))],
  });
}

// --- card ----------------------------------------------------------------------------------------------
function customFieldDefs() {
  return optional(get('/api/crm/custom-fields?entity=customer&size=200'), { items: [] }).then((f) => f.items);
}

function poolButtons(customer) {
  if (customer.status === 'pool') {
    return h('button', {
      type: 'button', class: 'primary', id: 'claim', onclick: action(() => post(`/api/crm/customers/${customer.id}/claim`)),
    }, t('crm.pool.claim'));
  }
  if (customer.status !== 'active') return null;
  return confirmButton('crm.pool.release', 'crm.pool.release_confirm',
    () => post(`/api/crm/customers/${customer.id}/release`), { id: 'release' });
}

function phonesPanel(customer, phones, contacts) {
  const contactName = (id) => (contacts.find((c) => c.id === id) || {}).name || '';
  const remove = (phone) => confirmButton('crm.action.remove', 'crm.action.confirm_remove',
    () => api('DELETE', `/api/crm/customers/${customer.id}/phones/${phone.id}`), { class: 'link' });
  return section('crm.phone.title',
    phones.length ? h('ul', { class: 'items phones' }, phones.map((phone) => h('li', { dataset: { phone: phone.raw } },
      dialButton(phone.raw),
      h('span', { class: 'grow muted' }, [label('phone_kind', phone.kind), phone.label, contactName(phone.contact_id)]
        .filter(Boolean).join(' · ')),
      remove(phone)))) : empty(),
    form({ class: 'inline-form' }, [
      h('input', { name: 'number', required: true, maxlength: 50, placeholder: t('crm.phone.number') }),
      h('input', { name: 'label', maxlength: 30, placeholder: t('crm.phone.label'), size: 8 }),
      select('contact_id', [['', t('crm.phone.no_contact')], ...contacts.map((c) => [c.id, c.name])]),
      h('button', { type: 'submit' }, t('crm.phone.add')),
    ], (v) => post(`/api/crm/customers/${customer.id}/phones`, {
      number: v.number, label: v.label, contact_id: v.contact_id ? Number(v.contact_id) : null,
    })));
}

function contactsPanel(customer, contacts) {
  return section('crm.contact.title',
    table([
      { label: 'crm.contact.name', render: (c) => [c.name, c.is_primary ? badge(t('crm.contact.primary'), 'ok') : null] },
      { label: 'crm.contact.position', key: 'position' },
      { label: 'crm.contact.email', key: 'email' },
    ], contacts),
    form({ class: 'inline-form' }, [
      h('input', { name: 'name', required: true, maxlength: 100, placeholder: t('crm.contact.name') }),
      h('input', { name: 'position', maxlength: 100, placeholder: t('crm.contact.position') }),
      h('input', { name: 'email', type: 'email', maxlength: 200, placeholder: t('crm.contact.email') }),
      h('button', { type: 'submit' }, t('crm.contact.add')),
    ], (v) => post('/api/crm/contacts', { customer_id: customer.id, ...v })));
}

// The customer's tickets or orders with a button to open a new one for this customer.
function relatedPanel(kind, customer, found, columns) {
  return section(`crm.${kind}.title`,
    h('div', { class: 'buttons' }, h('button', {
      type: 'button', onclick: () => go(`${kind}s/new`, { customer: customer.id }),
    }, t(`crm.${kind}.new`))),
    found ? table(columns, found.items) : empty('crm.list.forbidden'));
}

const TICKET_COLUMNS = [
  { label: 'crm.ticket.subject', render: (x) => link(`tickets/${x.id}`, x.title) },
  { label: 'crm.ticket.status', render: (x) => label('ticket_status', x.status) },
  { label: 'crm.ticket.priority', render: (x) => t(`priority.${x.priority}`) },
  { label: 'crm.ticket.due_at', render: (x) => when(x.due_at) },
];
const ORDER_COLUMNS = [
  { label: 'crm.order.number', render: (x) => link(`orders/${x.id}`, x.number) },
  { label: 'crm.order.status', render: (x) => label('order_status', x.status) },
  { label: 'crm.order.total', key: 'total', class: 'num' },
  { label: 'crm.order.created_at', render: (x) => when(x.created_at) },
];

// The customer's calls; a play button on each call that has a recording the user may hear.
function callsTable(calls, recorded) {
  const player = h('div', { class: 'call-player' });
  const play = (call) => guarded(async () => { await busy(playCall(call.call_id, fill(player))); });
  const hasRecording = (call) => recorded.has(call.call_id);
  return [table([
    { label: 'crm.call.time', render: (c) => when(c.started_at ?? c.linked_at) },
    { label: 'crm.call.direction', render: (c) => (c.direction ? t(`direction.${c.direction}`) : '') },
    { label: 'crm.call.number', render: (c) => c.caller_number || c.dialed || '' },
    { label: 'crm.call.agent', render: (c) => c.agent || '' },
    { label: 'crm.call.disposition', render: (c) => (c.disposition ? t(`disposition.${c.disposition}`) : '') },
    { label: 'crm.call.talk', class: 'num', render: (c) => (c.talk_s ? Math.round(c.talk_s) : '') },
    { label: 'crm.call.links', render: (c) => [
      c.ticket_id ? link(`tickets/${c.ticket_id}`, t('crm.call.ticket', { id: c.ticket_id })) : null, ' ',
      c.order_id ? link(`orders/${c.order_id}`, t('crm.call.order', { id: c.order_id })) : null] },
    { label: 'crm.call.recording', render: (c) => (hasRecording(c)
      ? h('button', { type: 'button', class: 'play', onclick: play(c) }, '▶ ', t('crm.call.play')) : '') },
  ], calls), player];
}

function followupsPanel(customer, found) {
  return section('crm.followup.title',
    form({ class: 'inline-form' }, [
      select('channel', ['phone', 'visit', 'wechat', 'email', 'other'].map((c) => [c, label('channel', c)])),
      h('input', { name: 'note', required: true, maxlength: 5000, class: 'wide', placeholder: t('crm.followup.note') }),
      h('button', { type: 'submit' }, t('crm.followup.add')),
    ], (v) => post(`/api/crm/customers/${customer.id}/followups`, v)),
    found && found.items.length ? h('ul', { class: 'items' }, found.items.map((f) => h('li', {},
      h('span', { class: 'muted' }, when(f.at)), badge(label('channel', f.channel)),
      h('span', { class: 'grow' }, f.note), h('span', { class: 'muted' }, userName(f.user_id))))) : empty());
}

export async function card(params, id) {
  const [customer, phones, contacts, defs, ticketPage, orderPage, calls, followups, recordings] = await Promise.all([
    get(`/api/crm/customers/${id}`),
    get(`/api/crm/customers/${id}/phones`),
    optional(get(`/api/crm/contacts?customer_id=${id}&size=200`), { items: [] }).then((f) => f.items),
    customFieldDefs(),
    optional(get(`/api/crm/tickets?customer_id=${id}&size=50`)),
    optional(get(`/api/crm/orders?customer_id=${id}&size=50`)),
    optional(get(`/api/crm/customers/${id}/calls`), []),
    optional(get(`/api/crm/followups?customer_id=${id}&size=50`)),
    optional(get(`/api/recordings?customer_id=${id}&limit=500`), { items: [] }),
  ]);
  const recorded = new Set(recordings.items.filter((r) => r.playable).map((r) => r.call_id));
  const custom = customer.custom || {};
  return h('div', { class: 'crm-card', dataset: { customer: customer.id } },
    h('div', { class: 'card-head' },
      h('h1', { class: 'customer-name' }, customer.name),
      badge(customer.level), badge(label('status', customer.status), customer.status === 'pool' ? 'warn' : ''),
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', onclick: () => go(`customers/${id}/edit`) }, t('crm.action.edit')),
      poolButtons(customer)),
    h('div', { class: 'crm-grid' },
      section('crm.customer.details', details([
        ['crm.customer.kind', label('kind', customer.kind)],
        ['crm.customer.category', customer.category],
        ['crm.customer.level', customer.level],
        ['crm.customer.region', customer.region],
        ['crm.customer.source', customer.source],
        ['crm.customer.address', customer.address],
        ['crm.customer.owner', customer.owner_id ? customer.owner_name || userName(customer.owner_id) : t('crm.pool.none')],
        ['crm.customer.created_at', when(customer.created_at)],
        ['crm.customer.notes', customer.notes],
      ])),
      section('crm.customer.custom', defs.length
        ? h('dl', { class: 'details' }, defs.map((d) => [h('dt', {}, d.label), h('dd', {}, String(custom[d.key] ?? ''))]))
        : empty()),
      phonesPanel(customer, phones, contacts),
      contactsPanel(customer, contacts),
      relatedPanel('ticket', customer, ticketPage, TICKET_COLUMNS),
      relatedPanel('order', customer, orderPage, ORDER_COLUMNS),
      section('crm.call.title', calls && calls.length ? callsTable(calls, recorded) : empty()),
      messagesPanel(customer),
      followupsPanel(customer, followups)));
}

// --- create / edit ---------------------------------------------------------------------------------
function customInput(def, value) {
  const name = `custom.${def.key}`;
  if (def.kind === 'choice') {
    return select(name, [['', ''], ...(def.choices || []).map((c) => [c, c])], value);
  }
  const type = def.kind === 'number' ? 'number' : def.kind === 'date' ? 'date' : 'text';
  return h('input', { name, type, value: value ?? '', required: def.required, step: type === 'number' ? 'any' : null });
}

function customerValues(values) {
  const data = { custom: {} };
  for (const [key, value] of Object.entries(values)) {
    if (key.startsWith('custom.')) {
      if (value !== '') data.custom[key.slice(7)] = value;
    } else if (key !== 'phones') data[key] = value;
  }
  return data;
}

export async function edit(params, id) {
  const [customer, defs] = await Promise.all([
    id ? get(`/api/crm/customers/${id}`) : Promise.resolve({ kind: 'company', custom: {} }),
    customFieldDefs(),
  ]);
  const text = (name, attrs = {}) => field(`crm.customer.${name}`,
    h('input', { name, value: customer[name] || '', maxlength: 200, ...attrs }));
  const save = async (values) => {
    const data = customerValues(values);
    if (id) {
      await api('PATCH', `/api/crm/customers/${id}`, data);
      go(`customers/${id}`);
    } else {
      data.phones = values.phones.split(/[,，;；\n]/).map((p) => p.trim()).filter(Boolean);
      const created = await post('/api/crm/customers', data);
      flash(t('crm.customer.created', { name: created.name }));
      go(`customers/${created.id}`);
    }
  };
  return section(id ? 'crm.customer.edit' : 'crm.customer.new',
    form({ class: 'crm-form', id: 'customer-form' }, [
      text('name', { required: true }),
      field('crm.customer.kind', select('kind', KINDS.map((k) => [k, label('kind', k)]), customer.kind)),
      text('category'), text('level', { maxlength: 20 }), text('region'), text('source'), text('address'),
      id ? null : field('crm.customer.phones', h('input', {
        name: 'phones', placeholder: t('crm.customer.phones_hint'), maxlength: 500,
      })),
      field('crm.customer.notes', h('textarea', { name: 'notes', rows: 3 }, customer.notes || '')),
      defs.map((d) => h('label', { class: 'field' }, h('span', { class: 'field-label' }, d.label),
        customInput(d, (customer.custom || {})[d.key]))),
      saveButtons(),
    ], save, { rerender: false }));
}

// --- import / export -----------------------------------------------------------------------------------
// POST a file with upload progress (fetch cannot report it); resolves with the response body.
export function upload(url, data, responseType, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.responseType = responseType;
    xhr.setRequestHeader('X-CSRF-Token', csrfToken());
    xhr.upload.onprogress = (event) => { if (event.lengthComputable) onProgress(event.loaded / event.total); };
    xhr.upload.onload = () => onProgress(1);
    xhr.onerror = () => reject(new Error(t('crm.io.network_error')));
    xhr.onload = async () => {
      if (xhr.status >= 200 && xhr.status < 300) { resolve(xhr.response); return; }
      if (xhr.status === 401) location.href = `/login?next=${encodeURIComponent(location.pathname)}`;
      let detail = xhr.statusText;
      const body = responseType === 'json' ? xhr.response : await xhr.response.text().then(JSON.parse).catch(() => null);
      if (body && body.detail !== undefined) detail = body.detail;
      reject(new ApiError(xhr.status, detail));
    };
    xhr.send(data);
  });
}

function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function download(url, name) {
  const response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new ApiError(response.status, (body && body.detail) || response.statusText);
  }
  saveBlob(await response.blob(), name);
}

// Download what the list shows (all its pages): the list's own filters and search go with the file.
export function exportButtons(kind, query) {
  const { page, size, sort, ...filters } = query;
  const save = (format) => guarded(() => download(
    `/api/crm/export/${kind}${qs({ ...filters, format, lang: getLang() })}`, `${kind}.${format}`));
  return h('span', { class: 'export-buttons', dataset: { export: kind } },
    h('button', { type: 'button', class: 'export-xlsx', onclick: save('xlsx') }, t('crm.io.export_xlsx')),
    h('button', { type: 'button', class: 'export-csv', title: t('crm.io.csv_hint'), onclick: save('csv') },
      t('crm.io.export_csv')));
}

function progressView() {
  const bar = h('progress', { max: 100, value: 0, class: 'import-progress' });
  const text = h('span', { class: 'muted' });
  const box = h('div', { class: 'import-status', role: 'status', hidden: true }, bar, ' ', text);
  return {
    box,
    sending(fraction) {
      box.hidden = false;
      if (fraction < 1) {
        bar.value = Math.round(fraction * 100);
        text.textContent = t('crm.io.uploading', { percent: Math.round(fraction * 100) });
      } else {
        bar.removeAttribute('value'); // indeterminate while the server checks and saves the rows
        text.textContent = t('crm.io.processing');
      }
    },
    done() { box.hidden = true; },
  };
}

function planTable(report) {
  if (!report.plan || !report.plan.length) return null;
  return table([
    { label: 'crm.io.row', key: 'row', class: 'num' },
    { label: 'crm.io.action', render: (p) => t(`crm.io.action_${p.action}`) },
    { label: 'crm.io.customer', render: (p) => (p.customer_id ? link(`customers/${p.customer_id}`, p.name) : p.name) },
    { label: 'crm.io.changes', render: (p) => (p.changes || []).map((c) => label('io_field', c)).join(', ') },
  ], report.plan);
}

function importReport(report, errorsButton) {
  const counts = { created: report.created, updated: report.updated, skipped: report.skipped, imported: report.imported };
  return h('div', { class: 'import-report', dataset: { dryRun: report.dry_run ? 'true' : 'false' } },
    h('p', { class: report.errors.length ? 'status-bad' : 'status-ok', id: 'import-counts' },
      t(report.dry_run ? 'crm.io.preview_result' : 'crm.io.result_updates',
        { total: report.total, ...counts, errors: report.errors.length })),
    report.errors.length && !report.imported && report.mode === 'all_or_nothing' && !report.dry_run
      ? h('p', { class: 'muted' }, t('crm.io.nothing_saved')) : null,
    report.dry_run ? planTable(report) : null,
    report.errors.length ? [errorsButton, table([
      { label: 'crm.io.row', key: 'row', class: 'num' },
      { label: 'crm.io.column', key: 'column' },
      { label: 'crm.io.message', key: 'message' },
    ], report.errors)] : null);
}

function importPanel() {
  const progress = progressView();
  const result = h('div', { id: 'import-result' });
  const fileInput = h('input', { type: 'file', name: 'file', required: true, accept: '.xlsx,.csv,.txt' });
  const send = (file, url, type, validOnly, dryRun = false) => {
    const data = new FormData();
    data.append('file', file);
    if (validOnly !== undefined) data.append('valid_only', validOnly ? 'true' : 'false');
    if (dryRun) data.append('dry_run', 'true');
    return upload(url, data, type, (f) => progress.sending(f)).finally(() => progress.done());
  };
  const errorsButton = (file) => h('button', {
    type: 'button',
    onclick: guarded(async () => {
      const blob = await busy(send(file, '/api/crm/import/customers/errors', 'blob'));
      saveBlob(blob, 'import-errors.csv');
    }),
  }, t('crm.io.error_report'));
  const validOnly = h('input', { type: 'checkbox', name: 'valid_only' });
  const run = async (dryRun) => {
    const file = fileInput.files[0];
    fill(result);
    const report = await send(file, '/api/crm/import/customers', 'json', validOnly.checked, dryRun);
    fill(result, importReport(report, errorsButton(file)));
  };
  const preview = h('button', {
    type: 'button', id: 'import-preview',
    onclick: guarded(async () => { if (fileInput.reportValidity()) await run(true); }),
  }, t('crm.io.preview'));
  return section('crm.io.import',
    h('p', { class: 'muted' }, t('crm.io.import_hint')),
    h('p', { class: 'muted' }, t('crm.io.update_hint')),
    form({ class: 'inline-form', id: 'import-form' }, [
      fileInput,
      h('label', {}, validOnly, ' ', t('crm.io.valid_only')),
      preview,
      h('button', { type: 'submit', class: 'primary' }, t('crm.io.upload')),
    ], () => run(false), { rerender: false }),
    progress.box, result);
}

function exportPanel() {
  const chooser = (name) => select(name, [['xlsx', 'Excel (.xlsx)'], ['csv', 'CSV'], ['txt', 'TXT']]);
  return section('crm.io.export',
    h('p', { class: 'muted', id: 'csv-hint' }, t('crm.io.csv_hint')),
    form({ class: 'inline-form', id: 'export-customers' }, [
      h('span', {}, t('crm.io.customers')), chooser('format'),
      h('button', { type: 'submit' }, t('crm.io.download')),
    ], (v) => download(`/api/crm/export/customers${qs({ format: v.format, lang: getLang() })}`, `customers.${v.format}`),
    { rerender: false }),
    form({ class: 'inline-form', id: 'export-orders' }, [
      h('span', {}, t('crm.io.orders')), chooser('format'),
      h('label', {}, h('input', { type: 'checkbox', name: 'per_customer' }), ' ', t('crm.io.per_customer')),
      h('button', { type: 'submit' }, t('crm.io.download')),
    ], (v) => download(`/api/crm/export/orders${qs({ format: v.format, per_customer: v.per_customer ? 'true' : '', lang: getLang() })}`,
      `orders.${v.format}`), { rerender: false }));
}

export async function importExport() {
  return h('div', { class: 'crm-grid' }, importPanel(), exportPanel());
}
