// The desk's live connection: one websocket per tab, reconnect with backoff, resume from the last seq.
// Frames are JSON events carrying `seq`; after a reconnect the server replays what this tab missed
// (?since=<seq>), and frames already seen are skipped, so a network blip never loses or doubles a pop.

const PING_MS = 20000;

export class DeskSocket {
  constructor({ url = '/ws', onEvent = () => {}, onStatus = () => {}, onGap = () => {}, onRebind = () => {} } = {}) {
    this.url = url;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onGap = onGap;
    this.onRebind = onRebind;
    this.lastSeq = null;
    this.welcome = false;
    this.ws = null;
    this.online = false;
    this.attempt = 0;
    this.stopped = false;
    this.timer = null;
    this.pinger = null;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.ws) this.ws.close();
  }

  address() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const since = this.lastSeq === null ? '' : `?since=${encodeURIComponent(this.lastSeq)}`;
    return `${scheme}//${location.host}${this.url}${since}`;
  }

  open() {
    let ws;
    try {
      ws = new WebSocket(this.address());
    } catch (_) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      clearInterval(this.pinger);
      this.pinger = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('ping'), PING_MS);
    };
    ws.onmessage = (message) => this.receive(message.data);
    ws.onclose = (closing) => {
      if (this.ws !== ws) return;
      clearInterval(this.pinger);
      this.setOnline(false);
      if (closing.code === 4401 || closing.code === 1008) {
        this.toLogin();
        return;
      }
      // The user's seat or extension changed (here or in another tab): reconnect under the binding of now.
      if (closing.code === 4409) {
        this.lastSeq = null; // another extension's frames: nothing to resume
        this.onRebind();
      }
      // A refused handshake looks like a network error: ask the API whether the session has ended.
      if (this.attempt >= 2) this.checkSession();
      this.scheduleReconnect();
    };
    ws.onerror = () => ws.close();
  }

  toLogin() {
    this.stop();
    location.href = '/login?next=' + encodeURIComponent(location.pathname);
  }

  checkSession() {
    fetch('/api/auth/me', { credentials: 'same-origin' })
      .then((response) => { if (response.status === 401) this.toLogin(); })
      .catch(() => { /* offline: keep trying */ });
  }

  receive(data) {
    let event;
    try {
      event = JSON.parse(data);
    } catch (_) {
      return;
    }
    if (event.type === 'hub.hello') {
      this.setOnline(true);
      if (event.gap) this.onGap(event);
      if (!event.resumed || event.gap) {
        // A fresh start: the frames that follow up to this seq are the server's summary of now.
        this.lastSeq = event.seq;
        this.welcome = true;
      }
      return;
    }
    if (event.type === 'hub.pong') return;
    if (typeof event.seq === 'number') {
      if (this.lastSeq !== null && event.seq <= this.lastSeq) {
        if (!this.welcome) return; // already seen before the reconnect
      } else {
        this.welcome = false;
        this.lastSeq = event.seq;
      }
    }
    this.onEvent(event);
  }

  setOnline(online) {
    if (this.online === online) return;
    this.online = online;
    this.onStatus(online);
  }

  scheduleReconnect() {
    if (this.stopped) return;
    // 0.5 s, 1 s, 2 s ... capped at 15 s, with jitter so that a restarted server is not stampeded.
    const base = Math.min(15000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), base / 2 + Math.random() * base / 2);
  }
}

// Show `banner` while the socket is offline.
export function bindBanner(socket, banner) {
  const previous = socket.onStatus;
  banner.hidden = true;
  socket.onStatus = (online) => {
    banner.hidden = online;
    previous(online);
  };
}
