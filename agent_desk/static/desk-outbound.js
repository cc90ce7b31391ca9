// The desk's outbound panel: the agent's campaigns (preview: next lead, dial, skip), the campaign call's
// lead and script with its questions and the wrap-up code (处理结果), and callbacks due (one-click dial)
// with a form to schedule one. Live call events come from the desk's socket as 'deskevent' DOM events.
import { t, loadNamespace, applyI18n, errorText } from '/static/i18n.js';
import { get, post } from '/static/api.js';
import { h, fill, $ } from '/static/dom.js';

const ob = { me: null, preview: null, call: null, opening: null, calls: new Map() };

function say(text, bad = false) {
  const box = $('#ob-notice');
  box.textContent = text;
  box.className = bad ? 'refused' : 'muted';
}

async function guarded(work) {
  try {
    await work();
  } catch (error) {
    say(errorText(error.detail || error.message), true);
  }
}

function scriptBlock(view, answers = {}) {
  if (!view.script) return null;
  return h('div', { class: 'card' }, h('h4', {}, `${t('ob.script')}: ${view.script.name}`),
    h('div', { class: 'script', id: 'ob-script' }, view.script.text),
    (view.script.questions || []).map((q) => h('label', { class: 'question' }, `${q.label} `,
      q.kind === 'choice'
        ? h('select', { name: q.key, dataset: { question: q.key } }, h('option', { value: '' }, '-'),
          q.options.map((o) => h('option', { value: o, selected: answers[q.key] === o }, o)))
        : h('input', { name: q.key, dataset: { question: q.key }, value: answers[q.key] || '', maxlength: 200 }))));
}

function leadCard(view) {
  const { lead } = view;
  return h('div', { class: 'lead-card', id: 'ob-lead' },
    h('div', {}, h('b', {}, lead.name || lead.phone), ' ', h('span', { class: 'muted' }, lead.phone),
      ' ', h('span', { class: 'muted' }, `${view.campaign.name} · ${t('ob.attempts')} ${lead.attempts}`)),
    Object.entries(lead.fields || {}).filter(([k]) => !['name', 'phone'].includes(k) && lead.fields[k] !== '')
      .map(([k, v]) => h('div', { class: 'muted' }, `${k}: ${v}`)));
}

function renderPreview() {
  const box = $('#ob-preview');
  if (!ob.preview) { fill(box); return; }
  const view = ob.preview;
  fill(box, leadCard(view), scriptBlock(view), h('div', { class: 'buttons' },
    h('button', { type: 'button', class: 'primary', id: 'ob-dial', onclick: () => guarded(async () => {
      const reply = await post(`/api/outbound/leads/${view.lead.id}/dial`);
      ob.calls.set(reply.call_id, view);
      say(t('ob.dialling', { phone: view.lead.phone }));
      ob.preview = null;
      renderPreview();
      if (reply.call_id) await openCall({ call_id: reply.call_id, queue: view.campaign.queue });
    }) }, t('ob.dial')),
    h('button', { type: 'button', id: 'ob-skip', onclick: () => guarded(async () => {
      await post(`/api/outbound/leads/${view.lead.id}/skip`);
      ob.preview = null;
      renderPreview();
    }) }, t('ob.skip'))));
}

function renderCampaigns() {
  const rows = (ob.me && ob.me.campaigns) || [];
  fill($('#ob-campaigns'), rows.length ? rows.map((c) => h('li', { dataset: { campaign: c.id } },
    h('span', { class: 'grow' }, `${c.name} · ${t(`ob.mode.${c.mode}`)}`),
    c.mode === 'preview'
      ? h('button', { type: 'button', class: 'ob-next', onclick: () => guarded(async () => {
        ob.preview = await post(`/api/outbound/campaigns/${c.id}/preview`);
        say('');
        renderPreview();
      }) }, t('ob.next_lead'))
      : h('span', { class: 'muted' }, t('ob.auto_dial')))) : h('li', { class: 'muted' }, t('ob.no_campaign')));
}

