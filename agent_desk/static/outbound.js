// Outbound administration (外呼活动): campaigns with their mode, schedule, retry policy and abandon cap;
// start / pause / resume; leads from a list or a CRM search; agent scripts and wrap-up codes, listed and
// edited; the global do-not-call list; the reports.
import { t, loadNamespace, applyI18n, bindLangSwitch, errorText } from '/static/i18n.js';
import { get, post, api } from '/static/api.js';
import { h, fill, $ } from '/static/dom.js';

const state = { campaigns: [], scripts: [], codes: [], selected: null };

function notice(text, ok = true) {
  const box = $('#notice');
  box.textContent = text;
  box.className = ok ? 'notice' : 'notice error';
  box.hidden = !text;
}

async function guarded(work) {
  try {
    await work();
  } catch (error) {
    notice(errorText(error.detail || error.message), false);
  }
}

function pacing(row) {
  const d = row.dialer;
  if (!d) return '-';
  return t('ob.pacing_text', { free: d.agents_free, flight: d.in_flight, ratio: d.ratio,
    answer: Math.round(100 * d.answer_rate), abandon: (100 * d.abandon_rate).toFixed(1) });
}

function leadsText(counts) {
  return Object.entries(counts || {}).map(([k, v]) => `${t(`ob.lead.${k}`)} ${v}`).join(' · ') || '0';
}

function statusButtons(row) {
  const to = (status, key) => h('button', { type: 'button', dataset: { campaign: row.id, status },
    onclick: () => guarded(async () => { await post(`/api/outbound/campaigns/${row.id}/status`, { status }); await load(); }) }, t(key));
  const out = [];
  if (row.status !== 'running' && row.status !== 'finished') out.push(to('running', row.status === 'paused' ? 'ob.resume' : 'ob.start'));
  if (row.status === 'running') out.push(to('paused', 'ob.pause'));
  if (row.status !== 'finished') out.push(to('finished', 'ob.finish'));
  out.push(h('button', { type: 'button', onclick: () => selectCampaign(row) }, t('ob.add_leads')));
  return out;
}

function renderCampaigns() {
  fill($('#campaign-rows'), state.campaigns.map((row) => h('tr', { dataset: { id: row.id } },
    h('td', {}, row.name), h('td', {}, t(`ob.mode.${row.mode}`)), h('td', {}, row.queue || '-'),
    h('td', {}, h('span', { class: `ob-state ${row.status}` }, t(`ob.status.${row.status}`))),
    h('td', { class: 'leads' }, leadsText(row.leads)), h('td', { class: 'muted' }, pacing(row)),
    h('td', { class: 'buttons' }, statusButtons(row)))));
}

function selectCampaign(row) {
  state.selected = row;
  $('#leads-panel').hidden = false;
  $('#leads-campaign').textContent = row.name;
}

async function loadReports() {
  const [campaigns, dispositions, callbacks] = await Promise.all([
    get('/api/outbound/reports/campaigns'), get('/api/outbound/reports/dispositions'),
    get('/api/outbound/reports/callbacks')]);
  fill($('#report-rows'), campaigns.items.map((r) => h('tr', {},
    h('td', {}, r.name), h('td', {}, r.attempts), h('td', {}, r.contacts), h('td', {}, r.busy),
    h('td', {}, r.no_answer), h('td', {}, r.conversion_pct === null ? '-' : `${r.conversion_pct}%`),
    h('td', { class: r.over_cap ? 'ob-over' : '' }, `${r.abandon_pct === null ? '-' : `${r.abandon_pct}%`} / ${r.abandon_cap_pct}%`))));
  fill($('#disposition-rows'), dispositions.items.map((d) => h('li', {}, `${d.name}: ${d.calls} (${d.share_pct}%)`)));
  $('#callback-report').textContent = t('ob.callback_text', callbacks);
}

// --- scripts and wrap-up codes: listed, edited in their form, saved with PUT (new ones with POST) ---------
function questionsText(questions) {
  return (questions || []).map((q) => [q.key, q.label, (q.options || []).join(',')].join('|')).join('\n');
}

