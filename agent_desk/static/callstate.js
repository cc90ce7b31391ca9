// The desk's view of one call and which buttons make sense in each state. Pure: events in, state out.
// States: ringing -> talking <-> held; talking -> consulting (attended transfer) -> talking | ended;
// talking -> conference; any -> ended.

export const ACTIONS = ['answer', 'hangup', 'hold', 'unhold', 'blind', 'consult', 'complete', 'cancel', 'conference'];

const ENABLED = {
  ringing: ['hangup'],
  talking: ['hangup', 'hold', 'blind', 'consult', 'conference'],
  held: ['hangup', 'unhold', 'blind'],
  consulting: ['hangup', 'complete', 'cancel'],
  conference: ['hangup'],
  ended: [],
};

// The actions possible for `call` (null: no call). `softphoneRinging`: the browser phone can answer.
export function actionsFor(call, { softphoneRinging = false } = {}) {
  const enabled = new Set(call ? ENABLED[call.state] || [] : []);
  if (call && call.state === 'ringing' && softphoneRinging) enabled.add('answer');
  return enabled;
}

export function newCall(event) {
  return {
    callId: event.call_id,
    state: 'ringing',
    caller: event.caller || {},
    channel: event.channel || null,
    queue: event.queue || null,
    since: Date.now(),
    answered: false,
    heldSince: null, // when the current hold began (the held timer)
    heldTotal: 0, // seconds on hold before the current hold
    pop: null,
  };
}

// A call the server reports in progress (GET /api/desk/live), e.g. after a reload of the page.
export function callFromLive(row) {
  const call = newCall(row);
  const state = row.on_hold ? 'held' : row.state === 'ringing' ? 'ringing' : 'talking';
  return { ...call, state, answered: state !== 'ringing', heldSince: state === 'held' ? Date.now() : null };
}

// Seconds the call has been on hold in the current hold (0 when not held).
export function heldSeconds(call, now = Date.now()) {
  return call && call.state === 'held' && call.heldSince ? (now - call.heldSince) / 1000 : 0;
}

// Whether a channel name is the agent's own leg (Local/1001@agents-..., PJSIP/1001-...).
export function isOwnChannel(channel, extension) {
  if (!channel || !extension) return false;
  return channel.startsWith(`Local/${extension}@`) || /^(PJSIP|SIP|IAX2)\//.test(channel) &&
    channel.split('/')[1].startsWith(`${extension}-`);
}

// The call after `event` (a copy; the same object when the event changes nothing).
export function applyEvent(call, event, extension = null) {
  const next = (changes) => ({ ...call, ...changes });
  switch (event.type) {
    case 'call.answered':
      return call.state === 'ringing' ? next({ state: 'talking', answered: true, since: Date.now() }) : call;
    case 'call.hold':
      return ['talking', 'ringing'].includes(call.state)
        ? next({ state: 'held', answered: true, heldSince: Date.now() })
        : call;
    case 'call.unhold':
      return call.state === 'held'
        ? next({ state: 'talking', heldSince: null, heldTotal: call.heldTotal + heldSeconds(call) })
        : call;
    case 'call.conference':
      return next({ state: 'conference' });
    case 'call.transferred':
      return event.kind === 'blind' || call.state === 'consulting' ? next({ state: 'ended' }) : call;
    case 'call.hangup':
      // Only the end of the agent's own leg ends the call for the desk.
      return !event.channel || event.channel === call.channel || isOwnChannel(event.channel, extension)
        ? next({ state: 'ended' })
        : call;
    case 'call.ended':
      return next({ state: 'ended' });
    case 'desk.consult':
      return next({ state: 'consulting', consultTo: event.extension });
    case 'desk.consult_cancelled':
      return next({ state: 'talking', consultTo: null });
    default:
      return call;
  }
}
