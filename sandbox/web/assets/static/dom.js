// Building the DOM and formatting values. Every view builds its elements
// with h() and sets text through text nodes, never innerHTML, so nothing the
// API returns can turn into markup (and the page's Content-Security-Policy
// needs no exception for inline code).

const SVG_NS = 'http://www.w3.org/2000/svg';

// h creates an HTML element. attrs: class, text, on* (listeners), any other
// attribute; false/null/undefined attributes and children are skipped;
// arrays of children are flattened.
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// s creates an SVG element, as h does.
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace puts children in place of el's content.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// alert is a message box: kind is error, info or warn.
export function alert(kind, ...children) {
  return h('div', { class: `alert ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

// errorBox shows an error of the API (or any other) as a message; detail
// names the request that failed, so the user can repeat it with curl.
export function errorBox(err) {
  const detail = err && err.request ? h('div', { class: 'detail' }, err.request) : null;
  return alert('error', h('strong', { text: err && err.title ? err.title : 'Something went wrong' }), ' ',
    h('span', { class: 'message', text: err && err.message ? err.message : String(err) }), detail);
}

// table builds a table from column definitions {label, value(row) → node or
// text, num (right-aligned figures), class} and rows.
export function table(columns, rows, opts = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', { id: opts.id, class: opts.class || null },
      h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.num ? 'num' : c.class || null, scope: 'col' }, c.label)))),
      h('tbody', null, rows.length === 0
        ? h('tr', { class: 'empty' }, h('td', { colspan: columns.length }, opts.empty || 'Nothing here yet.'))
        : rows.map((r) => h('tr', { class: opts.rowClass ? opts.rowClass(r) : null },
          columns.map((c) => h('td', { class: c.num ? 'num' : c.class || null }, c.value(r))))))));
}

// badge shows a status word in its colour.
export function badge(status, label) {
  return h('span', { class: `badge st-${String(status).toLowerCase().replace(/[^a-z]+/g, '-')}` }, label || String(status).replace(/_/g, ' '));
}

// --- formatting ---

const moneyFormats = new Map();

function moneyFormat(currency, compact) {
  const key = `${currency}/${compact}`;
  if (!moneyFormats.has(key)) {
    let f;
    try {
      f = new Intl.NumberFormat(undefined, compact
        ? { style: 'currency', currency, notation: 'compact', maximumFractionDigits: 1 }
        : { style: 'currency', currency });
    } catch {
      // An unknown currency code: show the figure with the code.
      const n = new Intl.NumberFormat(undefined, { minimumFractionDigits: compact ? 0 : 2, maximumFractionDigits: 2 });
      f = { format: (v) => `${n.format(v)} ${currency}` };
    }
    moneyFormats.set(key, f);
  }
  return moneyFormats.get(key);
}

// money formats an amount in minor units (cents) of a currency.
export function money(cents, currency, compact = false) {
  if (cents === null || cents === undefined) return '—';
  return moneyFormat(currency || 'USD', compact).format(cents / 100);
}

// signedMoney formats a movement with an explicit + for increases.
export function signedMoney(cents, currency) {
  const m = money(cents, currency);
  return cents > 0 ? `+${m}` : m;
}

const numberFormat = new Intl.NumberFormat();
export function number(n) {
  return n === null || n === undefined ? '—' : numberFormat.format(n);
}

// percent formats a figure that is already a percentage (12.5 → "12.5%").
export function percent(p, digits = 1) {
  if (p === null || p === undefined || Number.isNaN(p)) return '—';
  return `${Number(p).toFixed(digits)}%`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: 'UTC', timeZoneName: 'short' });
const monthFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', timeZone: 'UTC' });

function parseDate(v) {
  if (v === null || v === undefined || v === '') return null;
  const d = typeof v === 'number' ? new Date(v) : new Date(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
  return Number.isNaN(d.getTime()) ? null : d;
}

// date formats a date or timestamp as a day (in UTC, as the API reports).
export function date(v) {
  const d = parseDate(v);
  return d ? dateFormat.format(d) : '—';
}

export function dateTime(v) {
  const d = parseDate(v);
  return d ? dateTimeFormat.format(d) : '—';
}

export function month(v) {
  const d = parseDate(v);
  return d ? monthFormat.format(d) : '—';
}

// ago says how long ago a timestamp was, for live status lines.
export function ago(v) {
  const d = parseDate(v);
  if (!d) return '';
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

// link is an anchor to a dashboard route.
export function link(route, ...children) {
  return h('a', { href: `#${route}` }, ...children);
}

// code shows an identifier in monospace.
export function code(v) {
  return v ? h('code', null, v) : '—';
}
