// Roles: the list with each role's data scope and holders, a form for a new role, and a role's page with its
// permission matrix (a row per resource, a column per action, a box only where the action exists).
import { t } from '/static/i18n.js';
import { h } from '/static/dom.js';
import {
  get, send, go, flash, bilingual, field, input, choice, adminForm, section, buttons, saveButtons, table, run,
} from '/static/admin.js';

function scopeOptions(scopes) {
  return scopes.map((s) => [s, t(`admin.scope.${s}`)]);
}

function roleFields(role, scopes) {
  return [
    field('name', input('name', role.name, { maxlength: 50, placeholder: 'team_lead' })),
    field('title', input('title', role.title, { maxlength: 100 })),
    field('data_scope', choice('data_scope', scopeOptions(scopes), role.data_scope || 'own')),
  ];
}

function roleBody(formEl) {
  const el = formEl.elements;
  return { name: el.name.value.trim(), title: el.title.value.trim(), data_scope: el.data_scope.value };
}

export async function list() {
  const [roles, catalogue] = await Promise.all([
    get('/api/crm/admin/roles'), get('/api/crm/admin/permission-catalogue'),
  ]);
  const columns = [
    ['admin.field.title', (r) => h('a', { href: `#/roles/${r.id}` }, bilingual(r.title) || r.name)],
    ['admin.field.name', (r) => h('code', {}, r.name)],
    ['admin.field.data_scope', (r) => t(`admin.scope.${r.data_scope}`)],
    ['admin.role.grants', (r) => (r.permissions.includes('*.*') ? t('admin.role.everything')
      : t('admin.role.grant_count', { count: r.permissions.length }))],
    ['admin.role.holders', (r) => String(r.users)],
  ];
  const formEl = adminForm([...roleFields({}, catalogue.scopes),
    buttons(h('button', { type: 'submit', class: 'primary', id: 'create-role' }, t('admin.role.create')))],
  async (form) => {
    const role = await send('POST', '/api/crm/admin/roles', roleBody(form));
    flash(t('admin.saved', { name: bilingual(role.title) }));
    go(`roles/${role.id}`);
  }, { required: ['name', 'title'] });
  return h('div', { class: 'crm-grid' },
    section('admin.role.title', table(columns, roles)),
    section('admin.role.new', formEl));
}

function matrix(catalogue, granted) {
  const actions = [...new Set(catalogue.resources.flatMap((r) => r.actions))];
  const all = granted.has('*.*');
  const head = h('tr', {}, h('th', { class: 'resource' }, t('admin.role.resource')),
    actions.map((a) => h('th', { scope: 'col' }, t(`admin.act.${a}`))));
  const rows = catalogue.resources.map(({ resource, actions: mine }) => h('tr', { dataset: { resource } },
    h('th', { class: 'resource', scope: 'row' }, t(`admin.res.${resource}`)),
    actions.map((a) => (mine.includes(a)
      ? h('td', {}, h('input', {
        type: 'checkbox', name: 'grant', value: `${resource}.${a}`, disabled: all,
        checked: all || granted.has(`${resource}.${a}`) || granted.has(`${resource}.*`) || granted.has(`*.${a}`),
        'aria-label': `${t(`admin.res.${resource}`)} · ${t(`admin.act.${a}`)}`,
      }))
      : h('td', { class: 'none' }, '')))));
  return h('table', { class: 'matrix', id: 'matrix' }, h('thead', {}, head), h('tbody', {}, rows));
}

export async function edit(id) {
  const [roles, catalogue] = await Promise.all([
    get('/api/crm/admin/roles'), get('/api/crm/admin/permission-catalogue'),
  ]);
  const role = roles.find((r) => r.id === id);
  if (!role) return h('p', { class: 'muted' }, t('admin.not_found'));
  const granted = new Set(role.permissions);
  const everything = h('input', { type: 'checkbox', id: 'grant-all', checked: granted.has('*.*') });
  const table_ = matrix(catalogue, granted);
  everything.addEventListener('change', () => {
    for (const box of table_.querySelectorAll('input[name=grant]')) {
      box.disabled = everything.checked;
      if (everything.checked) box.checked = true;
    }
  });
  const details = adminForm([...roleFields(role, catalogue.scopes), saveButtons('roles')], async (form) => {
    const saved = await send('PATCH', `/api/crm/admin/roles/${id}`, roleBody(form));
    flash(t('admin.saved', { name: bilingual(saved.title) }));
    go('roles');
  }, { required: ['name', 'title'] });
  const grants = adminForm([
    h('label', { class: 'grant-all' }, everything, t('admin.role.everything')),
    h('div', { class: 'matrix-scroll' }, table_),
    buttons(h('button', { type: 'submit', class: 'primary', id: 'save-grants' }, t('admin.role.save_grants'))),
  ], async (form) => {
    const permissions = everything.checked ? ['*.*']
      : [...form.querySelectorAll('input[name=grant]:checked')].map((box) => box.value);
    const saved = await send('PUT', `/api/crm/admin/roles/${id}/permissions`, { permissions });
    flash(t('admin.role.grants_saved', { name: bilingual(saved.title), count: saved.permissions.length }));
  });
  const remove = h('button', { type: 'button', class: 'danger', id: 'delete-role' }, t('admin.role.delete'));
  remove.addEventListener('click', () => run(async () => {
    await send('DELETE', `/api/crm/admin/roles/${id}`);
    flash(t('admin.deleted'));
    go('roles');
  }));
  return h('div', { class: 'crm-card' },
    section('admin.role.edit', details, buttons(remove)),
    section('admin.role.matrix', grants));
}
