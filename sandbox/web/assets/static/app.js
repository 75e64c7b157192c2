// The dashboard's entry point: the router, the sign-in page, and the frame
// every view renders into. Routes live in the URL's fragment (#/customers/…)
// so that the server has a single page to serve and every view can be
// bookmarked; the API key is asked for whenever the tab has none.

import { api, session, isAbort, ApiError } from './api.js';
import { h, replace, errorBox, alert } from './dom.js';
import { overview } from './overview.js';
import { dataSources, dataSource, importPage } from './imports.js';
import { customers, customer } from './customers.js';

// Each route: a pattern over the fragment's path, the view, and the
// navigation entry it belongs to.
const routes = [
  [/^\/$/, overview, 'overview'],
  [/^\/data-sources$/, dataSources, 'data-sources'],
  [/^\/data-sources\/([^/]+)$/, dataSource, 'data-sources'],
  [/^\/data-sources\/([^/]+)\/imports\/([^/]+)$/, importPage, 'data-sources'],
  [/^\/customers$/, customers, 'customers'],
  [/^\/customers\/([^/]+)$/, customer, 'customers'],
];

// state is what the views share: the signed-in account (its currency is
// the one the Metrics API reports in).
const state = { account: null };

let current = null; // the AbortController of the view on screen
let lastPath = null;
let notice = null; // a message for the next sign-in page

function where() {
  const raw = window.location.hash.replace(/^#/, '') || '/';
  const i = raw.indexOf('?');
  const path = (i < 0 ? raw : raw.slice(0, i)) || '/';
  return { path: path.length > 1 ? path.replace(/\/+$/, '') : path, query: new URLSearchParams(i < 0 ? '' : raw.slice(i + 1)) };
}

async function render() {
  if (current) current.abort();
  current = new AbortController();
  const { signal } = current;
  const { path, query } = where();
  const main = document.getElementById('view');
  if (path !== lastPath) window.scrollTo(0, 0);
  lastPath = path;

  if (!session.key || path === '/sign-in') {
    signedIn(false);
    return signIn(main, path === '/sign-in' ? '/' : null);
  }
  signedIn(true);
  if (!state.account) {
    replace(main, h('p', { class: 'loading' }, 'Loading…'));
    try {
      state.account = await api('/v1/account', { signal });
    } catch (err) {
      if (isAbort(err) || err.status === 401) return;
      return replace(main, errorBox(err));
    }
    showAccount();
  }

  const route = routes.find(([re]) => re.test(path));
  for (const a of document.querySelectorAll('[data-nav]')) {
    const active = !!route && a.dataset.nav === route[2];
    a.classList.toggle('active', active);
    if (active) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (!route) {
    document.title = 'Not found · Recur';
    return replace(main, alert('error', h('strong', null, 'There is no page here. '), `The address #${path} names no dashboard page; `,
      h('a', { href: '#/' }, 'go to the overview'), '.'));
  }
  replace(main, h('p', { class: 'loading' }, 'Loading…'));
  try {
    const ctx = {
      main, query, signal, account: state.account,
      params: path.match(route[0]).slice(1).map(decodeURIComponent), // throws on a malformed %-escape
      currency: state.account.currency || 'USD',
      title: (t) => { document.title = `${t} · Recur`; },
    };
    await route[1](ctx);
  } catch (err) {
    if (isAbort(err) || signal.aborted || err.status === 401) return;
    console.error(err);
    replace(main, errorBox(err), h('p', { class: 'muted' },
      h('button', { type: 'button', onclick: () => window.history.back() }, '← Back'), ' or go to the ', h('a', { href: '#/' }, 'overview'), '.'));
  }
}

function signedIn(yes) {
  document.body.classList.toggle('signed-out', !yes);
  if (!yes) state.account = null;
}

function showAccount() {
  const a = state.account;
  replace(document.getElementById('account-name'), a.name || 'Account', h('span', { class: 'muted' }, ` · ${a.currency}`));
}

// signIn shows the sign-in form; after signing in the tab goes to next, or
// stays on the page it was asked for.
function signIn(main, next) {
  document.title = 'Sign in · Recur';
  const input = h('input', {
    id: 'api-key', name: 'key', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true,
    placeholder: 'Your Recur API key', 'aria-label': 'API key',
  });
  const message = h('div', { class: 'form-message' });
  if (notice) {
    message.append(notice);
    notice = null;
  }
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', {
    id: 'sign-in', class: 'card signin',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const key = input.value.trim();
      replace(message);
      if (!key) return message.append(alert('error', 'Enter an API key: the key printed when Recur first started, or one made with `recur keys create`.'));
      button.disabled = true;
      try {
        const account = await api('/v1/account', { key });
        session.signIn(key);
        state.account = account;
        showAccount();
        if (next !== null) window.location.hash = `#${next}`;
        else render();
      } catch (err) {
        message.append(err instanceof ApiError && err.status === 401
          ? alert('error', h('strong', null, 'This key was not accepted. '), err.message)
          : errorBox(err));
      } finally {
        button.disabled = false;
      }
    },
  },
  h('img', { src: document.querySelector('link[rel=icon]').getAttribute('href'), alt: '', width: 40, height: 40, class: 'signin-logo' }),
  h('h1', null, 'Sign in to Recur'),
  h('p', { class: 'muted' }, 'Paste an API key. It stays in this browser tab (sessionStorage) and is sent only to this server’s /v1 API, as your other clients send it.'),
  h('label', { for: 'api-key' }, 'API key'),
  input,
  button,
  message);
  replace(main, h('div', { class: 'signin-wrap' }, form));
  input.focus();
}

window.addEventListener('hashchange', render);

window.addEventListener('recur:unauthorized', (ev) => {
  notice = alert('error', h('strong', null, 'Signed out. '), `The API answered 401: ${ev.detail.message} Sign in with a valid key.`);
  render();
});

document.getElementById('sign-out').addEventListener('click', () => {
  session.signOut();
  notice = alert('info', 'Signed out. The key was removed from this tab.');
  if (window.location.hash === '#/sign-in') render();
  else window.location.hash = '#/sign-in';
});

render();
