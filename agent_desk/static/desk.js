// The agent desk: state bar, call control, screen-pop, history and message box.
// Data is shown with text nodes only (dom.js); the agent's state is what Asterisk reports (agent.state).
import { t, inLanguage, loadNamespace, applyI18n, bindLangSwitch } from '/static/i18n.js';
import { formatTime, fromBusinessTime } from '/static/time.js';
import { h, fill, $, clock } from '/static/dom.js';
import { get, post, api } from '/static/api.js';
import { DeskSocket, bindBanner } from '/static/ws.js';
import { Softphone } from '/static/softphone.js';
import { actionsFor, applyEvent, newCall, callFromLive, heldSeconds } from '/static/callstate.js';

const desk = {
  me: null,
  agent: { state: 'logged_out', reason: '', since: Date.now(), queues: [] },
  calls: new Map(), // call_id -> call (callstate.js)
  active: null, // call_id shown in the call panel and the pop
  kept: null, // the ended call whose pop stays open (wrap-up: finish its ticket or note)
  wrapup: null, // {until}: the server's wrap-up deadline
  catalog: null,
  softphone: null,
  socket: null,
};

const ext = () => desk.me && desk.me.user.extension;
const activeCall = () => (desk.active ? desk.calls.get(desk.active) || null : null);

// A translated label for a value, or the value itself when there is no translation for it.
function label(prefix, value) {
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? String(value) : text;
}

// --- notices -----------------------------------------------------------------------------------------
let noticeTimer = null;
function notify(text, error = false) {
  const el = $('#notice');
  el.textContent = text;
  el.classList.toggle('error', error);
  el.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { el.hidden = true; }, 5000);
}

async function attempt(work, done) {
  try {
    const result = await work();
    if (done) notify(done);
    return result;
  } catch (err) {
    notify(t('desk.failed', { detail: err.message }), true);
    return null;
  }
}

// --- phone numbers: every number shown can be dialled with one click ----------------------------------
function phone(number) {
  if (!number) return h('span', { class: 'muted' }, '-');
  return h('a', {
    class: 'dial', title: t('desk.click_to_dial'), dataset: { number },
    onclick: () => dial(number),
  }, number);
}

async function dial(number) {
  await attempt(() => post('/api/desk/dial', { number }), t('desk.dialing', { number }));
}

// --- state bar ---------------------------------------------------------------------------------------
function renderState() {
  const el = $('#agent-state');
  el.className = `state state-${desk.agent.state}`;
  el.dataset.state = desk.agent.state;
  el.textContent = t(`state.${desk.agent.state}`);
  // in wrap-up the state says it all: its reason (after-call work) is not repeated
  const reason = desk.agent.state === 'wrap_up' && desk.agent.reason === 'after_call_work' ? '' : desk.agent.reason;
  $('#agent-reason').textContent = reason ? label('reason', reason) : '';
  for (const label of document.querySelectorAll('#queue-list label')) {
    label.classList.toggle('linked', desk.agent.queues.includes(label.dataset.queue));
  }
}

function onAgentState(event) {
  const changed = event.state !== desk.agent.state || (event.reason || '') !== desk.agent.reason;
  desk.agent = {
    state: event.state, reason: event.reason || '', queues: event.queues || [],
    since: changed ? Date.now() : desk.agent.since,
  };
  renderState();
  // Out of a call by the server's account: ask it where the agent stands (the wrap-up's deadline, calls
  // the PBX ended without the desk hearing of it).
  if (changed && !['on_call', 'ringing'].includes(event.state)) reconcileSoon();
}

// --- the server's view: state, calls in progress, wrap-up deadline (GET /api/desk/live) --------------------
let reconcileTimer = null;
function reconcileSoon() {
  clearTimeout(reconcileTimer);
  reconcileTimer = setTimeout(reconcile, 150);
}

