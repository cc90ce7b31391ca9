// Translations for every page: t(key, params), setLang(lang), loadNamespace(ns), applyI18n(root).
// The default is the server's CC_LANGUAGE (<meta name="cc-language">, zh-CN without it); the user's own
// choice in the switch is remembered in localStorage and wins over the default.
const STORE_KEY = 'cc.lang';
export const LANGS = ['zh-CN', 'en'];

let lang = pickLang();
const loaded = new Set();
let dict = {};

function pickLang() {
  try {
    const saved = localStorage.getItem(STORE_KEY);
    if (LANGS.includes(saved)) return saved;
  } catch (_) { /* storage disabled: keep the default */ }
  return serverLang();
}

export function serverLang() {
  const meta = document.querySelector('meta[name="cc-language"]');
  return meta && LANGS.includes(meta.content) ? meta.content : 'zh-CN';
}

export function getLang() {
  return lang;
}

// The text for key with {name} placeholders filled from params; the key itself when it is missing.
export function t(key, params = {}) {
  const text = Object.prototype.hasOwnProperty.call(dict, key) ? dict[key] : key;
  return String(text).replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

async function fetchNamespace(ns, language) {
  const response = await fetch(`/static/i18n/${encodeURIComponent(ns)}.${language}.json`, { cache: 'no-cache' });
  if (!response.ok) throw new Error(`i18n ${ns}.${language}: HTTP ${response.status}`);
  return response.json();
}

export async function loadNamespace(ns) {
  Object.assign(dict, await fetchNamespace(ns, lang));
  loaded.add(ns);
}

export async function setLang(next) {
  if (!LANGS.includes(next)) return;
  lang = next;
  try { localStorage.setItem(STORE_KEY, next); } catch (_) { /* not remembered */ }
  const fresh = {};
  for (const ns of loaded) Object.assign(fresh, await fetchNamespace(ns, lang));
  dict = fresh;
  document.documentElement.lang = lang;
  applyI18n(document);
  document.dispatchEvent(new CustomEvent('langchange', { detail: { lang } }));
}

// Fill data-i18n (text), data-i18n-title and data-i18n-placeholder under root. Text only, never HTML.
export function applyI18n(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
}

// A <select> that switches the language of the page.
export function bindLangSwitch(select) {
  select.value = lang;
  select.addEventListener('change', () => setLang(select.value));
}

// Server texts carry both languages ("请先绑定座席或分机 / Bind a seat or an extension first",
// "总部 Headquarters", "无权限 not allowed: report.read"): the half for the page's language. The Chinese
// half ends with its last Chinese character, or at a " / " followed by no more Chinese.
const CJK = /[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]/;
const CJK_ALL = new RegExp(CJK.source, 'g');

function halves(text) {
  if (!CJK.test(text) || !/[A-Za-z]/.test(text)) return null;
  for (let at = text.indexOf(' / '); at >= 0; at = text.indexOf(' / ', at + 1)) {
    const zh = text.slice(0, at).trim();
    const en = text.slice(at + 3).trim();
    if (CJK.test(zh) && !CJK.test(en) && /[A-Za-z]/.test(en)) return { zh, en };
  }
  let last = -1;
  for (const match of text.matchAll(CJK_ALL)) last = match.index;
  const rest = text.slice(last + 1);
  if (!/^\s+["'`(\[{A-Za-z]/.test(rest)) return null;
  return { zh: text.slice(0, last + 1).trim(), en: rest.trim() };
}

export function inLanguage(text, language = lang) {
  const value = text === null || text === undefined ? '' : String(text);
  const split = halves(value);
  if (!split) return value;
  return language === 'en' ? split.en : split.zh;
}

// An API error's detail as one line in the page's language: a text (either half of a bilingual one),
// a {"zh-CN": ..., "en": ...} object, or FastAPI's list of field refusals.
export function errorText(detail, language = lang) {
  if (detail === null || detail === undefined) return '';
  if (typeof detail === 'string') return inLanguage(detail, language);
  if (Array.isArray(detail)) {
    return detail.map((item) => {
      if (!item || typeof item !== 'object') return inLanguage(item, language);
      const where = (item.loc || []).filter((part) => part !== 'body').join('.');
      const message = inLanguage(item.msg, language);
      return where ? `${where}: ${message}` : message;
    }).join('; ');
  }
  if (typeof detail === 'object') {
    if (typeof detail[language] === 'string') return detail[language];
    if (typeof detail.message === 'string') return inLanguage(detail.message, language);
    if (typeof detail.detail === 'string') return inLanguage(detail.detail, language);
  }
  return JSON.stringify(detail);
}