function questionsOf(text) {
  return text.split('\n').map((line) => line.trim()).filter(Boolean).map((line, i) => {
    const [key, label, options] = line.split('|').map((part) => (part || '').trim());
    if (!key || !label) throw new Error(t('ob.questions_bad', { line: i + 1 }));
    const choices = (options || '').split(/[,，]/).map((o) => o.trim()).filter(Boolean);
    return { key, label, kind: choices.length ? 'choice' : 'text', options: choices };
  });
}

function editScript(script) {
  const form = $('#script-form');
  form.elements.id.value = script ? script.id : '';
  form.elements.name.value = script ? script.name : '';
  form.elements.queue.value = script ? script.queue : '';
  form.elements.body.value = script ? script.body : '';
  form.elements.questions.value = script ? questionsText(script.questions) : '';
}

function renderScripts() {
  fill($('#script-rows'), state.scripts.map((s) => h('li', { dataset: { id: s.id } },
    h('strong', {}, s.name), ` ${s.queue || ''} `,
    h('button', { type: 'button', class: 'edit', onclick: () => editScript(s) }, t('ob.edit')))));
}

function editCode(code) {
  const form = $('#code-form');
  form.elements.id.value = code ? code.id : '';
  form.elements.code.value = code ? code.code : '';
  form.elements.name.value = code ? code.name : '';
  form.elements.queue.value = code ? code.queue : '';
  form.elements.campaign_id.value = code && code.campaign_id ? String(code.campaign_id) : '';
  form.elements.position.value = code ? code.position : 0;
  form.elements.is_success.checked = Boolean(code && code.is_success);
  form.elements.retry.checked = Boolean(code && code.retry);
  form.elements.is_active.checked = code ? code.is_active : true;
}

function codeFlags(code) {
  const flags = [];
  if (code.is_success) flags.push(t('ob.code_success'));
  if (code.retry) flags.push(t('ob.code_retry'));
  flags.push(t(code.is_active ? 'ob.code_active' : 'ob.code_inactive'));
  return flags.join(' · ');
}

function renderCodes() {
  const campaignName = Object.fromEntries(state.campaigns.map((c) => [c.id, c.name]));
  fill($('#code-rows'), state.codes.map((c) => h('tr', { dataset: { id: c.id, code: c.code } },
    h('td', {}, c.code), h('td', {}, c.name), h('td', {}, c.queue || t('ob.everywhere')),
    h('td', {}, c.campaign_id ? campaignName[c.campaign_id] || `#${c.campaign_id}` : t('ob.everywhere')),
    h('td', { class: 'muted' }, codeFlags(c)),
    h('td', { class: 'buttons' },
      h('button', { type: 'button', class: 'edit', onclick: () => editCode(c) }, t('ob.edit')),
      h('button', { type: 'button', class: 'delete', onclick: () => guarded(async () => {
        await api('DELETE', `/api/outbound/dispositions/${c.id}`);
        notice(t('ob.deleted'));
        await load();
      }) }, t('ob.delete'))))));
  const chosen = $('#code-campaign').value;
  fill($('#code-campaign'), h('option', { value: '' }, t('ob.everywhere')),
    state.campaigns.map((c) => h('option', { value: c.id }, c.name)));
  $('#code-campaign').value = chosen;
}

async function saveForm(form, path, body) {
  const id = form.elements.id.value;
  await api(id ? 'PUT' : 'POST', id ? `${path}/${id}` : path, body);
  notice(t('ob.item_saved'));
  await load();
}

