// Login: the session cookie is set by the server; a seat name typed here is remembered by this
// workstation, so the seat's extension is bound automatically at every login.
import { t, loadNamespace, applyI18n, bindLangSwitch } from '/static/i18n.js';
import { post, rememberCsrf, ApiError } from '/static/api.js';

const SEAT_KEY = 'cc.seat';

// Only same-site paths are followed after login (no open redirect).
function nextPath() {
  const next = new URLSearchParams(location.search).get('next') || '/desk';
  return next.startsWith('/') && !next.startsWith('//') ? next : '/desk';
}

async function main() {
  await loadNamespace('common');
  applyI18n(document);
  bindLangSwitch(document.getElementById('lang-switch'));
  const form = document.getElementById('login-form');
  const error = document.getElementById('login-error');
  try { form.seat.value = localStorage.getItem(SEAT_KEY) || ''; } catch (_) { /* no storage */ }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    const seat = form.seat.value.trim();
    try {
      const result = await post('/api/auth/login', { username: form.username.value.trim(), password: form.password.value });
      rememberCsrf(result.csrf_token);
      try { localStorage.setItem(SEAT_KEY, seat); } catch (_) { /* not remembered */ }
      if (seat) await post('/api/desk/seat', { seat });
      location.href = nextPath();
    } catch (err) {
      error.textContent = err instanceof ApiError && err.status === 401 ? t('login.failed') : t('login.error', { detail: err.message });
    }
  });
}

main();
