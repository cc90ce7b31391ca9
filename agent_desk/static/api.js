// JSON calls to the server with the session cookie and the CSRF token on unsafe methods.
// A refusal becomes an ApiError whose message is the server's text in the page's language only.
import { errorText } from '/static/i18n.js';

export class ApiError extends Error {
  constructor(status, detail) {
    super(errorText(detail) || `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
  }
}

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)cc_csrf=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  try { return sessionStorage.getItem('cc.csrf') || ''; } catch (_) { return ''; }
}

export function rememberCsrf(token) {
  try { if (token) sessionStorage.setItem('cc.csrf', token); } catch (_) { /* cookie only */ }
}

export async function api(method, url, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = csrfToken();
  const response = await fetch(url, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.status === 401 && !location.pathname.startsWith('/login')) {
    location.href = '/login?next=' + encodeURIComponent(location.pathname);
  }
  if (!response.ok) throw new ApiError(response.status, data && data.detail !== undefined ? data.detail : data);
  return data;
}

export const get = (url) => api('GET', url);
export const post = (url, body = {}) => api('POST', url, body);