async function reconcile() {
  if (!ext()) return;
  let live;
  try {
    live = await get('/api/desk/live');
  } catch (err) {
    return; // the socket's banner tells of a lost server; nothing to reconcile with
  }
  const known = new Set(live.calls.map((c) => c.call_id));
  for (const call of [...desk.calls.values()]) {
    if (!known.has(call.callId)) finishCall({ ...call, state: 'ended' }); // the PBX no longer has it
  }
  for (const row of live.calls) {
    if (!desk.calls.has(row.call_id)) {
      desk.calls.set(row.call_id, callFromLive(row));
      if (!desk.active) desk.active = row.call_id;
    }
  }
  if (live.agent && (live.agent.state !== desk.agent.state || live.agent.reason !== desk.agent.reason)) {
    desk.agent = { ...live.agent, since: Date.now() };
  }
  setWrapup(live.wrapup_until);
  $('#login-paused').checked = $('#login-paused').checked || Boolean(live.pending_pause);
  renderState();
  renderCall();
}

function setWrapup(until) {
  desk.wrapup = until ? { until: Date.parse(until) } : null;
  $('#wrapup').hidden = !desk.wrapup;
  tickWrapup();
}

function tickWrapup() {
  if (!desk.wrapup) return;
  $('#wrapup-left').textContent = clock(Math.max(0, (desk.wrapup.until - Date.now()) / 1000));
}

function queueChoice() {
  return [...document.querySelectorAll('#queue-list input:checked')].map((box) => box.value);
}

// --- call panel ----------------------------------------------------------------------------------------
function renderCall() {
  const call = activeCall();
  const info = $('#call-info');
  if (!call) {
    fill(info, h('span', { class: 'muted' }, t('desk.no_call')));
  } else {
    fill(info,
      h('div', { class: 'number' }, phone(call.caller.number)),
      h('div', {}, call.caller.name || ''),
      h('div', { class: 'muted' },
        h('span', { id: 'call-state', dataset: { state: call.state } }, t(`call.state.${call.state}`)), ' · ',
        h('span', { id: 'call-timer' }, clock((Date.now() - call.since) / 1000))),
      call.state === 'held'
        ? h('div', { class: 'held', id: 'held' }, `${t('call.held_for')} `, h('b', { id: 'held-timer' }, clock(heldSeconds(call))))
        : null);
  }
  renderButtons();
}

function renderButtons() {
  const enabled = actionsFor(activeCall(), { softphoneRinging: Boolean(desk.softphone && desk.softphone.ringing) });
  for (const button of document.querySelectorAll('[data-action]')) {
    button.disabled = !enabled.has(button.dataset.action);
  }
}

async function callAction(action) {
  const call = activeCall();
  if (!call) return;
  const base = `/api/desk/calls/${encodeURIComponent(call.callId)}`;
  const target = $('#transfer-extension').value.trim();
  const needsTarget = ['blind', 'consult', 'conference'].includes(action);
  if (needsTarget && !/^[0-9]{2,15}$/.test(target)) {
    notify(t('call.need_extension'), true);
    return;
  }
  switch (action) {
    case 'answer':
      desk.softphone.answer();
      break;
    case 'hangup':
      // the browser phone hangs up itself (the PBX sees the agent's device end the call); else the PBX does
      if (desk.softphone && desk.softphone.carriesCall) {
        desk.softphone.hangup();
        notify(t('call.hangup_sent'));
      } else {
        await attempt(() => post(`${base}/hangup`, {}), t('call.hangup_sent'));
      }
      break;
    case 'hold':
    case 'unhold':
      await attempt(() => post(`${base}/${action}`, {}));
      break;
    case 'blind':
      await attempt(() => post(`${base}/transfer`, { extension: target, kind: 'blind' }), t('call.transferred', { extension: target }));
      break;
    case 'consult':
      if (await attempt(() => post(`${base}/transfer`, { extension: target, kind: 'attended' }))) {
        updateCall(call.callId, { type: 'desk.consult', extension: target });
      }
      break;
    case 'complete':
      await attempt(() => post(`${base}/transfer/complete`, {}));
      break;
    case 'cancel':
      if (await attempt(() => post(`${base}/transfer/cancel`, { extension: call.consultTo }))) {
        updateCall(call.callId, { type: 'desk.consult_cancelled' });
      }
      break;
    case 'conference':
      await attempt(() => post(`${base}/conference`, { extension: target }));
      break;
    default:
  }
}

