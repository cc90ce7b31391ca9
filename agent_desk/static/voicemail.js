// Voicemail (语音信箱): the mailboxes, the messages of one (caller, linked customer, time, duration,
// new or heard), played in the browser through the voicemail audio endpoint, and "mark heard".
// ?mailbox=100@default opens that mailbox.
import { t } from '/static/i18n.js';
import { formatTime } from '/static/time.js';
import { get, post } from '/static/api.js';
import { h, fill, $, clock } from '/static/dom.js';
import { RecordingPlayer } from '/static/player.js';
import { busy, guarded, startPage } from '/static/ivr-admin.js';

// Asterisk's msg_id finds a message in INBOX or Old; without one, the msgNNNN file name in INBOX.
const MSG_ID = /^\d{1,20}-[0-9A-Fa-f]{1,16}$/;

const state = { mailboxes: [], mailbox: null, messages: [], playing: null, player: null };

// --- mailboxes ----------------------------------------------------------------------------------------
function renderMailboxes() {
  const list = $('#mailbox-list');
  if (!state.mailboxes.length) {
    fill(list, h('li', { class: 'muted' }, t('ivr.vm.no_mailboxes')));
    return;
  }
  fill(list, state.mailboxes.map((box) => h('li', {}, h('button', {
    type: 'button', class: box === state.mailbox ? 'current' : null, dataset: { mailbox: box },
    onclick: guarded(() => openMailbox(box)),
  }, box))));
}

async function loadMailboxes() {
  state.mailboxes = await busy(get('/api/ivr/voicemail'));
  renderMailboxes();
}

// --- messages -----------------------------------------------------------------------------------------
function messageRef(message) {
  return MSG_ID.test(message.message_id) ? message.message_id : message.stem;
}

// The shared player names no folder, so a file name is looked up in INBOX: a heard message needs its msg_id.
function playable(message) {
  return MSG_ID.test(message.message_id) || message.folder === 'INBOX';
}

function when(iso) {
  return formatTime(iso);
}

function row(message) {
  const ref = messageRef(message);
  const caller = message.caller_name && message.caller_name !== message.caller
    ? `${message.caller} (${message.caller_name})` : message.caller;
  return h('tr', {
    class: ['vm-row', message.heard ? 'heard' : 'new', state.playing === message.message_id ? 'current' : ''].join(' ').trim(),
    dataset: { message: message.message_id, folder: message.folder },
  },
  h('td', {}, when(message.origtime)),
  h('td', {}, caller),
  h('td', { class: message.customer ? 'linked' : 'muted' },
    message.customer ? message.customer.name : t('ivr.vm.unknown_customer')),
  h('td', { class: 'num' }, clock(message.duration_s)),
  h('td', {}, h('span', { class: message.heard ? 'badge' : 'badge ok' }, t(message.heard ? 'ivr.vm.heard' : 'ivr.vm.new'))),
  h('td', {},
    h('button', {
      type: 'button', class: 'vm-play', disabled: !playable(message), onclick: () => play(message, ref),
    }, t('ivr.vm.play')),
    message.heard ? null : h('button', {
      type: 'button', class: 'vm-heard', onclick: guarded(() => markHeard(message, ref)),
    }, t('ivr.vm.mark_heard'))));
}

function renderMessages() {
  $('#vm-mailbox').textContent = state.mailbox || '';
  fill($('#vm-rows'), state.messages.map(row));
  const note = $('#vm-message');
  const fresh = state.messages.filter((message) => !message.heard).length;
  if (!state.mailbox) note.textContent = t('ivr.vm.pick');
  else if (!state.messages.length) note.textContent = t('ivr.vm.none');
  else note.textContent = t('ivr.vm.count', { total: state.messages.length, new: fresh });
}

async function loadMessages() {
  const folder = $('#vm-folder').value;
  const url = `/api/ivr/voicemail/${encodeURIComponent(state.mailbox)}?folder=${encodeURIComponent(folder)}`;
  state.messages = await busy(get(url));
  renderMessages();
}

async function openMailbox(box) {
  state.mailbox = box;
  renderMailboxes();
  await loadMessages();
}

function play(message, ref) {
  $('#player-panel').hidden = false;
  state.player = state.player || new RecordingPlayer($('#player'));
  state.playing = message.message_id;
  renderMessages();
  state.player.load({ mailbox: message.mailbox, message: ref }, { autoplay: true });
}

async function markHeard(message, ref) {
  const url = `/api/voicemail/${encodeURIComponent(message.mailbox)}/${encodeURIComponent(ref)}/heard?folder=${message.folder}`;
  await busy(post(url));
  await loadMessages();
  $('#vm-message').textContent = t('ivr.vm.marked');
}

async function refresh() {
  await loadMailboxes();
  if (state.mailbox) await loadMessages();
}

async function main() {
  $('#vm-folder').addEventListener('change', guarded(() => state.mailbox && loadMessages()));
  $('#vm-refresh').addEventListener('click', guarded(refresh));
  document.addEventListener('langchange', () => { renderMailboxes(); renderMessages(); });
  await loadMailboxes();
  const wanted = new URLSearchParams(location.search).get('mailbox');
  const first = state.mailboxes.includes(wanted) ? wanted : state.mailboxes[0];
  if (first) await openMailbox(first);
}

startPage(main);
