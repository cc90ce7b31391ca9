// The pieces the sales and purchasing pages share (no side effects): money in the page's language, the flash
// and the refusal notice (next to the field the server named), forms that check required fields first, tables.
import { t, inLanguage, getLang } from '/static/i18n.js';
import { api, get } from '/static/api.js';
import { backOffice, flash, input, choice, section } from '/static/forms.js';
import { h, fill, $ } from '/static/dom.js';

export { get };
export const send = (method, url, body) => api(method, url, body);
export function money(value) {
  const n = Number(value || 0);
  return n.toLocaleString(getLang(), { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

const kit = backOffice('sales');
export const { showError, run, field, table } = kit;
export { flash, input, choice, section };

// A form sent by handler(form); refusals land next to their field. Required fields are checked here first.
export const salesForm = kit.checkedForm;

export const personName = (p) => p.display_name || p.username;
export const nameOf = (list, id) => {
  const found = list.find((x) => x.id === id);
  return found ? inLanguage(found.name || personName(found)) : '';
};
export const numberOrNull = (value) => (String(value).trim() === '' ? null : Number(value));


// A hash router for a page of views: routes {name: render()}, the nav whose links carry data-route. The
// view rendered last wins (a slow earlier one is dropped); body[data-rendered] says which view is shown.
export function hashRouter(routes, fallback, nav) {
  let routing = 0;
  return async function route() {
    const name = location.hash.replace(/^#\/?/, '') || fallback;
    const render = routes[name];
    const mine = ++routing;
    document.body.dataset.route = name;
    for (const a of document.querySelectorAll(`${nav} a[data-route]`)) {
      a.setAttribute('aria-current', a.dataset.route === name ? 'page' : 'false');
    }
    if (!render) {
      fill($('#view'), h('p', { class: 'muted' }, t('sales.not_found')));
      return;
    }
    const content = await run(() => render());
    if (mine !== routing) return;
    fill($('#view'), content || '');
    document.body.dataset.rendered = `#/${name}`;
  };
}
