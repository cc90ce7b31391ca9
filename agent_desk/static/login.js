// Login: the session cookie is set by the server; a seat name typed here is remembered by this
// workstation, so the seat's extension is bound automatically at every login. After failed logins the
// server asks for a captcha (a picture it draws itself) and, after more, locks the account for a while.
import { t, errorText, loadNamespace, applyI18n, bindLangSwitch } from '/static/i18n.js';
import { post, rememberCsrf } from '/static/api.js';

const SEAT_KEY = 'cc.seat';

// The server judges `next` (same-site paths only) and answers with the page to open.
function requestedNext() {
  return new URLSearchParams(location.search).get('next') || '';
}

async function sendLogin(body) {
  const response = await fetch('/api/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify(body),
  });
  return { status: response.status, data: await response.json().catch(() => ({})) };
}

function refusal(status, data) {
  if (data.reason === 'locked') return t('login.locked', { minutes: Math.max(1, Math.ceil((data.retry_after_s || 60) / 60)) });
  if (data.reason === 'captcha') return t(data.captcha_was_sent ? 'login.captcha_wrong' : 'login.captcha_needed');
  if (status === 401) return t('login.failed');
  return t('login.error', { detail: errorText(data.detail) || status });
}

async function main() {
  await loadNamespace('common');
  applyI18n(document);
  bindLangSwitch(document.getElementById('lang-switch'));
  const form = document.getElementById('login-form');
  const error = document.getElementById('login-error');
  const box = document.getElementById('captcha');
  const image = document.getElementById('captcha-image');
  let captchaToken = '';
  try { form.seat.value = localStorage.getItem(SEAT_KEY) || ''; } catch (_) { /* no storage */ }

  async function showCaptcha() {
    const response = await fetch('/api/auth/captcha', { credentials: 'same-origin', cache: 'no-store' });
    const challenge = await response.json();
    captchaToken = challenge.token;
    image.src = challenge.image;
    image.alt = t('login.captcha_image');
    form.captcha.value = '';
    form.captcha.required = true;
    box.hidden = false;
  }
  document.getElementById('captcha-refresh').addEventListener('click', () => showCaptcha().catch(() => {}));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    const seat = form.seat.value.trim();
    const answer = box.hidden ? '' : form.captcha.value.trim();
    try {
      const { status, data } = await sendLogin({
        username: form.username.value.trim(),
        password: form.password.value,
        next: requestedNext(),
        captcha_token: box.hidden ? '' : captchaToken,
        captcha_answer: answer,
      });
      if (status !== 200) {
        error.textContent = refusal(status, { ...data, captcha_was_sent: Boolean(answer) });
        // A captcha is good for one attempt: draw a new one whenever the server still asks for it.
        if (data.captcha_required) await showCaptcha();
        return;
      }
      rememberCsrf(data.csrf_token);
      try { localStorage.setItem(SEAT_KEY, seat); } catch (_) { /* not remembered */ }
      if (seat) await post('/api/desk/seat', { seat });
      location.href = data.next || '/desk';
    } catch (err) {
      error.textContent = t('login.error', { detail: err.message });
    }
  });
}

main();
