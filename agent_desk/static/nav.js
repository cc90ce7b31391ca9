// <cc-nav>: links to the product's pages, the ones the logged-in user's roles may open, and the business
// time zone every time on the page is shown in (time.js).
// Page access is enforced again by every API; this only hides links that would lead to a refusal.
import { get } from '/static/api.js';
import { h, fill } from '/static/dom.js';
import { t, loadNamespace, applyI18n } from '/static/i18n.js';
import { businessZone, zoneLabel } from '/static/time.js';

// (address, label key, roles that see it; empty = everyone logged in)
export const PAGES = [
  ['/desk', 'nav.desk', []],
  ['/crm', 'nav.crm', []],
  ['/recordings', 'nav.recordings', []],
  ['/wallboard', 'nav.wallboard', ['admin', 'supervisor']],
  ['/reports', 'nav.reports', ['admin', 'supervisor', 'quality']],
  ['/messaging', 'nav.messaging', ['admin', 'supervisor']],
  ['/sales', 'nav.sales', ['admin', 'supervisor', 'agent', 'quality']],
  ['/purchasing', 'nav.purchasing', ['admin', 'supervisor']],
  ['/manager', 'nav.manager', ['admin', 'supervisor', 'quality']],
  ['/admin/outbound', 'nav.outbound', ['admin', 'supervisor']],
  ['/voicemail', 'nav.voicemail', ['admin', 'supervisor']],
  ['/admin/ivr', 'nav.ivr', ['admin']],
  ['/admin/calendar', 'nav.calendar', ['admin']],
  ['/admin', 'nav.admin', ['admin']],
];

export function visiblePages(roles) {
  const mine = new Set(roles || []);
  return PAGES.filter(([, , allowed]) => allowed.length === 0 || allowed.some((r) => mine.has(r)));
}

function zoneBadge() {
  return h('span', { class: 'cc-zone', id: 'cc-zone', dataset: { zone: businessZone() } }, zoneLabel());
}

class CcNav extends HTMLElement {
  async connectedCallback() {
    await loadNamespace('common');
    let roles = [];
    try {
      roles = (await get('/api/auth/me')).roles;
    } catch (_) { /* not logged in: the page itself sends the visitor to the login page */ }
    const here = window.location.pathname;
    fill(this, ...visiblePages(roles).map(([href, key]) => h('a', {
      href, 'data-i18n': key, class: 'cc-nav-link', 'aria-current': href === here ? 'page' : null,
    }, t(key))), zoneBadge());
    // the bar's own words (the product's name) come from the namespace loaded just now
    applyI18n(this.closest('header') || this);
    document.addEventListener('langchange', () => {
      const badge = this.querySelector('.cc-zone');
      if (badge) badge.textContent = zoneLabel();
    });
  }
}

if (!customElements.get('cc-nav')) customElements.define('cc-nav', CcNav);

// Menu visibility per role (系统管理 → 菜单): links every one of the user's roles leaves out are removed.
// Only links: each page and API still checks its permission. Asked once; a failure hides nothing.
const hiddenMenus = fetch('/api/crm/menus/mine', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
  .then((response) => (response.ok ? response.json() : { hidden: [] }))
  .then((body) => new Set(body.hidden || []), () => new Set());
function pruneMenus(nav) {
  hiddenMenus.then((hidden) => {
    for (const a of nav.querySelectorAll('a.cc-nav-link')) if (hidden.has(a.getAttribute('href'))) a.remove();
  });
}
for (const nav of document.querySelectorAll('cc-nav')) {
  new MutationObserver(() => pruneMenus(nav)).observe(nav, { childList: true });
  pruneMenus(nav);
}