function updateCall(callId, event) {
  const call = desk.calls.get(callId);
  if (!call) return;
  const next = applyEvent(call, event, ext());
  if (next === call) return;
  if (next.state === 'ended') {
    finishCall(next);
    return;
  }
  desk.calls.set(callId, next);
  if (desk.active === callId) renderCall();
}

// The call is over for the desk. Its pop stays open with its forms (a ticket or a note is finished during
// wrap-up) until the next call pops or the agent closes it; the server times the wrap-up.
function finishCall(call) {
  desk.calls.delete(call.callId);
  if (desk.active !== call.callId) return;
  desk.active = desk.calls.size ? [...desk.calls.keys()].pop() : null;
  renderCall();
  if (!desk.active && call.pop) {
    desk.kept = call;
    markPopEnded();
  } else {
    renderPop();
  }
  if (call.answered) reconcileSoon();
}

function markPopEnded() {
  const status = $('#pop-status');
  if (status) {
    status.hidden = false;
    status.textContent = t('pop.call_ended');
  }
  const close = $('#pop-close');
  if (close) close.hidden = false;
}

function closeKeptPop() {
  desk.kept = null;
  renderPop();
}

// --- wrap-up: timed on the server (wrapup_s); the desk shows the deadline and can end it now --------------
async function endWrapup() {
  if (await attempt(() => post('/api/desk/wrapup/end', {}))) reconcileSoon();
}

// --- screen-pop --------------------------------------------------------------------------------------------
function section(titleKey, items, render) {
  return h('div', { class: 'card' },
    h('h4', {}, t(titleKey)),
    items && items.length ? h('ul', { class: 'items' }, items.map(render)) : h('p', { class: 'muted' }, t('pop.empty')));
}

function ivrPath(pop) {
  if (!pop.ivr_path || !pop.ivr_path.length) return null;
  const steps = [];
  pop.ivr_path.forEach((step, index) => {
    if (index) steps.push(' → ');
    steps.push(h('b', {}, step.node || '?'));
    if (step.input) steps.push(` (${t('pop.digits')}: ${step.input})`);
  });
  return h('div', { class: 'ivr', id: 'pop-ivr' }, `${t('pop.ivr')}: `, steps);
}

function linkButton(callId, body, label = t('pop.link')) {
  return h('button', {
    type: 'button',
    onclick: async (event) => {
      const ok = await attempt(() => post(`/api/desk/calls/${encodeURIComponent(callId)}/link`, body), t('pop.linked'));
      if (ok) event.target.replaceWith(h('span', { class: 'linked' }, t('pop.linked')));
    },
  }, label);
}

function customerCard(pop) {
  const c = pop.customer;
  if (c) {
    return h('div', { class: 'card', id: 'pop-customer' },
      h('h4', { class: 'customer-name' }, c.name),
      h('dl', {},
        h('dt', {}, t('customer.level')), h('dd', {}, c.level || '-'),
        h('dt', {}, t('customer.category')), h('dd', {}, c.category || '-'),
        h('dt', {}, t('customer.region')), h('dd', {}, c.region || '-'),
        h('dt', {}, t('customer.contact')), h('dd', {}, pop.contact ? `${pop.contact.name} ${pop.contact.position || ''}` : '-'),
        h('dt', {}, t('customer.phone')), h('dd', {}, phone(pop.caller.number))),
      h('div', { class: 'buttons' }, linkButton(pop.call_id, { customer_id: c.id }, t('pop.link_customer'))));
  }
  if (pop.candidates && pop.candidates.length) {
    return section('pop.candidates', pop.candidates, (cand) => h('li', {},
      h('span', { class: 'grow' }, cand.name, ' ', h('span', { class: 'muted' }, cand.region || '')),
      linkButton(pop.call_id, { customer_id: cand.id }, t('pop.this_one'))));
  }
  return unknownCaller(pop);
}

