// Browser softphone: JsSIP (from npm, served at /vendor/jssip.js) registered to the Asterisk WebRTC
// endpoint of the agent's extension. Used only when the server has a SIP websocket URL (CC_SIP_WSS_URL);
// agents with desk phones leave it off.

function loadScript(src) {
  return new Promise((resolve, reject) => {
    if (window.JsSIP) return resolve(window.JsSIP);
    const script = document.createElement('script');
    script.src = src;
    script.onload = () => resolve(window.JsSIP);
    script.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.appendChild(script);
  });
}

export class Softphone {
  // sip: {wss_url, extension}; audio: an <audio> element for the far end; onChange(status) on any change.
  constructor(sip, audio, onChange = () => {}) {
    this.sip = sip || {};
    this.audio = audio;
    this.onChange = onChange;
    this.ua = null;
    this.session = null;
    this.status = 'off';
  }

  get available() {
    return Boolean(this.sip.wss_url && this.sip.extension);
  }

  get ringing() {
    return Boolean(this.session && this.session.direction === 'incoming' && !this.session.isEstablished());
  }

  set(status) {
    this.status = status;
    this.onChange(status);
  }

  async start(password) {
    if (!this.available) return;
    const JsSIP = await loadScript('/vendor/jssip.js');
    const host = new URL(this.sip.wss_url).hostname;
    const socket = new JsSIP.WebSocketInterface(this.sip.wss_url);
    this.ua = new JsSIP.UA({
      sockets: [socket],
      uri: `sip:${this.sip.extension}@${host}`,
      password,
      register: true,
      session_timers: false,
    });
    this.ua.on('registered', () => this.set('registered'));
    this.ua.on('unregistered', () => this.set('unregistered'));
    this.ua.on('registrationFailed', () => this.set('failed'));
    this.ua.on('disconnected', () => this.set('disconnected'));
    this.ua.on('newRTCSession', ({ session }) => this.attach(session));
    this.set('connecting');
    this.ua.start();
  }

  attach(session) {
    this.session = session;
    session.on('peerconnection', ({ peerconnection }) => {
      peerconnection.addEventListener('track', (event) => {
        this.audio.srcObject = event.streams[0];
      });
    });
    const done = () => {
      if (this.session === session) this.session = null;
      this.set(this.ua && this.ua.isRegistered() ? 'registered' : this.status);
    };
    session.on('ended', done);
    session.on('failed', done);
    session.on('confirmed', () => this.set('in_call'));
    if (session.direction === 'incoming') this.set('ringing');
  }

  answer() {
    if (this.ringing) this.session.answer({ mediaConstraints: { audio: true, video: false } });
  }

  hangup() {
    if (this.session) this.session.terminate();
  }

  stop() {
    if (this.ua) this.ua.stop();
    this.ua = null;
    this.set('off');
  }
}
