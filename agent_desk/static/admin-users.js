// Users: the list (login, name, agent number, extension, phones, job title, department, roles, enabled) and the
// form that creates or edits one, roles included.
import { t } from '/static/i18n.js';
import { h } from '/static/dom.js';
import {
  get, send, go, flash, bilingual, field, input, choice, checks, adminForm, section, buttons, saveButtons, table,
} from '/static/admin.js';

async function lookups() {
  const [depts, roles] = await Promise.all([
    get('/api/crm/departments?size=200'), get('/api/crm/admin/roles'),
  ]);
  return { depts: depts.items, roles };
}

function roleTitles(names, roles) {
  const byName = new Map(roles.map((r) => [r.name, bilingual(r.title) || r.name]));
  return names.map((n) => byName.get(n) || n).join('、');
}

export async function list() {
  const [found, { roles }] = await Promise.all([get('/api/crm/admin/users?size=200'), lookups()]);
  const columns = [
    ['admin.field.username', (u) => h('a', { href: `#/users/${u.id}` }, u.username)],
    ['admin.field.display_name', (u) => u.display_name],
    ['admin.field.agent_number', (u) => u.agent_number || ''],
    ['admin.field.extension', (u) => u.extension || ''],
    ['admin.field.phone', (u) => u.phone],
    ['admin.field.mobile', (u) => u.mobile],
    ['admin.field.position', (u) => u.position],
    ['admin.field.department_id', (u) => bilingual(u.department_name)],
    ['admin.field.roles', (u) => roleTitles(u.roles, roles)],
    ['admin.field.is_active', (u) => h('span', { class: u.is_active ? 'badge ok' : 'badge bad' },
      t(u.is_active ? 'admin.user.enabled' : 'admin.user.disabled'))],
  ];
  return section('admin.user.title',
    buttons(h('button', { type: 'button', class: 'primary', id: 'new-user', onclick: () => go('users/new') },
      t('admin.user.new'))),
    table(columns, found.items),
    h('p', { class: 'muted' }, t('admin.count', { total: found.total })));
}

function values(formEl, creating) {
  const el = formEl.elements;
  const body = {};
  for (const name of ['display_name', 'agent_number', 'extension', 'phone', 'mobile', 'position']) {
    body[name] = el[name].value.trim();
  }
  body.department_id = el.department_id.value ? Number(el.department_id.value) : null;
  body.roles = [...formEl.querySelectorAll('input[name=roles]:checked')].map((box) => box.value);
  body.is_active = el.is_active.checked;
  if (creating) {
    body.username = el.username.value.trim();
    body.password = el.password.value;
  }
  return body;
}

export async function edit(id) {
  const creating = id === null;
  const [user, { depts, roles }] = await Promise.all([
    creating ? Promise.resolve(null) : get(`/api/crm/admin/users/${id}`), lookups(),
  ]);
  const u = user || { roles: ['agent'], is_active: true };
  const deptOptions = [['', t('admin.none')], ...depts.map((d) => [d.id, bilingual(d.name)])];
  const roleOptions = roles.map((r) => [r.name, bilingual(r.title) || r.name]);
  const formEl = adminForm([
    creating ? field('username', input('username', '', { maxlength: 50 })) : field('username', h('b', {}, u.username)),
    creating ? field('password', input('password', '', { type: 'password', autocomplete: 'new-password' })) : null,
    field('display_name', input('display_name', u.display_name, { maxlength: 100 })),
    field('agent_number', input('agent_number', u.agent_number, { maxlength: 20 })),
    field('extension', input('extension', u.extension, { maxlength: 20, inputmode: 'numeric' })),
    field('phone', input('phone', u.phone, { maxlength: 30, type: 'tel' })),
    field('mobile', input('mobile', u.mobile, { maxlength: 30, type: 'tel' })),
    field('position', input('position', u.position, { maxlength: 50 })),
    field('department_id', choice('department_id', deptOptions, u.department_id)),
    field('roles', checks('roles', roleOptions, u.roles)),
    field('is_active', h('input', { type: 'checkbox', id: 'f-is_active', name: 'is_active', checked: u.is_active })),
    saveButtons('users'),
  ], async (form) => {
    const body = values(form, creating);
    const saved = creating
      ? await send('POST', '/api/crm/admin/users', body)
      : await send('PATCH', `/api/crm/admin/users/${id}`, body);
    flash(t('admin.saved', { name: saved.display_name || saved.username }));
    go('users');
  }, { required: creating ? ['username', 'password'] : [] });
  return section(creating ? 'admin.user.new' : 'admin.user.edit', formEl);
}