function unknownCaller(pop) {
  const form = h('form', { id: 'pop-create-customer' },
    h('input', { name: 'name', required: true, maxlength: 200, placeholder: t('customer.name') }),
    h('input', { name: 'phone', required: true, maxlength: 50, value: pop.caller.number || '' }),
    h('select', { name: 'kind' },
      h('option', { value: 'person' }, t('customer.person')), h('option', { value: 'company' }, t('customer.company'))),
    h('button', { type: 'submit', class: 'primary' }, t('pop.create_customer')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { name: form.name.value.trim(), phone: form.phone.value.trim(), kind: form.kind.value };
    const result = await attempt(() => post(`/api/desk/calls/${encodeURIComponent(pop.call_id)}/customer`, body), t('pop.created'));
    if (result) {
      pop.customer = result.customer;
      renderPop();
    }
  });
  return h('div', { class: 'card unknown', id: 'pop-unknown' }, h('h4', {}, t('pop.unknown')), form);
}

function ticketForm(pop) {
  const types = (desk.catalog && desk.catalog.ticket_types) || [];
  const form = h('form', { id: 'pop-ticket' },
    h('select', { name: 'type_id' }, types.map((tt) => h('option', { value: tt.id }, tt.name))),
    h('input', { name: 'title', required: true, maxlength: 200, placeholder: t('ticket.title') }),
    h('select', { name: 'priority' }, ['normal', 'high', 'urgent', 'low'].map((p) => h('option', { value: p }, t(`priority.${p}`)))),
    h('button', { type: 'submit' }, t('pop.create_ticket')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { customer_id: pop.customer ? pop.customer.id : null, type_id: Number(form.type_id.value),
      title: form.title.value.trim(), priority: form.priority.value };
    const result = await attempt(() => post(`/api/desk/calls/${encodeURIComponent(pop.call_id)}/ticket`, body), t('pop.ticket_created'));
    if (result) {
      form.reset();
      // the new ticket is one of the customer's open tickets now: shown at once, the forms left as they are
      pop.open_tickets = [{ id: result.ticket.id, title: result.ticket.title, status: 'open' }, ...(pop.open_tickets || [])];
      $('#pop-tickets').replaceWith(openTickets(pop));
    }
  });
  return form;
}

function openTickets(pop) {
  const card = section('pop.open_tickets', pop.open_tickets, (tk) => h('li', { dataset: { ticket: tk.id } },
    h('span', { class: 'grow' }, `#${tk.id} ${tk.title}`), h('span', { class: 'muted' }, label('ticket.status', tk.status)),
    linkButton(pop.call_id, { ticket_id: tk.id })));
  card.id = 'pop-tickets';
  return card;
}

function orderForm(pop) {
  const products = (desk.catalog && desk.catalog.products) || [];
  const form = h('form', { id: 'pop-order' },
    h('select', { name: 'product_id' }, products.map((p) => h('option', { value: p.id }, `${p.name} ¥${p.price}`))),
    h('input', { name: 'quantity', type: 'number', min: 1, value: 1, style: 'max-width:80px' }),
    h('button', { type: 'submit' }, t('pop.create_order')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { customer_id: pop.customer.id, lines: [{ product_id: Number(form.product_id.value), quantity: Number(form.quantity.value) }] };
    await attempt(() => post(`/api/desk/calls/${encodeURIComponent(pop.call_id)}/order`, body), t('pop.order_created'));
  });
  return form;
}

function noteForm(pop) {
  const form = h('form', { id: 'pop-note' },
    h('input', { name: 'note', required: true, maxlength: 2000, placeholder: t('pop.note') }),
    h('button', { type: 'submit' }, t('pop.add_note')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { customer_id: pop.customer.id, note: form.note.value.trim() };
    if (await attempt(() => post(`/api/desk/calls/${encodeURIComponent(pop.call_id)}/note`, body), t('pop.note_added'))) form.reset();
  });
  return form;
}

const popCall = () => activeCall() || desk.kept;

