// The lists an administrator keeps: the agents' pause reasons and the values offered for the customer
// fields category / region / source / level (one dictionary each). Each list: add, edit, order, switch off.
import { t } from '/static/i18n.js';
import { h } from '/static/dom.js';
import {
  get, send, go, flash, bilingual, field, input, adminForm, section, saveButtons, table,
} from '/static/admin.js';

export const KINDS = ['category', 'region', 'source', 'level'];

const LISTS = {
  'pause-reasons': {
    title: 'admin.pause.title', url: '/api/crm/pause-reasons', key: 'code', required: ['code', 'name'],
    fields: (row) => [
      field('code', input('code', row?.code, { maxlength: 30, placeholder: 'lunch' }), 'admin.pause.code'),
      field('name', input('name', row?.name, { maxlength: 100, placeholder: '午餐 Lunch' }), 'admin.pause.name'),
    ],
    body: (form) => ({ code: form.elements.code.value.trim(), name: form.elements.name.value.trim() }),
    columns: [['admin.pause.code', (r) => r.code], ['admin.pause.name', (r) => bilingual(r.name)]],
  },
};
for (const kind of KINDS) {
  LISTS[`dictionary/${kind}`] = {
    title: `admin.dict.${kind}`, url: '/api/crm/dictionary', filter: { kind }, key: 'value', required: ['value'],
    fields: (row) => [field('value', input('value', row?.value, { maxlength: 100 }), 'admin.dict.value')],
    body: (form) => ({ kind, value: form.elements.value.value.trim() }),
    columns: [['admin.dict.value', (r) => r.value]],
  };
}

function common(row, next) {
  return [
    field('position', input('position', row ? row.position : next, { type: 'number', min: 0, max: 9999 }),
      'admin.list.position'),
    field('is_active', h('input', { id: 'f-is_active', name: 'is_active', type: 'checkbox', checked: row ? row.is_active : true }),
      'admin.list.active'),
  ];
}

function listForm(slot, name, spec, row, next = 0) {
  const formEl = adminForm([...spec.fields(row), ...common(row, next), saveButtons(name)], async (form) => {
    const position = Number(form.elements.position.value || 0);
    const body = { ...spec.body(form), position, is_active: form.elements.is_active.checked };
    const saved = row
      ? await send('PATCH', `${spec.url}/${row.id}`, body)
      : await send('POST', spec.url, body);
    flash(t('admin.saved', { name: bilingual(saved.name || saved.value) }));
    go(name);
    if (location.hash === `#/${name}`) slot.replaceChildren();
  }, { required: spec.required });
  slot.replaceChildren(section(row ? 'admin.list.edit' : 'admin.list.new', formEl));
  formEl.elements[spec.key].focus();
}

function kindTabs(current) {
  return h('nav', { class: 'tabs dict-kinds' }, KINDS.map((kind) => h('a', {
    href: `#/dictionary/${kind}`, 'aria-current': current === `dictionary/${kind}` ? 'page' : 'false',
  }, t(`admin.dict.${kind}`))));
}

async function render(name) {
  const spec = LISTS[name];
  const query = new URLSearchParams({ size: '200', sort: 'position', ...(spec.filter || {}) });
  const found = await get(`${spec.url}?${query}`);
  const slot = h('div', { id: 'list-form' });
  const next = Math.max(-1, ...found.items.map((r) => r.position)) + 1; // a new row goes last
  const columns = [
    ...spec.columns,
    ['admin.list.position', (r) => String(r.position)],
    ['admin.list.active', (r) => t(r.is_active ? 'admin.yes' : 'admin.no')],
    ['admin.edit', (r) => h('button', { type: 'button', class: 'edit-item', onclick: () => listForm(slot, name, spec, r) },
      t('admin.edit'))],
  ];
  return h('div', { class: 'crm-grid' },
    section(spec.title,
      name.startsWith('dictionary/') ? kindTabs(name) : null,
      h('div', { class: 'buttons' }, h('button', {
        type: 'button', class: 'primary', id: 'new-item', onclick: () => listForm(slot, name, spec, null, next),
      }, t('admin.list.new'))),
      table(columns, found.items)),
    slot);
}

export const pauseReasons = () => render('pause-reasons');
export const dictionary = (kind) => render(`dictionary/${KINDS[kind] || 'category'}`);
