// The recordings page: search, one row per recorded call (one click plays it), the list's counts per status.
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

function select(tr, file) {
  for (const other of rows.querySelectorAll('tr.current')) other.classList.remove('current');
  tr.classList.add('current');
  player.load({ id: file.id }, { autoplay: true });
}

// One row per recorded call; each of its files (the queue's recording of the whole call, the agent's)
// gets its own play button, the best one first.
function row(item) {
  const tr = document.createElement('tr');
  tr.className = 'rec-row';
  tr.dataset.id = String(item.id);
  tr.dataset.callId = item.call_id || '';
  const files = item.files && item.files.length ? item.files : [item];
  tr.dataset.files = String(files.length);
  tr.append(
    cell(formatTime(item.started_at)),
    cell(item.agent),
    cell(item.queue),
    cell(item.caller_number),
    cell(item.direction ? t(`recordings.${item.direction}`) : ''),
    cell(duration(item.duration_s), 'num'),
    cell(item.satisfaction, 'num'),
    cell(t(`recordings.status_${item.status}`)),
  );
  const td = document.createElement('td');
  td.className = 'rec-files';
  for (const file of files) {
    if (!file.playable) continue;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'rec-play';
    button.dataset.id = String(file.id);
    const kind = t(`recordings.file_${file.kind || 'other'}`);
    button.textContent = files.length > 1 ? `${t('recordings.play')} · ${kind} ${duration(file.duration_s)}` : t('recordings.play');
    button.title = kind;
    button.addEventListener('click', () => select(tr, file));
    td.append(button);
  }
  tr.append(td);
  return tr;
}

// The counters are the list's own rows per status (same query, same scope, same filters).
function showCounts(counts) {
  const box = document.getElementById('rec-status');
  const parts = ['total', 'ready', 'recording', 'pending', 'unlinked', 'missing', 'invalid', 'deleted'].map((key) => {
    const span = document.createElement('span');
    span.dataset.count = key;
    const label = document.createElement('span');
    label.textContent = `${t(key === 'total' ? 'recordings.total' : `recordings.status_${key}`)}: `;
    const value = document.createElement('b');
    value.textContent = String((counts && counts[key]) ?? 0);
    span.append(label, value);
    return span;
  });
  box.replaceChildren(...parts);
}

async function search() {
  message.textContent = '';
  try {
    const page = await getJson(`/api/recordings?${queryString()}`);
    if (!page) return null;
    rows.replaceChildren(...page.items.map(row));
    showCounts(page.counts);
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
  document.addEventListener('langchange', () => { search(); });
  const page = await search();
  if (autoplay && page) {
    const first = page.items.find((item) => item.playable);
    const tr = first && rows.querySelector(`tr[data-id="${first.id}"]`);
    const file = first && (first.files || [first]).find((f) => f.playable);
    if (tr && file) select(tr, file);
  }
}

main();
