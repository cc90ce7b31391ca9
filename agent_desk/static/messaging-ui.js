// Pieces the messaging page and the customer card share: labels of channels and statuses, and a
// message list.
import { t } from '/static/i18n.js';
import { formatTime } from '/static/time.js';
import { h } from '/static/dom.js';

export const label = (family, value) => {
  const key = `msg.${family}.${value}`;
  const text = t(key);
  return text === key ? String(value ?? '') : text;
};

export function messagesTable(messages, { withCustomer = false } = {}) {
  if (!messages.length) return h('p', { class: 'muted' }, t('msg.log.empty'));
  const head = ['msg.log.time', ...(withCustomer ? ['msg.log.customer'] : []), 'msg.log.channel', 'msg.log.to',
    'msg.log.text', 'msg.log.status'];
  return h('table', { class: 'grid msg-log' },
    h('thead', {}, h('tr', {}, head.map((key) => h('th', {}, t(key))))),
    h('tbody', {}, messages.map((m) => h('tr', { dataset: { message: m.id, status: m.status } },
      h('td', {}, formatTime(m.created_at, 'minutes') || m.created_at),
      withCustomer ? h('td', {}, h('a', { href: `/crm#/customers/${m.customer_id}` }, `#${m.customer_id}`)) : null,
      h('td', {}, label('channel', m.channel)),
      h('td', {}, m.to_address),
      h('td', {}, m.subject ? [h('strong', {}, m.subject), ' '] : null, m.body),
      h('td', { class: `msg-status-${m.status}`, title: m.error || null }, label('status', m.status),
        m.error ? h('div', { class: 'muted' }, m.error) : null)))));
}
