// Recording and voicemail player: <audio> streamed with HTTP Range, a waveform on a canvas drawn from
// the peaks the server computes, click (or arrow keys) on the waveform to jump, a "go to" time box.
//
//   import { RecordingPlayer, playCall } from '/static/player.js';
//   const player = new RecordingPlayer(container);  player.load({ id: 12 });
//   await playCall('1795451234.6', container);   // one click from a call row, a ticket or a customer
//
// Also a custom element: <cc-recording-player call-id="..."> or recording-id="...".
import { t, errorText, loadNamespace, applyI18n } from '/static/i18n.js';

const ready = loadNamespace('recordings').catch(() => {});

function fmtTime(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '0:00';
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

// "90", "1:30" or "0:01:30" -> seconds; NaN when it is not a time.
export function parseTime(text) {
  const parts = String(text).trim().split(':');
  if (!parts.length || parts.length > 3 || parts.some((p) => !/^\d+(\.\d+)?$/.test(p))) return NaN;
  return parts.reduce((total, part) => total * 60 + Number(part), 0);
}

async function fetchJson(url) {
  const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(errorText(data && data.detail) || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

export class RecordingPlayer {
  constructor(container) {
    this.container = container;
    this.peaks = [];
    this.duration = 0;
    this.source = null;
    this.build();
  }

  build() {
    this.audio = el('audio', { preload: 'metadata', class: 'rp-audio' });
    this.playButton = el('button', { type: 'button', class: 'rp-play', 'data-i18n': 'recordings.play' });
    this.time = el('span', { class: 'rp-time', text: '0:00 / 0:00' });
    this.canvas = el('canvas', {
      class: 'rp-wave', width: '800', height: '64', tabindex: '0', role: 'slider',
      'aria-valuemin': '0', 'data-i18n-title': 'recordings.wave_hint',
    });
    this.jumpInput = el('input', { class: 'rp-jump', size: '6', 'data-i18n-placeholder': 'recordings.jump_placeholder' });
    this.jumpButton = el('button', { type: 'button', class: 'rp-jump-go', 'data-i18n': 'recordings.jump' });
    this.downloadButton = el('button', { type: 'button', class: 'rp-download', 'data-i18n': 'recordings.download' });
    this.message = el('span', { class: 'rp-message', role: 'status' });
    const controls = el('div', { class: 'rp-controls' },
      [this.playButton, this.time, this.jumpInput, this.jumpButton, this.downloadButton, this.message]);
    this.root = el('div', { class: 'rp', hidden: '' }, [this.canvas, controls, this.audio]);
    this.container.append(this.root);
    applyI18n(this.root);

    this.playButton.addEventListener('click', () => this.toggle());
    this.jumpButton.addEventListener('click', () => this.jumpTo(parseTime(this.jumpInput.value)));
    this.jumpInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') this.jumpTo(parseTime(this.jumpInput.value)); });
    this.downloadButton.addEventListener('click', () => this.download());
    this.canvas.addEventListener('click', (e) => {
      const box = this.canvas.getBoundingClientRect();
      this.jumpTo(((e.clientX - box.left) / box.width) * this.totalSeconds());
    });
    this.canvas.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowRight') this.jumpTo(this.audio.currentTime + 5);
      else if (e.key === 'ArrowLeft') this.jumpTo(this.audio.currentTime - 5);
      else if (e.key === ' ') { e.preventDefault(); this.toggle(); }
    });
    for (const name of ['timeupdate', 'loadedmetadata', 'seeked']) this.audio.addEventListener(name, () => this.render());
    this.audio.addEventListener('play', () => this.setPlaying(true));
    this.audio.addEventListener('pause', () => this.setPlaying(false));
    this.audio.addEventListener('ended', () => this.setPlaying(false));
    this.audio.addEventListener('error', () => this.showError(this.audio.error && this.audio.error.code));
    document.addEventListener('langchange', () => { applyI18n(this.root); this.setPlaying(!this.audio.paused); });
  }

  // source: { id } for a recording, or { mailbox, message, folder? } for a voicemail message
  // (message: a msg_id, a listing id, or a file stem looked up in folder, INBOX by default).
  async load(source, { autoplay = false } = {}) {
    await ready;
    this.source = source;
    const base = source.mailbox
      ? `/api/voicemail/${encodeURIComponent(source.mailbox)}/${encodeURIComponent(source.message)}`
      : `/api/recordings/${encodeURIComponent(source.id)}`;
    const query = source.mailbox && source.folder ? `?folder=${encodeURIComponent(source.folder)}` : '';
    this.root.hidden = false;
    this.root.dataset.source = base;
    this.message.textContent = '';
    this.downloadButton.hidden = Boolean(source.mailbox);
    this.peaks = [];
    this.duration = 0;
    this.audio.src = `${base}/audio${query}`;
    this.render();
    const peaks = fetchJson(`${base}/peaks${query}`).then((data) => {
      this.peaks = data.peaks || [];
      this.duration = data.duration_s || 0;
      this.canvas.setAttribute('aria-valuemax', String(Math.round(this.duration)));
      this.render();
    }).catch((error) => this.showError(error.status));
    if (autoplay) await this.play();
    return peaks;
  }

  async play() {
    try {
      await this.audio.play();
    } catch (error) {
      if (error && error.name !== 'AbortError') this.message.textContent = t('recordings.press_play');
    }
  }

  toggle() {
    if (this.audio.paused) this.play();
    else this.audio.pause();
  }

  totalSeconds() {
    return Number.isFinite(this.audio.duration) && this.audio.duration > 0 ? this.audio.duration : this.duration;
  }

  jumpTo(seconds) {
    if (!Number.isFinite(seconds)) {
      this.message.textContent = t('recordings.bad_time');
      return;
    }
    const total = this.totalSeconds();
    this.audio.currentTime = Math.max(0, total ? Math.min(seconds, total) : seconds);
    this.message.textContent = '';
    this.render();
  }

  setPlaying(playing) {
    this.playButton.textContent = t(playing ? 'recordings.pause' : 'recordings.play');
    this.root.dataset.playing = playing ? '1' : '0';
  }

  showError(status) {
    const key = { 403: 'recordings.err_forbidden', 404: 'recordings.err_missing', 410: 'recordings.err_deleted',
      422: 'recordings.err_bad_audio' }[status] || 'recordings.err_generic';
    this.message.textContent = t(key);
  }

  async download() {
    if (!this.source || this.source.mailbox) return;
    const response = await fetch(`/api/recordings/${encodeURIComponent(this.source.id)}/download`, { credentials: 'same-origin' });
    if (!response.ok) { this.showError(response.status); return; }
    const disposition = response.headers.get('content-disposition') || '';
    const match = disposition.match(/filename="([^"]+)"/);
    const link = el('a', { href: URL.createObjectURL(await response.blob()), download: match ? match[1] : 'recording' });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  render() {
    const total = this.totalSeconds();
    const now = this.audio.currentTime || 0;
    this.time.textContent = `${fmtTime(now)} / ${fmtTime(total)}`;
    this.canvas.setAttribute('aria-valuenow', String(Math.round(now)));
    this.root.dataset.position = now.toFixed(2);
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    const { width, height } = this.canvas;
    ctx.clearRect(0, 0, width, height);
    const played = total ? (now / total) * width : 0;
    const count = this.peaks.length;
    const bar = count ? width / count : width;
    for (let i = 0; i < count; i += 1) {
      const x = i * bar;
      const h = Math.max(1, this.peaks[i] * (height - 4));
      ctx.fillStyle = x < played ? '#1f6feb' : '#9aa7b5';
      ctx.fillRect(x, (height - h) / 2, Math.max(1, bar - 0.5), h);
    }
    ctx.fillStyle = '#d1242f';
    ctx.fillRect(Math.min(played, width - 2), 0, 2, height);
  }
}

// One click from a call row: find the call's recording(s) and play the first one that can be played.
export async function playCall(callId, container, player = null, autoplay = true) {
  const page = await fetchJson(`/api/recordings?call_id=${encodeURIComponent(callId)}`);
  const playable = page.items.filter((item) => item.playable);
  if (!playable.length) {
    const error = new Error(t(page.items.length ? 'recordings.err_missing' : 'recordings.none_for_call'));
    error.status = 404;
    throw error;
  }
  const target = player || new RecordingPlayer(container);
  await target.load({ id: playable[0].id }, { autoplay });
  return target;
}

class RecordingPlayerElement extends HTMLElement {
  connectedCallback() {
    if (this.player) return;
    this.player = new RecordingPlayer(this);
    const id = this.getAttribute('recording-id');
    const callId = this.getAttribute('call-id');
    if (id) this.player.load({ id });
    else if (callId) playCall(callId, this, this.player, false).catch((error) => { this.player.message.textContent = error.message; });
  }
}

if (!customElements.get('cc-recording-player')) customElements.define('cc-recording-player', RecordingPlayerElement);
