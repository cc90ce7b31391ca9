// The wallboard: per-queue big numbers and the agent grid, live from the websocket.
// First paint from /api/monitor/wallboard; then each queue.stats frame repaints one queue card and each
// agent.state frame one grid row. Longest wait and time in state tick locally between frames; the
// grid's calls-today and current caller are refreshed from the snapshot every 30 s.
import { t, loadNamespace, applyI18n, bindLangSwitch } from '/static/i18n.js';
import { get, post, ApiError } from '/static/api.js';
import { formatTime } from '/static/time.js';
import { DeskSocket } from '/static/ws.js';

const REFRESH_MS = 30000;
// Colour thresholds: [good up to / from, warning up to / from]; beyond is bad.
const THRESHOLDS = {
  sl_pct: { good: 80, warn: 60, higherIsBetter: true },
  abandon_pct: { good: 5, warn: 10 },
  waiting: { good: 0, warn: 3 },
  longest_wait_s: { good: 20, warn: 60 },
  asa_s: { good: 20, warn: 40 },
};
const STATES = ['available', 'on_call', 'ringing', 'wrap_up', 'paused', 'logged_in'];
const TODAY = ['offered', 'answered', 'abandoned', 'sl_pct', 'asa_s', 'aht_s', 'abandon_pct'];

const queueBox = document.getElementById('queues');
const agentBody = document.getElementById('agents');
const message = document.getElementById('message');
const queues = new Map(); // queue -> { stats, at }
const agents = new Map(); // agent -> grid row data (+ sinceMs)
let settings = { sl_threshold_s: 20, short_abandon_s: 5 };

function el(tag, className = '', text = '') {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== '') node.textContent = text;
  return node;
}

