// Messaging: templates (administration: channel, service-message trigger, text with {{ field }}
// placeholders), a message to one customer with a preview, bulk sends to a CRM search, the log of
// messages with their delivery status, and the sent/failed report with its Excel export.
import { t, loadNamespace, applyI18n, bindLangSwitch, getLang, inLanguage } from '/static/i18n.js';
import { api, get, post, ApiError } from '/static/api.js';
import { h, fill, $ } from '/static/dom.js';
import { label, messagesTable } from '/static/messaging-ui.js';

const state = { templates: [], fields: {}, triggers: [], customPrefix: 'customer.custom.' };

function errorText(error) {
  if (error instanceof ApiError && Array.isArray(error.detail)) return error.detail.map((d) => inLanguage(d.msg)).join('; ');
  if (error instanceof ApiError && error.status === 403) return t('msg.forbidden');
  return inLanguage(String(error instanceof ApiError ? error.detail : error.message || error));
}

function showError(error) {
  const notice = $('#notice');
  notice.textContent = errorText(error);
  notice.hidden = false;
}

function flash(text) {
  const box = $('#flash');
  box.textContent = text;
  box.hidden = false;
}

function guarded(run) {
  return async (event) => {
    if (event && event.preventDefault) event.preventDefault();
    $('#notice').hidden = true;
    $('#flash').hidden = true;
    try {
      await run(event);
    } catch (error) {
      showError(error);
    }
  };
}

const values = (form) => Object.fromEntries(new FormData(form).entries());

// --- templates ---------------------------------------------------------------------------------------
function triggerName(trigger) {
  return trigger ? label('trigger', trigger) : t('msg.trigger.none');
}

function templateOptions(select, { services = false, optional = false } = {}) {
  const usable = state.templates.filter((tp) => tp.is_active && (services || !tp.trigger));
  fill(select, optional ? h('option', { value: '' }, t('msg.send.choose')) : null,
    usable.map((tp) => h('option', { value: tp.id }, `${tp.name} · ${label('channel', tp.channel)}`)));
}

function renderTemplates() {
  const rows = state.templates;
  fill($('#template-list'), rows.length ? h('table', { class: 'grid' },
    h('thead', {}, h('tr', {}, ['msg.template.name', 'msg.template.channel', 'msg.template.trigger',
      'msg.template.active', ''].map((key) => h('th', {}, key ? t(key) : '')))),
    h('tbody', {}, rows.map((tp) => h('tr', { dataset: { template: tp.id } },
      h('td', {}, tp.name), h('td', {}, label('channel', tp.channel)), h('td', {}, triggerName(tp.trigger)),
      h('td', {}, tp.is_active ? '✓' : '—'),
      h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => editTemplate(tp) }, t('msg.template.edit'))))))
  ) : h('p', { class: 'muted' }, t('msg.templates.empty')));
  fill($('#trigger-select'), h('option', { value: '' }, t('msg.trigger.none')),
    state.triggers.map((tr) => h('option', { value: tr }, triggerName(tr))));
  templateOptions($('#send-template'), { optional: true });
  templateOptions($('#bulk-template'));
  renderFields();
}

function renderFields() {
  const form = $('#template-form');
  const trigger = form.trigger.value;
  const families = ['customer', 'contact', ...(trigger ? [trigger.split('.')[0]] : [])];
  const names = families.flatMap((family) => state.fields[family] || []);
  fill($('#field-list'), names.map((name) => h('button', {
    type: 'button', class: 'link msg-field', title: t('msg.template.insert'),
    onclick: () => { form.body.setRangeText(`{{ ${name} }}`, form.body.selectionStart, form.body.selectionEnd, 'end'); form.body.focus(); },
  }, `{{ ${name} }}`)), ` ${t('msg.template.custom', { prefix: state.customPrefix })}`);
}

function editTemplate(tp) {
  const form = $('#template-form');
  form.id.value = tp ? tp.id : '';
  form.name.value = tp ? tp.name : '';
  form.channel.value = tp ? tp.channel : 'sms';
  form.trigger.value = tp ? tp.trigger : '';
  form.subject.value = tp ? tp.subject : '';
  form.body.value = tp ? tp.body : '';
  form.is_active.checked = tp ? tp.is_active : true;
  renderFields();
  form.name.focus();
}

async function loadTemplates() {
  const found = await get('/api/messaging/templates');
  state.templates = found.templates;
  state.fields = found.fields;
  state.triggers = found.triggers;
  state.customPrefix = found.custom_prefix;
  renderTemplates();
}

async function saveTemplate(event) {
  const form = event.target;
  const v = values(form);
  const body = {
    name: v.name, channel: v.channel, trigger: v.trigger, subject: v.subject || '', body: v.body,
    is_active: form.is_active.checked,
  };
  const saved = v.id ? await api('PUT', `/api/messaging/templates/${v.id}`, body) : await post('/api/messaging/templates', body);
  await loadTemplates();
  editTemplate(saved);
  flash(t('msg.template.saved', { name: saved.name }));
}

