// What the back-office pages (administration, CRM, sales, purchasing, the manager's statistics) share, with no
// side effects: the flash, the refusal notice with each refusal next to the field the server named, a busy mark
// around an action, and labelled fields, inputs, selects, sections, tables and forms that check their required
// fields first. backOffice(ns) gives the pieces that speak a page's texts (`${ns}.err.*`, `${ns}.field.*`).
import { t, inLanguage } from '/static/i18n.js';
import { ApiError } from '/static/api.js';
import { h, $ } from '/static/dom.js';

export function flash(text) {
  const box = $('#flash');
  box.textContent = text;
  box.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { box.hidden = true; }, 5000);
}

function known(key, params = {}) {
  const text = t(key, params);
  return text === key ? '' : text;
}

export function backOffice(ns) {
  // One refusal in the page's language: the server's own message (its half for this language), or, for the
  // shapes FastAPI checks itself (too long, not a number ...), the page's translation.
  const refusalText = (item) => {
    if (item.type === 'value_error' || !item.type) return inLanguage(item.msg);
    return known(`${ns}.err.${item.type}`, item.ctx || {}) || t(`${ns}.err.invalid`);
  };

  // Show what went wrong: in the notice, and under the field the server named (marked aria-invalid).
  function showError(error, formEl = null) {
    let text = String(error && error.message ? error.message : error);
    if (formEl) {
      for (const old of formEl.querySelectorAll('.field-error')) old.remove();
      for (const old of formEl.querySelectorAll('[aria-invalid]')) old.removeAttribute('aria-invalid');
    }
    if (error instanceof ApiError && error.status === 403) text = t(`${ns}.err.forbidden`);
    else if (error instanceof ApiError && Array.isArray(error.detail)) {
      text = error.detail.map((item) => {
        const name = (item.loc || []).filter((part) => part !== 'body' && part !== 'query').join('.');
        const last = name.split('.').pop();
        const message = refusalText(item);
        const control = formEl && name ? formEl.querySelector(`[name="${CSS.escape(name)}"]`)
          || formEl.querySelector(`[name="${CSS.escape(last)}"]`) : null;
        if (control) {
          control.setAttribute('aria-invalid', 'true');
          (control.closest('.field') || control).after(h('p', { class: 'field-error', role: 'alert' }, message));
        }
        const shown = control && control.closest('.field') ? control.closest('.field').querySelector('.field-label') : null;
        const label = shown ? shown.textContent : (name && known(`${ns}.field.${last}`));
        return label ? `${label}: ${message}` : message;
      }).join('; ');
    } else if (error instanceof ApiError && typeof error.detail === 'string') text = inLanguage(error.detail);
    const notice = $('#notice');
    notice.textContent = text;
    notice.hidden = false;
  }

  // Run an action with the busy mark; its failure is shown, never thrown.
  async function run(action, formEl = null) {
    $('#notice').hidden = true;
    $('#busy').hidden = false;
    try {
      return await action();
    } catch (error) {
      showError(error, formEl);
      return undefined;
    } finally {
      $('#busy').hidden = true;
    }
  }

  const field = (name, control, labelKey = `${ns}.field.${name}`) => h('div', { class: 'field' },
    h('label', { class: 'field-label', for: `f-${name}` }, t(labelKey)), control);

  // A form checked here first (required fields), then sent by handler(form); refusals land next to the field.
  function checkedForm(children, handler, required = []) {
    const formEl = h('form', { class: 'admin-form', novalidate: true }, children);
    formEl.addEventListener('submit', (event) => {
      event.preventDefault();
      const missing = required.filter((name) => !String(formEl.elements[name]?.value || '').trim());
      if (missing.length) {
        showError(new ApiError(422, missing.map((name) => ({ loc: ['body', name], type: 'missing', msg: '' }))), formEl);
        return;
      }
      run(() => handler(formEl), formEl);
    });
    return formEl;
  }

  // A table of rows; a column is [label key, render(row), class].
  function table(columns, rows, rowAttrs = () => ({})) {
    if (!rows.length) return h('p', { class: 'muted empty' }, t(`${ns}.empty`));
    return h('table', { class: 'list crm-table' },
      h('thead', {}, h('tr', {}, columns.map(([key, , cls]) => h('th', { class: cls }, t(key))))),
      h('tbody', {}, rows.map((row) => h('tr', { dataset: { id: row.id }, ...rowAttrs(row) },
        columns.map(([, render, cls]) => h('td', { class: cls }, render(row)))))));
  }

  return { showError, run, field, checkedForm, table };
}

export function input(name, value = '', attrs = {}) {
  return h('input', { id: `f-${name}`, name, value: value ?? '', autocomplete: 'off', ...attrs });
}

export function choice(name, options, current, attrs = {}) {
  return h('select', { id: `f-${name}`, name, ...attrs }, options.map(([value, text]) => h('option', {
    value, selected: String(value) === String(current ?? ''),
  }, text)));
}

export function section(titleKey, ...children) {
  return h('section', { class: 'panel' }, h('h2', {}, t(titleKey)), children);
}