function clockText(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function shown(key, value) {
  if (value === null || value === undefined) return '–';
  if (key.endsWith('_pct')) return `${Number(value).toFixed(1)}%`;
  if (key.endsWith('_s')) return clockText(value);
  return String(value);
}

function tone(key, value) {
  const rule = THRESHOLDS[key];
  if (!rule || value === null || value === undefined) return '';
  if (rule.higherIsBetter) return value >= rule.good ? 'good' : value >= rule.warn ? 'warn' : 'bad';
  return value <= rule.good ? 'good' : value <= rule.warn ? 'warn' : 'bad';
}

function metric(key, label, value, big = false) {
  const box = el('div', 'metric');
  box.append(el('span', 'label', label));
  const v = el('span', `value ${tone(key, value)}`.trim(), shown(key, value));
  v.dataset.key = key;
  if (big) v.style.fontSize = '4.2em';
  box.append(v);
  return box;
}

function longestNow(entry) {
  const { stats, at } = entry;
  if (!stats.waiting) return 0;
  return stats.longest_wait_s + (Date.now() - at) / 1000;
}

function renderQueue(name) {
  const entry = queues.get(name);
  const { stats } = entry;
  let card = queueBox.querySelector(`[data-queue="${CSS.escape(name)}"]`);
  if (!card) {
    card = el('article', 'queue');
    card.dataset.queue = name;
    queueBox.append(card);
  }
  const big = el('div', 'big');
  big.append(metric('waiting', t('wb.waiting'), stats.waiting, true));
  big.append(metric('longest_wait_s', t('wb.longest_wait'), longestNow(entry), true));
  const staff = el('div', 'row');
  for (const s of STATES) staff.append(metric(`agents_${s}`, t(`wb.agents_${s}`), (stats.agents || {})[s] ?? 0));
  const today = el('div', 'row today');
  for (const k of TODAY) today.append(metric(k, t(`wb.today_${k}`), (stats.today || {})[k]));
  const title = el('h2', '', name);
  card.replaceChildren(title, big, staff, today);
}

function renderAllQueues() {
  for (const name of [...queues.keys()].sort()) renderQueue(name);
}

function applyQueueStats(stats) {
  queues.set(stats.queue, { stats, at: Date.now() });
  renderQueue(stats.queue);
}

async function supervise(path, body) {
  try {
    await post(`/api/supervisor/${path}`, body);
    message.textContent = t('wb.action_done');
  } catch (error) {
    message.textContent = t('wb.action_failed', { detail: error.message });
  }
}

function actionButtons(row) {
  const box = el('td', 'actions');
  if (!row.extension) return box;
  const ext = row.extension;
  const add = (key, handler) => {
    const b = el('button', '', t(key));
    b.type = 'button';
    b.addEventListener('click', handler);
    box.append(b);
  };
  add('wb.listen', () => supervise('spy', { extension: ext, mode: 'listen' }));
  add('wb.whisper', () => supervise('spy', { extension: ext, mode: 'whisper' }));
  add('wb.barge', () => supervise('spy', { extension: ext, mode: 'barge' }));
  // every state has a way out: a wrap-up can be ended (by its rule) and a paused agent made available
  if (row.state === 'wrap_up') add('wb.end_wrapup', () => supervise('wrapup/end', { extension: ext }));
  if (row.state === 'paused' || row.state === 'wrap_up') {
    add('wb.make_available', () => supervise('available', { extension: ext }));
  } else if (row.state !== 'logged_out') {
    add('wb.force_pause', () => supervise('pause', { extension: ext, paused: true, reason: '' }));
  }
  add('wb.force_logout', () => {
    if (window.confirm(t('wb.confirm_logout', { agent: row.name || row.agent }))) {
      supervise('logout', { extension: ext, queues: row.queues && row.queues.length ? row.queues : [] });
    }
  });
  return box;
}

function renderAgents() {
  const rows = [...agents.values()].sort((a, b) => String(a.name).localeCompare(String(b.name)));
  agentBody.replaceChildren(
    ...rows.map((row) => {
      const tr = el('tr');
      tr.dataset.agent = row.agent;
      const state = el('span', `state ${row.state}`, t(`wb.state_${row.state}`));
      const stateCell = el('td');
      stateCell.append(state);
      const since = el('td', 'num since', clockText(row.sinceMs ? (Date.now() - row.sinceMs) / 1000 : null));
      tr.append(
        el('td', '', row.name || row.agent),
        el('td', '', row.extension || ''),
        stateCell,
        // in wrap-up the state says it all: its reason (after-call work) is not repeated
        el('td', '', row.state === 'wrap_up' && row.reason === 'after_call_work' ? '' : reasonText(row.reason)),
        since,
        el('td', 'num', String(row.calls_today ?? 0)),
        el('td', '', row.current_caller || ''),
        actionButtons(row),
      );
      return tr;
    }),
  );
}

// A pause reason's name in the page's language (common.json's reason.*), else the code the PBX gave.
function reasonText(reason) {
  if (!reason) return '';
  const key = `reason.${reason}`;
  const text = t(key);
  return text === key ? String(reason) : text;
}

function applyAgentState(event) {
  const row = agents.get(event.agent) || { agent: event.agent, name: event.agent, calls_today: 0 };
  // Counted here until the next snapshot brings the exact figure (and the caller's number).
  if (row.state === 'ringing' && event.state === 'on_call') row.calls_today = (row.calls_today || 0) + 1;
  row.extension = event.extension || row.extension;
  // A new queue list with the same state (logging in to one more queue) keeps the time in state.
  const changed = row.state !== event.state || (row.reason || '') !== (event.reason || '');
  row.state = event.state;
  row.reason = event.reason || '';
  row.queues = event.queues || row.queues;
  if (changed || row.sinceMs === undefined) row.sinceMs = Date.parse(event.ts) || Date.now();
  if (event.state !== 'on_call') row.current_caller = '';
  agents.set(event.agent, row);
  renderAgents();
}

function renderDefinitions() {
  const params = { sl: settings.sl_threshold_s, short: settings.short_abandon_s };
  const list = document.getElementById('definitions');
  list.replaceChildren(...[1, 2, 3, 4, 5].map((n) => el('li', '', t(`wb.def${n}`, params))));
}

async function refresh() {
  try {
    const snap = await get('/api/monitor/wallboard');
    settings = snap.settings || settings;
    for (const stats of snap.queues) queues.set(stats.queue, { stats, at: Date.now() });
    agents.clear();
    for (const row of snap.agents) {
      agents.set(row.agent, { ...row, sinceMs: row.since ? Date.parse(row.since) : null });
    }
    renderAllQueues();
    renderAgents();
    renderDefinitions();
    return true;
  } catch (error) {
    message.textContent = t('wb.load_failed', { detail: error.message });
    return !(error instanceof ApiError && error.status === 403);
  }
}

function tick() {
  document.getElementById('clock').textContent = formatTime(new Date(), 'time');
  for (const [name, entry] of queues) {
    const value = queueBox.querySelector(`[data-queue="${CSS.escape(name)}"] [data-key="longest_wait_s"]`);
    if (value) {
      const seconds = longestNow(entry);
      value.textContent = shown('longest_wait_s', seconds);
      value.className = `value ${tone('longest_wait_s', seconds)}`;
    }
  }
  for (const tr of agentBody.children) {
    const row = agents.get(tr.dataset.agent);
    const cell = tr.querySelector('.since');
    if (row && cell && row.sinceMs) cell.textContent = clockText((Date.now() - row.sinceMs) / 1000);
  }
}

function onStatus(online) {
  const conn = document.getElementById('conn');
  conn.classList.toggle('online', online);
  conn.dataset.i18n = online ? 'wb.online' : 'wb.offline';
  conn.textContent = t(conn.dataset.i18n);
  if (online) refresh();
}

async function main() {
  await loadNamespace('common').catch(() => {});
  await loadNamespace('wallboard');
  applyI18n(document);
  bindLangSwitch(document.getElementById('lang-switch'));
  document.addEventListener('langchange', () => {
    renderAllQueues();
    renderAgents();
    renderDefinitions();
  });
  document.getElementById('tv-toggle').addEventListener('click', () => {
    document.body.classList.toggle('tv');
    if (document.body.classList.contains('tv') && document.documentElement.requestFullscreen) {
      document.documentElement.requestFullscreen().catch(() => {});
    }
  });
  if (new URLSearchParams(location.search).has('tv')) document.body.classList.add('tv');
  // a refusal (the role changed since the page was served) ends the page: no grid, no buttons
  if (!(await refresh())) return;
  const socket = new DeskSocket({
    onEvent: (event) => {
      if (event.type === 'queue.stats') applyQueueStats(event);
      else if (event.type === 'agent.state') applyAgentState(event);
    },
    onStatus,
  });
  socket.start();
  setInterval(tick, 1000);
  setInterval(refresh, REFRESH_MS + Math.random() * 10000); // spread 2,000 screens' refreshes
}

main();
