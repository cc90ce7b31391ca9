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

  // Whether this phone carries a call (ringing or connected) that it can end itself, with a SIP BYE
  // or a decline, as a desk phone's hook would; the PBX then sees the agent's device hang up.
  get carriesCall() {
    return Boolean(this.session && this.ua && this.ua.isConnected());
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
    // enabling again (another password after a failed registration) replaces the phone, never adds one
    this.stop();
    const host = new URL(this.sip.wss_url).hostname;
    const socket = new JsSIP.WebSocketInterface(this.sip.wss_url);
    const ua = new JsSIP.UA({
      sockets: [socket],
      uri: `sip:${this.sip.extension}@${host}`,
      password,
      register: true,
      session_timers: false,
    });
    // events of a phone already replaced or stopped change nothing
    const mine = (handler) => (event) => { if (this.ua === ua) handler(event); };
    ua.on('registered', mine(() => this.set('registered')));
    ua.on('unregistered', mine(() => this.set('unregistered')));
    ua.on('registrationFailed', mine(() => this.set('failed')));
    ua.on('disconnected', mine(() => this.set('disconnected')));
    ua.on('newRTCSession', mine(({ session }) => this.attach(session)));
    this.ua = ua;
    this.set('connecting');
    ua.start();
  }

  attach(session) {
    this.session = session;
    session.on('peerconnection', ({ peerconnection }) => {
      peerconnection.addEventListener('track', (event) => {
        // a far end whose SDP names no stream (no a=msid) gives a bare track
        this.audio.srcObject = event.streams[0] || new MediaStream([event.track]);
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

  // RTP of the current call both ways (RTCPeerConnection.getStats): packets sent and received, and the
  // energy of the audio heard (0 while the far end sends silence). null without a call.
  async mediaStats() {
    const pc = this.session && this.session.connection;
    if (!pc) return null;
    const totals = { sent: 0, received: 0, energy: 0 };
    (await pc.getStats()).forEach((report) => {
      if (report.kind !== 'audio') return;
      if (report.type === 'outbound-rtp') totals.sent += report.packetsSent || 0;
      if (report.type === 'inbound-rtp') {
        totals.received += report.packetsReceived || 0;
        totals.energy += report.totalAudioEnergy || 0;
      }
    });
    return totals;
  }

  // Unregisters (REGISTER with Expires: 0) and closes the websocket.
  stop() {
    const ua = this.ua;
    this.ua = null;
    this.session = null;
    if (ua) ua.stop();
    this.set('off');
  }
}
