// Translations for every page: t(key, params), setLang(lang), loadNamespace(ns), applyI18n(root).
// zh-CN is the default; the choice of English is remembered in localStorage.
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
  return 'zh-CN';
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
