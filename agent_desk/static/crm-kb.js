// Knowledge base search and article view; announcements (those showing now, and all of them).
import { t } from '/static/i18n.js';
import { get } from '/static/api.js';
import { h } from '/static/dom.js';
import {
  PAGE_SIZE, qs, when, label, optional, select, section, table, pager, filterBar, link, badge, empty, go,
} from '/static/crm.js';

let categoryList = null;
function categories() {
  categoryList = categoryList || optional(get('/api/crm/kb-categories?size=200'), { items: [] }).then((f) => f.items);
  return categoryList;
}

function tags(article) {
  return (article.tags || '').split(/[,，\s]+/).filter(Boolean).map((tag) => badge(tag));
}

export async function search(params) {
  const cats = await categories();
  const catName = (id) => (cats.find((c) => c.id === id) || {}).name || '';
  // The search endpoint answers published articles only; without a term the newest published ones.
  const found = params.q
    ? await get(`/api/crm/kb-articles/search${qs({ q: params.q })}`).then((items) => ({
      items: params.category ? items.filter((a) => String(a.category_id) === params.category) : items,
    }))
    : await get(`/api/crm/kb-articles${qs({
      status: 'published', category_id: params.category, sort: '-updated_at', page: params.page || 1, size: PAGE_SIZE,
    })}`);
  const bar = filterBar(params, 'kb', [
    h('input', { name: 'q', type: 'search', value: params.q || '', class: 'wide', placeholder: t('crm.kb.search_hint') }),
    select('category', [['', t('crm.kb.any_category')], ...cats.map((c) => [c.id, c.name])], params.category),
  ]);
  return section('crm.kb.title', bar,
    table([
      { label: 'crm.kb.article', render: (a) => link(`kb/${a.id}`, a.title) },
      { label: 'crm.kb.category', render: (a) => catName(a.category_id) },
      { label: 'crm.kb.tags', render: tags },
      { label: 'crm.kb.updated_at', render: (a) => when(a.updated_at) },
    ], found.items, { open: (a) => go(`kb/${a.id}`) }),
    found.total !== undefined ? pager(found, params, 'kb') : null);
}

export async function article(params, id) {
  const [row, cats] = await Promise.all([get(`/api/crm/kb-articles/${id}`), categories()]);
  const category = cats.find((c) => c.id === row.category_id);
  return h('article', { class: 'panel kb-article', dataset: { article: row.id } },
    h('p', {}, h('a', { href: '#/kb', onclick: (event) => { event.preventDefault(); history.back(); } },
      `← ${t('crm.kb.back')}`)),
    h('h1', {}, row.title),
    h('p', { class: 'muted' }, [category ? category.name : '', label('kb_status', row.status), when(row.updated_at)]
      .filter(Boolean).join(' · '), ' ', tags(row)),
    h('div', { class: 'article-body' }, row.body));
}

function announcementCard(item) {
  const span = [item.starts_at ? when(item.starts_at) : '', item.ends_at ? when(item.ends_at) : ''];
  return h('article', { class: 'announcement' },
    h('h3', {}, item.title),
    h('p', { class: 'muted' }, span[0] || span[1] ? t('crm.announcement.span', { from: span[0] || '…', to: span[1] || '…' }) : ''),
    h('div', { class: 'article-body' }, item.body));
}

export async function announcements(params) {
  const [current, all] = await Promise.all([
    get('/api/crm/announcements/current'),
    optional(get(`/api/crm/announcements${qs({ page: params.page || 1, size: PAGE_SIZE, q: params.q })}`)),
  ]);
  return h('div', { class: 'crm-grid' },
    section('crm.announcement.current', current.length ? current.map(announcementCard) : empty()),
    all ? section('crm.announcement.all',
      filterBar(params, 'announcements', [
        h('input', { name: 'q', type: 'search', value: params.q || '', placeholder: t('crm.announcement.search_hint') }),
      ]),
      all.items.length ? all.items.map(announcementCard) : empty(),
      pager(all, params, 'announcements')) : null);
}
