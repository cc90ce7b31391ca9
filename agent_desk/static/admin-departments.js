// The department tree: every department with its users, a form to add one under any other, rename or move it.
import { t } from '/static/i18n.js';
import { h } from '/static/dom.js';
import {
  get, send, go, flash, bilingual, field, input, choice, adminForm, section, saveButtons,
} from '/static/admin.js';

function flatten(nodes, depth = 0, out = []) {
  for (const node of nodes) {
    out.push([node, depth]);
    flatten(node.children, depth + 1, out);
  }
  return out;
}

function branch(nodes, open) {
  if (!nodes.length) return null;
  return h('ul', {}, nodes.map((node) => h('li', { dataset: { id: node.id } },
    h('span', { class: 'dept-node' },
      h('span', { class: 'dept-name' }, bilingual(node.name)),
      h('span', { class: 'muted' }, t('admin.dept.users', { count: node.users })),
      h('button', { type: 'button', class: 'edit-dept', onclick: () => open(node, null) }, t('admin.edit')),
      h('button', { type: 'button', class: 'add-child', onclick: () => open(null, node) }, t('admin.dept.add_child'))),
    branch(node.children, open))));
}

function deptForm(slot, all, node, parent) {
  const options = [['', t('admin.dept.top')], ...all.map(([d, depth]) => [d.id, `${'　'.repeat(depth)}${bilingual(d.name)}`])];
  const formEl = adminForm([
    field('name', input('name', node ? node.name : '', { maxlength: 100 }), 'admin.dept.name'),
    field('parent_id', choice('parent_id', options, node ? node.parent_id : parent?.id)),
    saveButtons('departments'),
  ], async (form) => {
    const body = {
      name: form.elements.name.value.trim(),
      parent_id: form.elements.parent_id.value ? Number(form.elements.parent_id.value) : null,
    };
    const saved = node
      ? await send('PATCH', `/api/crm/departments/${node.id}`, body)
      : await send('POST', '/api/crm/departments', body);
    flash(t('admin.saved', { name: bilingual(saved.name) }));
    go('departments');
  }, { required: ['name'] });
  slot.replaceChildren(section(node ? 'admin.dept.edit' : 'admin.dept.new', formEl));
  formEl.elements.name.focus();
}

export async function tree() {
  const roots = await get('/api/crm/admin/departments/tree');
  const all = flatten(roots);
  const slot = h('div', { id: 'dept-form' });
  const open = (node, parent) => deptForm(slot, all, node, parent);
  return h('div', { class: 'crm-grid' },
    section('admin.dept.title',
      h('div', { class: 'buttons' }, h('button', {
        type: 'button', class: 'primary', id: 'new-dept', onclick: () => open(null, null),
      }, t('admin.dept.new'))),
      h('div', { class: 'dept-tree' }, branch(roots, open) || h('p', { class: 'muted' }, t('admin.empty')))),
    slot);
}