function renderPop() {
  const call = popCall();
  const pop = call && call.pop;
  const el = $('#pop');
  $('#pop-empty').hidden = Boolean(pop);
  el.hidden = !pop;
  if (!pop) {
    el.replaceChildren();
    return;
  }
  el.dataset.callId = pop.call_id;
  const wait = pop.wait_s === null || pop.wait_s === undefined ? '-' : `${Math.round(pop.wait_s)}s`;
  const outbound = pop.direction === 'outbound';
  const ended = call === desk.kept;
  el.dataset.direction = outbound ? 'outbound' : 'inbound';
  fill(el,
    h('div', { class: 'head' },
      h('span', { class: 'number', id: 'pop-number' }, phone(pop.caller.number)),
      h('span', {}, pop.caller.name || ''),
      outbound
        ? h('span', { class: 'muted', id: 'pop-outbound' }, t('pop.outbound'))
        : [h('span', { class: 'muted' }, `${t('pop.queue')}: `, h('b', { id: 'pop-queue' }, pop.queue || '-')),
          h('span', { class: 'muted' }, `${t('pop.wait')}: `, h('b', { id: 'pop-wait' }, wait))],
      h('span', { class: 'pop-status', id: 'pop-status', hidden: !ended }, ended ? t('pop.call_ended') : ''),
      h('button', { type: 'button', id: 'pop-close', hidden: !ended, onclick: closeKeptPop }, t('pop.close'))),
    ivrPath(pop),
    customerCard(pop),
    openTickets(pop),
    section('pop.recent_orders', pop.recent_orders, (o) => h('li', {},
      h('span', { class: 'grow' }, `${o.number} ¥${o.total}`), h('span', { class: 'muted' }, label('order.status', o.status)),
      linkButton(pop.call_id, { order_id: o.id }))),
    section('pop.recent_calls', pop.recent_calls, (c) => h('li', {},
      h('span', { class: 'grow' }, formatTime(c.linked_at, 'minutes')),
      h('span', { class: 'muted' }, c.disposition ? label('disposition', c.disposition) : ''))),
    h('div', { class: 'card' }, h('h4', {}, t('pop.actions')), ticketForm(pop),
      pop.customer ? orderForm(pop) : null, pop.customer ? noteForm(pop) : null));
}

// --- live events -------------------------------------------------------------------------------------------
function isMine(event) {
  return event.agent === ext() || event.extension === ext();
}

function onEvent(event) {
  const { type } = event;
  document.dispatchEvent(new CustomEvent('deskevent', { detail: event })); // desk-outbound.js listens
  if (type === 'agent.state') {
    if (isMine(event)) onAgentState(event);
    return;
  }
  if (type === 'call.ringing' || type === 'screen.pop') {
    if (!isMine(event)) return;
    let call = desk.calls.get(event.call_id);
    if (!call) {
      call = newCall(event);
      desk.calls.set(event.call_id, call);
    }
    if (type === 'screen.pop') {
      const caller = event.direction === 'outbound' ? event.caller : call.caller;
      desk.calls.set(event.call_id, { ...call, pop: event, queue: event.queue, caller });
    }
    desk.active = event.call_id;
    desk.kept = null; // a new call's pop replaces the one kept after the last call
    renderCall();
    renderPop();
    return;
  }
  if (type === 'call.answered' && isMine(event) && !desk.calls.has(event.call_id)) {
    // A call this agent placed (click-to-dial, dial pad, internal): no ringing named the agent.
    const call = newCall(event);
    // show the other party: on a call the agent placed, the "caller" is the agent himself
    if ((event.caller || {}).number === ext() && event.callee) call.caller = event.callee;
    desk.calls.set(event.call_id, call);
    desk.active = event.call_id;
  }
  if (type.startsWith('call.') && desk.calls.has(event.call_id)) updateCall(event.call_id, event);
}

// --- history and message box ---------------------------------------------------------------------------------
// A day of the filter as the moment it starts in the business time zone (the end day counts whole).
function dayBound(day, end) {
  const start = fromBusinessTime(day);
  if (!start) return day;
  return new Date(start.getTime() + (end ? 86400000 : 0)).toISOString();
}

