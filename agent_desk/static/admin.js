// The administration pages in one page with hash routes (#/users, #/roles/3, #/departments): users, roles with
// their permission matrix, the department tree, pause reasons and the customer-field dictionaries, seats,
// ticket types with their SLA, the ticket and order workflows, opportunity stages, menus per role and the
// audit log. Also the pieces the route modules share: forms that check
// what they can before sending, and refusals shown in the reader's language next to the field they name.
import { t, inLanguage, getLang, loadNamespace, applyI18n, bindLangSwitch } from '/static/i18n.js';
import { api, get } from '/static/api.js';
import { backOffice, flash, input, choice, section } from '/static/forms.js';
import { h, fill, $ } from '/static/dom.js';
import * as users from '/static/admin-users.js';
import * as roles from '/static/admin-roles.js';
import * as departments from '/static/admin-departments.js';
import * as lists from '/static/admin-lists.js';
import * as setup from '/static/admin-setup.js';
import * as audit from '/static/admin-audit.js';
import * as menus from '/static/admin-menus.js';

export { get };
export const send = (method, url, body) => api(method, url, body);
export const me = { user: null };

// (path pattern, render(id), nav entry)
const ROUTES = [
  [/^users$/, users.list, 'users'],
  [/^users\/new$/, users.edit, 'users'],
  [/^users\/(\d+)$/, users.edit, 'users'],
  [/^roles$/, roles.list, 'roles'],
  [/^roles\/(\d+)$/, roles.edit, 'roles'],
  [/^departments$/, departments.tree, 'departments'],
  [/^pause-reasons$/, lists.pauseReasons, 'pause-reasons'],
  [/^dictionary$/, () => lists.dictionary(0), 'dictionary'],
  ...lists.KINDS.map((kind, i) => [new RegExp(`^dictionary/${kind}$`), () => lists.dictionary(i), 'dictionary']),
  [/^ticket-types$/, setup.ticketTypes, 'ticket-types'],
  [/^workflows\/(?:ticket|order)(?:\/\d+)?$/, () => {
    const [, kind, id] = hashPath().split('/');
    return setup.workflows(kind, id ? Number(id) : null);
  }, 'workflows'],
  [/^stages$/, setup.stages, 'stages'],
  [/^menus$/, menus.matrix, 'menus'],
  [/^seats$/, setup.seats, 'seats'],
  [/^audit(\?.*)?$/, () => audit.log(Object.fromEntries(new URLSearchParams(hashPath().split('?')[1] || ''))), 'audit'],
];

function hashPath() {
  return decodeURIComponent(location.hash.replace(/^#\/?/, ''));
}

// Seeded names carry both languages ("总部 Headquarters", "管理员 Administrator"): the reader's half.
export function bilingual(text) {
  return inLanguage(text || '');
}

// A stored two-language name ("回访 Follow-up") is edited as the reader's half. Left as shown, the stored text
// goes back as it was; changed in the reader's language, only the reader's half is replaced, so a Chinese
// reader does not erase the English name (nor the other way round); typed with both halves, it is kept.
export function nameInput(name, stored, attrs = {}) {
  const control = input(name, bilingual(stored), attrs);
  control.dataset.stored = stored || '';
  return control;
}

export function nameValue(control) {
  const value = control.value.trim();
  const stored = control.dataset.stored || '';
  const zh = inLanguage(stored, 'zh-CN');
  const en = inLanguage(stored, 'en');
  if (value === bilingual(stored).trim()) return stored;
  const typedBoth = inLanguage(value, 'zh-CN') !== inLanguage(value, 'en');
  const chinese = /[\u3400-\u9fff]/.test(value);
  if (zh === en || typedBoth || !value) return value;
  if (getLang() === 'en') return chinese ? value : `${zh} ${value}`;
  return chinese ? `${value} ${en}` : value;
}

export function go(path) {
  const target = `#/${path}`;
  if (location.hash === target) route();
  else location.hash = target;
}

const kit = backOffice('admin');
export const { showError, run, field, table } = kit;
export { flash, input, choice, section };

export function checks(name, options, chosen) {
  const mine = new Set(chosen || []);
  return h('div', { class: 'checks', id: `f-${name}`, role: 'group' }, options.map(([value, text]) => h('label', {},
    h('input', { type: 'checkbox', name, value, checked: mine.has(value) }), text)));
}

// A form checked here first (required fields), then sent by handler(form); refusals land next to the field.
export function adminForm(children, handler, { required = [] } = {}) {
  return kit.checkedForm(children, handler, required);
}

export function buttons(...children) {
  return h('div', { class: 'buttons' }, children);
}

export function saveButtons(back) {
  return buttons(
    h('button', { type: 'submit', class: 'primary', id: 'save' }, t('admin.save')),
    h('button', { type: 'button', onclick: () => go(back) }, t('admin.cancel')));
}

let routing = 0;

export async function route() {
  const path = location.hash.replace(/^#\/?/, '') || 'users';
  const found = ROUTES.map(([pattern, render, nav]) => [pattern.exec(path), render, nav]).find(([m]) => m);
  const mine = ++routing;
  $('#notice').hidden = true;
  for (const a of document.querySelectorAll('#admin-nav a[data-route]')) {
    a.setAttribute('aria-current', found && a.dataset.route === found[2] ? 'page' : 'false');
  }
  if (!found) {
    fill($('#view'), h('p', { class: 'muted' }, t('admin.not_found')));
    return;
  }
  const content = await run(() => found[1](found[0][1] ? Number(found[0][1]) : null));
  if (mine !== routing) return;
  fill($('#view'), content || '');
  document.body.dataset.rendered = decodeURIComponent(location.hash);
  document.body.dataset.ready = '1';
}

async function main() {
  await Promise.all(['common', 'admin'].map(loadNamespace));
  applyI18n(document);
  bindLangSwitch($('#lang-switch'));
  me.user = await get('/api/auth/me');
  $('#user-name').textContent = me.user.display_name || me.user.username;
  window.addEventListener('hashchange', route);
  // A message shown before the switch stays in the old language: drop it with the switch.
  document.addEventListener('langchange', () => { $('#flash').hidden = true; route(); });
  await route();
}

main().catch((error) => showError(error));
