// Menu visibility per role: a row per role, a column per page of the top bar; a ticked box shows the
// page's link to the role. A page's link is left out for a user when every one of his roles leaves it
// out; the pages and their APIs still check permissions whatever the menu shows.
import { t } from '/static/i18n.js';
import { h } from '/static/dom.js';
import { PAGES } from '/static/nav.js';
import { get, send, flash, bilingual, section, run } from '/static/admin.js';

export async function matrix() {
  const roles = await get('/api/crm/admin/menus');
  const body = h('tbody', {}, roles.map((role) => {
    const hidden = new Set(role.hidden);
    return h('tr', { dataset: { role: role.name } },
      h('th', { class: 'resource' }, bilingual(role.title || role.name)),
      PAGES.map(([href]) => h('td', {}, h('input', {
        type: 'checkbox', name: href, checked: !hidden.has(href), 'aria-label': `${bilingual(role.title)} ${href}`,
      }))),
      h('td', {}, h('button', {
        type: 'button', class: 'save-menus', onclick: (event) => run(async () => {
          const row = event.target.closest('tr');
          const left = PAGES.map(([href]) => href).filter((href) => !row.querySelector(`input[name="${href}"]`).checked);
          const saved = await send('PUT', `/api/crm/admin/roles/${role.id}/menus`, { hidden: left });
          flash(t('admin.menu.saved', { name: bilingual(saved.title || saved.name), count: PAGES.length - saved.hidden.length }));
        }),
      }, t('admin.save'))));
  }));
  return section('admin.menu.title',
    h('p', { class: 'muted' }, t('admin.menu.hint')),
    h('div', { class: 'matrix-wrap' }, h('table', { class: 'matrix menus' },
      h('thead', {}, h('tr', {}, h('th', {}, t('admin.menu.role')), PAGES.map(([, key]) => h('th', {}, t(key))), h('th', {}))),
      body)));
}
