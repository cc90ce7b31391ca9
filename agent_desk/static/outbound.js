// Outbound administration (外呼活动): campaigns with their mode, schedule, retry policy and abandon cap;
// start / pause / resume; leads from a list or a CRM search; the global do-not-call list; the reports.
import { t, loadNamespace, applyI18n, bindLangSwitch, errorText } from '/static/i18n.js';
import { get, post, api } from '/static/api.js';
import { h, fill, $ } from '/static/dom.js';

const state = { campaigns: [], selected: null };

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

async function load() {
  const [campaigns, scripts, dnc] = await Promise.all([get('/api/outbound/campaigns'),
    get('/api/outbound/scripts'), get('/api/outbound/dnc')]);
  state.campaigns = campaigns.items;
  renderCampaigns();
  fill($('#script-select'), h('option', { value: '' }, t('ob.no_script')),
    scripts.items.map((s) => h('option', { value: s.id }, s.name)));
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
