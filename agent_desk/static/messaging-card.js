// The customer card's messages: what was sent to the customer (e-mail, SMS, with the delivery status)
// and the opt-out switches per channel.
import { t, loadNamespace } from '/static/i18n.js';
import { api, get } from '/static/api.js';
import { h, fill } from '/static/dom.js';
import { label, messagesTable } from '/static/messaging-ui.js';

const CHANNELS = ['sms', 'email'];

async function render(box, customer) {
  await loadNamespace('messaging');
  const [messages, outs] = await Promise.all([
    get(`/api/messaging/messages?customer_id=${customer.id}&limit=50`).catch(() => null),
    get(`/api/messaging/customers/${customer.id}/opt-outs`).catch(() => []),
  ]);
  const optedOut = new Set(outs.filter((o) => o.contact_id === null).map((o) => o.channel));
  const toggle = (channel) => h('label', {},
    h('input', {
      type: 'checkbox', name: `opt-out-${channel}`, checked: optedOut.has(channel),
      onchange: async (event) => {
        await api('PUT', `/api/messaging/customers/${customer.id}/opt-outs`,
          { channel, opted_out: event.target.checked });
        await render(box, customer);
      },
    }), ' ', t('msg.card.opt_out', { channel: label('channel', channel) }));
  fill(box, h('h2', {}, t('msg.card.title')),
    h('div', { class: 'msg-optouts' }, CHANNELS.map(toggle)),
    messages === null ? h('p', { class: 'muted' }, t('msg.card.forbidden')) : messagesTable(messages),
    h('a', { href: `/messaging#customer=${customer.id}` }, t('msg.card.send')));
}

// A panel that fills itself; the card does not wait for it.
export function messagesPanel(customer) {
  const box = h('section', { class: 'panel', id: 'customer-messages' });
  render(box, customer).catch(() => fill(box, h('p', { class: 'muted' }, t('msg.card.forbidden'))));
  return box;
}
