// The recordings page: search, a result table where one click plays a row, the index status counts.
// Query parameters fill the search (e.g. ?call_id=... from a call row, ?customer_id=... from a customer,
// ?ticket_id=... from a ticket); with ?play=1 the first playable result is loaded into the player.
import { t, errorText, loadNamespace, applyI18n, bindLangSwitch } from '/static/i18n.js';
import { RecordingPlayer } from '/static/player.js';
import { formatTime, fromBusinessTime } from '/static/time.js';

const PAGE = 50;
const form = document.getElementById('rec-search');
const rows = document.getElementById('rec-rows');
const message = document.getElementById('rec-message');
let offset = 0;
let player = null;

function cell(text, className = '') {
  const td = document.createElement('td');
  td.textContent = text === null || text === undefined ? '' : String(text);
  if (className) td.className = className;
  return td;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '';
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function queryString() {
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(form).entries()) {
    const text = String(value).trim();
    if (text === '') continue;
    // the from/to fields are the business zone's wall clock; the API compares naive UTC
    const moment = key === 'from' || key === 'to' ? fromBusinessTime(text) : null;
    params.set(key, moment ? moment.toISOString().slice(0, 19) : text);
  }
  params.set('limit', String(PAGE));
  params.set('offset', String(offset));
  return params.toString();
}

async function getJson(url) {
  const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (response.status === 401) {
    location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search);
    return null;
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new Error(errorText(data && data.detail) || `HTTP ${response.status}`);
  return data;
}

function select(tr, item) {
  for (const other of rows.querySelectorAll('tr.current')) other.classList.remove('current');
  tr.classList.add('current');
  player.load({ id: item.id }, { autoplay: true });
}

function row(item) {
  const tr = document.createElement('tr');
  tr.className = 'rec-row';
  tr.dataset.id = String(item.id);
  tr.dataset.callId = item.call_id || '';
  const started = formatTime(item.started_at);
  tr.append(
    cell(started),
    cell(item.agent),
    cell(item.queue),
    cell(item.caller_number),
    cell(item.direction ? t(`recordings.${item.direction}`) : ''),
    cell(duration(item.duration_s), 'num'),
    cell(item.satisfaction, 'num'),
    cell(t(`recordings.status_${item.status}`)),
  );
  const td = document.createElement('td');
  if (item.playable) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'rec-play';
    button.textContent = t('recordings.play');
    button.addEventListener('click', () => select(tr, item));
    td.append(button);
  }
  tr.append(td);
  return tr;
}

async function search() {
  message.textContent = '';
  try {
    const page = await getJson(`/api/recordings?${queryString()}`);
    if (!page) return null;
    rows.replaceChildren(...page.items.map(row));
    document.getElementById('rec-page').textContent = t('recordings.page_info', {
      from: page.total ? offset + 1 : 0, to: offset + page.items.length, total: page.total,
    });
    document.getElementById('rec-prev').disabled = offset === 0;
    document.getElementById('rec-next').disabled = offset + page.items.length >= page.total;
    if (!page.total) message.textContent = t('recordings.no_results');
    return page;
  } catch (error) {
    message.textContent = `${t('recordings.err_generic')} ${error.message}`;
    return null;
  }
}

async function showStatus() {
  const box = document.getElementById('rec-status');
  try {
    const counts = await getJson('/api/recordings/status');
    if (!counts) return;
    const parts = ['total', 'ready', 'recording', 'pending', 'unlinked', 'missing', 'invalid', 'deleted'].map((key) => {
      const span = document.createElement('span');
      const label = document.createElement('span');
      label.textContent = `${t(key === 'total' ? 'recordings.total' : `recordings.status_${key}`)}: `;
      const value = document.createElement('b');
      value.textContent = String(counts[key] ?? 0);
      span.append(label, value);
      return span;
    });
    box.replaceChildren(...parts);
  } catch (_) {
    box.replaceChildren(); // counts need the recording.read permission; the list still works without them
  }
}

function fillFromUrl() {
  const params = new URLSearchParams(location.search);
  for (const element of form.elements) {
    if (element.name && params.has(element.name)) element.value = params.get(element.name);
  }
  return params.get('play') === '1';
}

async function main() {
  await loadNamespace('recordings');
  applyI18n(document);
  bindLangSwitch(document.getElementById('lang-switch'));
  player = new RecordingPlayer(document.getElementById('player'));
  const autoplay = fillFromUrl();
  form.addEventListener('submit', (event) => { event.preventDefault(); offset = 0; search(); });
  document.getElementById('rec-prev').addEventListener('click', () => { offset = Math.max(0, offset - PAGE); search(); });
  document.getElementById('rec-next').addEventListener('click', () => { offset += PAGE; search(); });
  document.addEventListener('langchange', () => { search(); showStatus(); });
  const page = await search();
  showStatus();
  if (autoplay && page) {
    const first = page.items.find((item) => item.playable);
    const tr = first && rows.querySelector(`tr[data-id="${first.id}"]`);
    if (tr) select(tr, first);
  }
}

main();