function renderCallbacks() {
  const rows = (ob.me && ob.me.callbacks) || [];
  fill($('#ob-callbacks'), rows.length ? rows.map((c) => h('li', { dataset: { callback: c.id } },
    h('span', { class: 'grow' }, `${c.customer_name || ''} ${c.phone} · ${new Date(c.due_at).toLocaleString()}`),
    h('span', { class: 'muted' }, c.note || ''),
    h('button', { type: 'button', class: 'ob-callback-dial', onclick: () => guarded(async () => {
      await post(`/api/outbound/callbacks/${c.id}/dial`);
      say(t('ob.dialling', { phone: c.phone }));
      await refresh();
    }) }, t('ob.call_back')))) : h('li', { class: 'muted' }, t('ob.no_callbacks')));
}

function renderCall() {
  const box = $('#ob-call');
  const view = ob.call;
  if (!view || (!view.lead && !(view.codes || []).length)) { fill(box); return; }
  const given = view.disposition || {};
  fill(box, h('h4', {}, t('ob.wrapup')), view.lead ? leadCard(view) : null, scriptBlock(view, given.answers || {}),
    h('label', {}, `${t('ob.code')}${view.required ? ' *' : ''} `,
      h('select', { id: 'ob-code' }, h('option', { value: '' }, '-'),
        view.codes.map((c) => h('option', { value: c.code, selected: given.code === c.code }, c.name)))),
    h('input', { id: 'ob-note', maxlength: 1000, value: given.note || '', placeholder: t('ob.note') }),
    h('button', { type: 'button', class: 'primary', id: 'ob-save', onclick: () => guarded(saveDisposition) }, t('ob.save')),
    h('span', { id: 'ob-saved', class: 'muted' }, given.code ? t('ob.saved') : (view.required ? t('ob.required') : '')));
}

async function saveDisposition() {
  const code = $('#ob-code').value;
  if (!code) { say(t('ob.required'), true); return; }
  const answers = {};
  for (const input of document.querySelectorAll('#ob-call [data-question]')) answers[input.dataset.question] = input.value;
  await post(`/api/outbound/calls/${ob.call.call_id}/disposition`, { code, note: $('#ob-note').value, answers, queue: ob.call.queue || '' });
  ob.call.disposition = { code, note: $('#ob-note').value, answers };
  renderCall();
  say(t('ob.saved'));
}

async function openCall(event) {
  if (ob.opening === event.call_id) return;
  ob.opening = event.call_id;
  const queue = event.queue || '';
  const view = await get(`/api/outbound/calls/${encodeURIComponent(event.call_id)}/context?queue=${encodeURIComponent(queue)}`);
  ob.call = { ...view, queue };
  renderCall();
}

function onDeskEvent(event) {
  const me = ob.me && ob.me.extension;
  if (!me || event.agent !== me) return;
  if (ob.opening === event.call_id) return; // shown already: keep what the agent chose
  if (event.type === 'call.answered' || (event.type === 'call.ringing' && ob.calls.has(event.call_id))) {
    guarded(() => openCall(event));
  }
}

async function refresh() {
  const [mine, desk] = await Promise.all([get('/api/outbound/desk'), get('/api/desk/me')]);
  ob.me = { ...mine, extension: desk.user.extension };
  renderCampaigns();
  renderCallbacks();
}

function bindSchedule() {
  $('#ob-schedule').addEventListener('submit', (event) => {
    event.preventDefault();
    guarded(async () => {
      const data = new FormData(event.target);
      const due = new Date(data.get('due_at'));
      await post('/api/outbound/callbacks', { phone: data.get('phone'), due_at: due.toISOString(),
        for_queue: data.get('for_queue') || '', note: data.get('note') || '', call_id: ob.call ? ob.call.call_id : '' });
      event.target.reset();
      say(t('ob.scheduled'));
      await refresh();
    });
  });
}

async function main() {
  await loadNamespace('outbound');
  applyI18n($('#outbound-panel'));
  document.addEventListener('deskevent', (e) => onDeskEvent(e.detail));
  document.addEventListener('langchange', () => { applyI18n($('#outbound-panel')); renderCampaigns(); renderCallbacks(); renderPreview(); renderCall(); });
  bindSchedule();
  await guarded(refresh);
  setInterval(() => guarded(refresh), 20000);
  window.deskOutbound = ob;
}

main();