async function loadHistory() {
  if (!ext()) { // nothing to ask before a seat or an extension is bound
    fill($('#history-rows'), h('tr', {}, h('td', { colspan: 6, class: 'muted', id: 'history-unbound', 'data-i18n': 'history.bind_first' }, t('history.bind_first'))));
    return;
  }
  const form = $('#history-filters');
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(form)) {
    if (value) params.set(key, key === 'from' || key === 'to' ? dayBound(value, key === 'to') : value);
  }
  const data = await attempt(() => get(`/api/desk/calls?${params}`));
  if (!data) return;
  fill($('#history-rows'), data.items.map((c) => h('tr', {},
    h('td', {}, formatTime(c.started_at, 'minutes')),
    h('td', {}, label('direction', c.direction)),
    h('td', {}, phone(c.direction === 'outbound' ? c.dialed : c.caller_number)),
    h('td', {}, c.queue || '-'),
    h('td', {}, c.talk_s ? clock(c.talk_s) : '-'),
    h('td', {}, c.disposition ? label('disposition', c.disposition) : '-'))));
}

async function loadMessages() {
  const box = await attempt(() => get('/api/desk/messages'));
  if (!box) return;
  const none = () => h('li', { class: 'muted' }, t('pop.empty'));
  fill($('#msg-tickets'), box.tickets.length ? box.tickets.map((tk) => h('li', {},
    h('span', { class: 'grow' }, `#${tk.id} ${tk.title}`), h('span', { class: 'muted' }, label('priority', tk.priority)))) : none());
  fill($('#msg-orders'), box.order_steps.length ? box.order_steps.map((o) => h('li', {},
    h('span', { class: 'grow' }, o.number), h('span', { class: 'muted' }, inLanguage(o.step)))) : none());
  fill($('#msg-announcements'), box.announcements.length ? box.announcements.map((a) => h('li', {},
    h('span', { class: 'grow' }, h('b', {}, a.title), ' ', a.body))) : none());
  const alerts = box.stock_alerts || []; // only for those who keep the stock
  for (const el of document.querySelectorAll('.stock-alerts, #msg-stock')) el.hidden = !alerts.length;
  fill($('#msg-stock'), alerts.map((a) => h('li', { dataset: { product: a.product_id } },
    h('span', { class: 'grow' }, `${a.sku} ${a.name}`),
    h('span', { class: 'muted' }, t('common.stock_alert', { stock: a.stock, minimum: a.minimum })))));
}

function showTab(name) {
  for (const button of document.querySelectorAll('.tabs button')) button.classList.toggle('active', button.dataset.tab === name);
  $('#tab-history').hidden = name !== 'history';
  $('#tab-messages').hidden = name !== 'messages';
  if (name === 'history') loadHistory();
  else loadMessages();
}

// --- set-up ------------------------------------------------------------------------------------------------
function buildQueues() {
  fill($('#queue-list'), desk.me.queues.map((queue) => h('label', { dataset: { queue } },
    h('input', { type: 'checkbox', value: queue, checked: true }), ` ${queue}`)));
}

function buildDialpad() {
  const input = $('#dial-number');
  fill($('#dial-keys'), ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'].map((key) =>
    h('button', { type: 'button', onclick: () => { input.value += key; } }, key)));
  $('#dial-button').addEventListener('click', () => input.value.trim() && dial(input.value.trim()));
  input.addEventListener('keydown', (event) => { if (event.key === 'Enter' && input.value.trim()) dial(input.value.trim()); });
}

function buildSoftphone() {
  desk.softphone = new Softphone(desk.me.sip, $('#remote-audio'), (status) => {
    $('#softphone-status').textContent = t(`phone.${status}`);
    renderButtons();
  });
  $('#softphone').hidden = !desk.softphone.available;
  $('#softphone-start').addEventListener('click', () =>
    attempt(() => desk.softphone.start($('#sip-password').value)));
}

function renderWho() {
  $('#agent-name').textContent = desk.me.user.display_name || desk.me.user.username;
  $('#agent-extension').textContent = ext() || t('desk.unbound');
}

