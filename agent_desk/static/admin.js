// The administration pages in one page with hash routes (#/users, #/roles/3, #/departments): users, roles with
// their permission matrix, the department tree. Also the pieces the route modules share: forms that check
// what they can before sending, and refusals shown in the reader's language next to the field they name.
import { t, inLanguage, loadNamespace, applyI18n, bindLangSwitch } from '/static/i18n.js';
import { api, get, ApiError } from '/static/api.js';
import { h, fill, $ } from '/static/dom.js';
import * as users from '/static/admin-users.js';
import * as roles from '/static/admin-roles.js';
import * as departments from '/static/admin-departments.js';

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
];

// Seeded names carry both languages ("总部 Headquarters", "管理员 Administrator"): the reader's half.
export function bilingual(text) {
  return inLanguage(text || '');
}

export function go(path) {
  const target = `#/${path}`;
  if (location.hash === target) route();
  else location.hash = target;
}

export function flash(text) {
  const box = $('#flash');
  box.textContent = text;
  box.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { box.hidden = true; }, 5000);
}

// One refusal as text in the page's language: the server's own message (its half for this language), or,
// for the shapes FastAPI checks itself (too long, not a number ...), our translation.
function refusalText(item) {
  if (item.type === 'value_error' || !item.type) return bilingual(item.msg);
  const text = t(`admin.err.${item.type}`, item.ctx || {});
  return text === `admin.err.${item.type}` ? t('admin.err.invalid') : text;
}

// Show what went wrong: in the notice, and under the field the server named (marked aria-invalid).
export function showError(error, formEl = null) {
  const notice = $('#notice');
  let text = String(error && error.message ? error.message : error);
  if (formEl) {
    for (const old of formEl.querySelectorAll('.field-error')) old.remove();
    for (const old of formEl.querySelectorAll('[aria-invalid]')) old.removeAttribute('aria-invalid');
  }
  if (error instanceof ApiError && error.status === 403) text = t('admin.err.forbidden');
  else if (error instanceof ApiError && Array.isArray(error.detail)) {
    text = error.detail.map((item) => {
      const name = (item.loc || []).filter((part) => part !== 'body').join('.');
      const message = refusalText(item);
      const control = formEl && name ? formEl.querySelector(`[name="${CSS.escape(name)}"]`) : null;
      if (control) {
        control.setAttribute('aria-invalid', 'true');
        control.closest('.field').after(h('p', { class: 'field-error', role: 'alert' }, message));
      }
      const shown = control ? control.closest('.field').querySelector('.field-label') : null;
      const label = shown ? shown.textContent : t(`admin.field.${name}`);
      return name && label !== `admin.field.${name}` ? `${label}: ${message}` : message;
    }).join('; ');
  } else if (error instanceof ApiError && typeof error.detail === 'string') text = bilingual(error.detail);
  notice.textContent = text;
  notice.hidden = false;
}

// Run an action with the busy mark; its failure is shown, never thrown.
export async function run(action, formEl = null) {
  $('#notice').hidden = true;
  $('#busy').hidden = false;
  try {
    return await action();
  } catch (error) {
    showError(error, formEl);
    return undefined;
  } finally {
    $('#busy').hidden = true;
  }
}

export function field(name, control, labelKey = `admin.field.${name}`) {
  return h('div', { class: 'field' },
    h('label', { class: 'field-label', for: `f-${name}` }, t(labelKey)), control);
}

export function input(name, value = '', attrs = {}) {
  return h('input', { id: `f-${name}`, name, value: value ?? '', autocomplete: 'off', ...attrs });
}

export function choice(name, options, current) {
  return h('select', { id: `f-${name}`, name }, options.map(([value, text]) => h('option', {
    value, selected: String(value) === String(current ?? ''),
  }, text)));
}

export function checks(name, options, chosen) {
  const mine = new Set(chosen || []);
  return h('div', { class: 'checks', id: `f-${name}`, role: 'group' }, options.map(([value, text]) => h('label', {},
    h('input', { type: 'checkbox', name, value, checked: mine.has(value) }), text)));
}

// A form checked here first (required fields), then sent by handler(form); refusals land next to the field.
export function adminForm(children, handler, { required = [] } = {}) {
  const formEl = h('form', { class: 'admin-form', novalidate: true }, children);
  formEl.addEventListener('submit', (event) => {
    event.preventDefault();
    const missing = required.filter((name) => !String(formEl.elements[name]?.value || '').trim());
    if (missing.length) {
      showError(new ApiError(422, missing.map((name) => ({
        loc: ['body', name], type: 'missing', msg: '',
      }))), formEl);
      return;
    }
    run(() => handler(formEl), formEl);
  });
  return formEl;
}

export function section(titleKey, ...children) {
  return h('section', { class: 'panel' }, h('h2', {}, t(titleKey)), children);
}

export function buttons(...children) {
  return h('div', { class: 'buttons' }, children);
}

export function saveButtons(back) {
  return buttons(
    h('button', { type: 'submit', class: 'primary', id: 'save' }, t('admin.save')),
    h('button', { type: 'button', onclick: () => go(back) }, t('admin.cancel')));
}

export function table(columns, rows) {
  if (!rows.length) return h('p', { class: 'muted empty' }, t('admin.empty'));
  return h('table', { class: 'list crm-table' },
    h('thead', {}, h('tr', {}, columns.map(([key]) => h('th', {}, t(key))))),
    h('tbody', {}, rows.map((row) => h('tr', { dataset: { id: row.id } },
      columns.map(([, render]) => h('td', {}, render(row)))))));
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
