// The dashboard's client of the Recur API: the same /v1 routes and HTTP
// Basic authentication the official clients use. The API key lives in this
// tab's sessionStorage only: it is gone when the tab closes, and no cookie
// carries it, so no other site can make the browser use it.

const KEY = 'recur.apiKey';

export const session = {
  get key() {
    return sessionStorage.getItem(KEY);
  },
  signIn(key) {
    sessionStorage.setItem(KEY, key);
  },
  signOut() {
    sessionStorage.removeItem(KEY);
  },
};

// ApiError is a failed request: status is the HTTP status (0 when the
// server could not be reached), message the API's own sentence.
export class ApiError extends Error {
  constructor(status, message, request, body) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.request = request;
    this.body = body;
    this.title = titleOf(status);
  }
}

function titleOf(status) {
  switch (status) {
    case 0: return 'Recur could not be reached.';
    case 400: return 'The request was refused (400).';
    case 401: return 'The API key was not accepted (401).';
    case 403: return 'Not allowed (403).';
    case 404: return 'Not found (404).';
    case 422: return 'The request could not be completed (422).';
    case 429: return 'Too many requests (429).';
    default: return status >= 500 ? `The server failed (${status}).` : `The request failed (${status}).`;
  }
}

// messageOf reads the message of an error body in any of the API's shapes:
// {"message": …} (with "code" and "param"), {"error": …}, and {"errors": …}
// as a map of field to message, a list, or a string.
export function messageOf(body) {
  if (!body || typeof body !== 'object') return '';
  const parts = [];
  if (typeof body.message === 'string' && body.message) parts.push(body.message);
  if (typeof body.error === 'string' && body.error) parts.push(body.error);
  const errs = body.errors;
  if (typeof errs === 'string') parts.push(errs);
  else if (Array.isArray(errs)) parts.push(...errs.map((e) => (typeof e === 'string' ? e : messageOf(e) || JSON.stringify(e))));
  else if (errs && typeof errs === 'object') {
    for (const [field, msg] of Object.entries(errs)) {
      const text = Array.isArray(msg) ? msg.join(' ') : String(msg);
      // The API's messages usually name their field already.
      parts.push(text.toLowerCase().includes(field.toLowerCase()) ? text : `${field}: ${text}`);
    }
  }
  return parts.join(' ');
}

// query builds a query string from an object, skipping empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

function basic(key) {
  // The key as user name and an empty password, as curl -u KEY: sends it.
  const bytes = new TextEncoder().encode(`${key}:`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

// api GETs (or sends) path and returns the decoded JSON. It throws ApiError
// with the API's message on any failure; a 401 also signs the tab out and
// tells the app (event "recur:unauthorized"), which shows the sign-in page.
export async function api(path, { params, method = 'GET', body, signal, key } = {}) {
  const url = path + query(params);
  const request = `${method} ${url}`;
  const headers = { Accept: 'application/json', Authorization: basic(key || session.key || '') };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    // credentials "omit": the key goes in our own header only, and the
    // browser neither sends cookies nor pops up its own password dialog
    // when the API answers 401 with WWW-Authenticate.
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal, credentials: 'omit', cache: 'no-store' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, `The request did not reach the server (${e.message}). Is Recur running?`, request);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      if (res.ok) throw new ApiError(res.status, `The server answered ${res.status} with a body that is not JSON.`, request);
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, messageOf(data) || `The server answered ${res.status} ${res.statusText}.`, request, data);
    // Tell the app once, however many requests of the page were refused.
    if (res.status === 401 && !key && session.key) {
      session.signOut();
      window.dispatchEvent(new CustomEvent('recur:unauthorized', { detail: err }));
    }
    throw err;
  }
  return data;
}

// isAbort tells a request cancelled by leaving the page from a real error.
export function isAbort(err) {
  return err && err.name === 'AbortError';
}