function bindActions() {
  for (const button of document.querySelectorAll('[data-action]')) {
    button.addEventListener('click', () => callAction(button.dataset.action));
  }
  $('#queues-login').addEventListener('click', () => {
    const paused = $('#login-paused').checked;
    const body = { queues: queueChoice(), paused, reason: paused ? $('#pause-reason').value : '' };
    attempt(() => post('/api/desk/queues/login', body), t(paused ? 'desk.queue_login_paused_sent' : 'desk.queue_login_sent'));
  });
  $('#wrapup-end').addEventListener('click', endWrapup);
  $('#queues-logout').addEventListener('click', () =>
    attempt(() => post('/api/desk/queues/logout', { queues: queueChoice() }), t('desk.queue_logout_sent')));
  $('#ready-button').addEventListener('click', () => attempt(() => post('/api/desk/state', { paused: false })));
  $('#pause-button').addEventListener('click', async () => {
    const result = await attempt(() => post('/api/desk/state', { paused: true, reason: $('#pause-reason').value }));
    if (result && result.pending) { // in no queue yet: the next queue login goes in paused
      $('#login-paused').checked = true;
      notify(t('desk.pause_pending'));
    }
  });
  $('#logout-button').addEventListener('click', async () => {
    await api('POST', '/api/auth/logout').catch(() => null);
    location.href = '/login';
  });
  $('#bind-button').addEventListener('click', () => $('#bind-dialog').showModal());
  $('#bind-form').addEventListener('submit', async (event) => {
    const form = event.target;
    if (event.submitter && event.submitter.value !== 'ok') return;
    const seat = form.seat.value.trim();
    const extension = form.extension.value.trim();
    const result = seat ? await attempt(() => post('/api/desk/seat', { seat }))
      : extension ? await attempt(() => post('/api/desk/extension', { extension })) : null;
    if (result) {
      desk.me.user.extension = result.extension;
      desk.me.sip.extension = result.extension;
      renderWho();
      desk.socket.stop();
      desk.socket.lastSeq = null;
      desk.socket.start();
      loadHistory();
      reconcile();
    }
  });
  $('#history-filters').addEventListener('submit', (event) => { event.preventDefault(); loadHistory(); });
  for (const button of document.querySelectorAll('.tabs button')) button.addEventListener('click', () => showTab(button.dataset.tab));
}

function tick() {
  $('#state-timer').textContent = clock((Date.now() - desk.agent.since) / 1000);
  const timer = $('#call-timer');
  const call = activeCall();
  if (timer && call) timer.textContent = clock((Date.now() - call.since) / 1000);
  const held = $('#held-timer');
  if (held && call) held.textContent = clock(heldSeconds(call));
  tickWrapup(); // the server ends the wrap-up at its deadline; the next agent.state hides the countdown
}

// The server closed this tab's socket because the user's binding changed: show the seat he holds now.
async function rebound() {
  const me = await attempt(() => get('/api/desk/me'));
  if (!me) return;
  desk.me = me;
  renderWho();
  buildQueues();
  if (!ext()) $('#bind-dialog').showModal();
}

async function main() {
  await Promise.all([loadNamespace('common'), loadNamespace('desk')]);
  applyI18n(document);
  bindLangSwitch($('#lang-switch'));
  [desk.me, desk.catalog] = await Promise.all([get('/api/desk/me'), get('/api/desk/catalog').catch(() => null)]);
  renderWho();
  buildQueues();
  buildDialpad();
  buildSoftphone();
  bindActions();
  renderState();
  renderCall();
  renderPop();
  desk.socket = new DeskSocket({ onEvent, onGap: () => { loadHistory(); reconcile(); }, onRebind: rebound });
  bindBanner(desk.socket, $('#offline-banner'));
  const banner = desk.socket.onStatus;
  desk.socket.onStatus = (online) => { banner(online); if (online) reconcileSoon(); };
  desk.socket.start();
  reconcile(); // a call in progress or a wrap-up survives a reload of the page
  window.deskApp = desk; // for the browser tests and for support staff in the console
  document.addEventListener('langchange', () => { renderWho(); renderState(); renderCall(); renderPop(); });
  setInterval(tick, 1000);
  showTab('history');
  if (!ext()) $('#bind-dialog').showModal();
}

main();
