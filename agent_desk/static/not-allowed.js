// The page shown instead of one whose data the visitor may not read: the refusal, in the page's language.
import { loadNamespace, applyI18n, bindLangSwitch } from '/static/i18n.js';

async function main() {
  await loadNamespace('common');
  applyI18n(document);
  bindLangSwitch(document.getElementById('lang-switch'));
}

main();