// --- sending -----------------------------------------------------------------------------------------
async function findCustomers(event) {
  const q = values(event.target).q || '';
  const found = await get(`/api/crm/customers?size=20&q=${encodeURIComponent(q)}`);
  fill($('#customer-select'), found.items.map((c) => h('option', { value: c.id }, `${c.name} (#${c.id})`)));
  if (!found.items.length) flash(t('msg.send.none_found'));
}

function draftOf(form) {
  const v = values(form);
  if (!v.template_id) throw new Error(t('msg.send.choose'));
  return { customer_id: Number(v.customer_id), template_id: Number(v.template_id) };
}

async function previewMessage() {
  const form = $('#send-form');
  if (!form.customer_id.value) throw new Error(t('msg.send.no_customer'));
  const shown = await post('/api/messaging/preview', draftOf(form));
  const box = $('#preview');
  box.textContent = [`${t('msg.send.to')}: ${shown.to || t('msg.status.no_address')}`,
    shown.opted_out ? t('msg.status.opted_out') : null, shown.subject, shown.body].filter(Boolean).join('\n');
  box.hidden = false;
}

async function sendMessage(event) {
  if (!event.target.customer_id.value) throw new Error(t('msg.send.no_customer'));
  const message = await post('/api/messaging/send', draftOf(event.target));
  flash(t('msg.send.done', { status: label('status', message.status), to: message.to_address || '—' }));
  await loadMessages();
}

async function bulkSend(event) {
  const v = values(event.target);
  const filters = Object.fromEntries(['region', 'level', 'category'].filter((k) => v[k]).map((k) => [k, v[k]]));
  const batch = await post('/api/messaging/bulk', { template_id: Number(v.template_id), q: v.q || '', filters });
  $('#bulk-result').textContent = t('msg.bulk.done', batch);
  await loadMessages();
}

let followUp = null;  // the next look at messages still on their way

async function loadMessages() {
  const messages = await get('/api/messaging/messages?limit=50');
  fill($('#message-list'), messagesTable(messages, { withCustomer: true }));
  clearTimeout(followUp);
  // a bulk send goes out in the background: the list follows it until every message is sent or failed
  if (messages.some((m) => m.status === 'queued' || m.status === 'sending')) {
    followUp = setTimeout(() => loadMessages().catch(() => {}), 2000);  // the notices stay; a refresh shows a failure
  }
}

// --- report ------------------------------------------------------------------------------------------
function reportQuery(form, extra = {}) {
  const v = values(form);
  return new URLSearchParams({ start: v.start, end: v.end, group_by: v.group_by, lang: getLang(), ...extra }).toString();
}

async function runReport(event) {
  const form = event.target;
  const table = await get(`/api/messaging/report?${reportQuery(form)}`);
  $('#report-export').href = `/api/messaging/report/export?${reportQuery(form, { format: 'xlsx' })}`;
  fill($('#report-table'), table.rows.length ? h('table', { class: 'grid', id: 'report-grid' },
    h('thead', {}, h('tr', {}, table.columns.map((c) => h('th', {}, c.label)))),
    h('tbody', {}, table.rows.map((row) => h('tr', {}, row.map((cell, i) => h('td', {
      class: table.columns[i].kind === 'int' ? 'num' : null,
    }, table.columns[i].key === 'channel' ? label('channel', cell) : cell)))))) : h('p', { class: 'muted' }, t('msg.log.empty')));
}

function defaultDates() {
  const form = $('#report-form');
  const today = new Date();
  const tomorrow = new Date(today.getTime() + 86400000);
  const iso = (d) => d.toISOString().slice(0, 10);
  form.start.value = iso(new Date(today.getTime() - 6 * 86400000));
  form.end.value = iso(tomorrow);
}

async function main() {
  await Promise.all(['common', 'messaging'].map(loadNamespace));
  applyI18n(document);
  bindLangSwitch($('#lang-switch'));
  const me = await get('/api/auth/me');
  $('#user-name').textContent = me.display_name || me.username;
  $('#template-form').addEventListener('submit', guarded(saveTemplate));
  $('#template-form').trigger.addEventListener('change', renderFields);
  $('#template-new').addEventListener('click', () => editTemplate(null));
  $('#customer-search').addEventListener('submit', guarded(findCustomers));
  $('#preview-button').addEventListener('click', guarded(previewMessage));
  $('#send-form').addEventListener('submit', guarded(sendMessage));
  $('#bulk-form').addEventListener('submit', guarded(bulkSend));
  $('#messages-refresh').addEventListener('click', guarded(loadMessages));
  $('#report-form').addEventListener('submit', guarded(runReport));
  document.addEventListener('langchange', guarded(async () => { renderTemplates(); await loadMessages(); }));
  defaultDates();
  await loadTemplates();
  await loadMessages();
  const wanted = /customer=(\d+)/.exec(location.hash);
  if (wanted) {
    const customer = await get(`/api/crm/customers/${wanted[1]}`);
    fill($('#customer-select'), h('option', { value: customer.id }, `${customer.name} (#${customer.id})`));
  }
  document.body.dataset.ready = '1';
}

main().catch(showError);