async function load() {
  const [campaigns, scripts, dnc, codes] = await Promise.all([get('/api/outbound/campaigns'),
    get('/api/outbound/scripts'), get('/api/outbound/dnc'), get('/api/outbound/dispositions')]);
  state.campaigns = campaigns.items;
  state.scripts = scripts.items;
  state.codes = codes.items;
  renderCampaigns();
  renderScripts();
  renderCodes();
  const script = $('#script-select').value;
  fill($('#script-select'), h('option', { value: '' }, t('ob.no_script')),
    scripts.items.map((s) => h('option', { value: s.id }, s.name)));
  $('#script-select').value = script;
  fill($('#dnc-list'), dnc.items.map((d) => h('li', {}, `${d.raw} ${d.campaign_id ? `(#${d.campaign_id})` : ''} ${d.note}`)));
  await loadReports();
}

function campaignBody(form) {
  const data = new FormData(form);
  const minutes = (name) => Number(data.get(name) || 0) * 60;
  return {
    name: data.get('name'), mode: data.get('mode'), queue: data.get('queue'), caller_id: data.get('caller_id'),
    schedule: { days: [0, 1, 2, 3, 4], start: data.get('start'), end: data.get('end'), calendar: data.get('calendar') === 'on' },
    retry: { busy: { max: Number(data.get('busy_max')), delay_s: minutes('busy_delay') },
      no_answer: { max: Number(data.get('na_max')), delay_s: minutes('na_delay') } },
    abandon_cap_pct: Number(data.get('abandon_cap_pct')), amd: data.get('amd') === 'on',
    script_id: data.get('script_id') ? Number(data.get('script_id')) : null,
  };
}

function bind() {
  $('#campaign-form').addEventListener('submit', (event) => {
    event.preventDefault();
    guarded(async () => {
      await api('POST', '/api/outbound/campaigns', campaignBody(event.target));
      notice(t('ob.created'));
      await load();
    });
  });
  $('#leads-add').addEventListener('click', () => guarded(async () => {
    const leads = $('#leads-text').value.split('\n').map((line) => line.split(/[,，\t]/))
      .filter(([phone]) => phone && phone.trim()).map(([phone, name]) => ({ phone: phone.trim(), name: (name || '').trim() }));
    const reply = await post(`/api/outbound/campaigns/${state.selected.id}/leads`, { leads });
    notice(t('ob.leads_added', reply));
    $('#leads-text').value = '';
    await load();
  }));
  $('#leads-from-crm').addEventListener('click', () => guarded(async () => {
    const reply = await post(`/api/outbound/campaigns/${state.selected.id}/leads`, { search: $('#leads-search').value });
    notice(t('ob.leads_added', reply));
    await load();
  }));
  $('#script-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.target;
    guarded(() => saveForm(form, '/api/outbound/scripts', { name: form.elements.name.value,
      queue: form.elements.queue.value.trim(), body: form.elements.body.value,
      questions: questionsOf(form.elements.questions.value) }));
  });
  $('#script-new').addEventListener('click', () => editScript(null));
  $('#code-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.target;
    guarded(() => saveForm(form, '/api/outbound/dispositions', { code: form.elements.code.value.trim(),
      name: form.elements.name.value, queue: form.elements.queue.value.trim(),
      campaign_id: form.elements.campaign_id.value ? Number(form.elements.campaign_id.value) : null,
      position: Number(form.elements.position.value || 0), is_success: form.elements.is_success.checked,
      retry: form.elements.retry.checked, is_active: form.elements.is_active.checked }));
  });
  $('#code-new').addEventListener('click', () => editCode(null));
  $('#dnc-add').addEventListener('click', () => guarded(async () => {
    const numbers = $('#dnc-text').value.split(/\s+/).filter(Boolean);
    const reply = await post('/api/outbound/dnc', { numbers });
    notice(t('ob.dnc_added', reply));
    $('#dnc-text').value = '';
    await load();
  }));
}

async function main() {
  await Promise.all([loadNamespace('common'), loadNamespace('outbound')]);
  applyI18n(document);
  bindLangSwitch($('#lang-switch'));
  bind();
  await guarded(load);
  document.addEventListener('langchange', () => guarded(load));
  setInterval(() => guarded(load), 5000);
  window.outboundApp = state;
}

main();
