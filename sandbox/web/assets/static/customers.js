// Customers: the list (searched by external id or e-mail, paged with the
// API's cursors) and one customer's page with its subscriptions and MRR
// movements (GET /v1/customers/{uuid}/subscriptions and …/activities).

import { api, query as qs } from './api.js';
import { h, replace, errorBox, alert, table, badge, link, code, money, signedMoney, number, date } from './dom.js';
import { lineChart } from './charts.js';

const PER_PAGE = 50;
const STATUSES = ['Active', 'Past Due', 'Cancelled', 'New Lead', 'Working Lead', 'Qualified Lead', 'Unqualified Lead'];

// cursors remembers, per search, the cursor of each page seen, so that
// "Previous" can go back without the API having backward cursors.
const cursors = new Map();

export async function customers(ctx) {
  const { main, query, signal } = ctx;
  ctx.title('Customers');
  const q = (query.get('q') || '').trim();
  const status = query.get('status') || '';
  const cursor = query.get('cursor') || '';
  const page = Math.max(1, Number(query.get('page')) || 1);
  const byEmail = q.includes('@');
  const searchKey = `${q}|${byEmail ? '' : status}`;

  const input = h('input', { type: 'search', name: 'q', id: 'customer-q', value: q, placeholder: 'External id or e-mail address', 'aria-label': 'External id or e-mail address' });
  const select = h('select', { name: 'status', id: 'customer-status', 'aria-label': 'Status', disabled: byEmail || null },
    h('option', { value: '' }, 'Any status'),
    STATUSES.map((st) => h('option', { value: st.replace(/ /g, '_'), selected: status === st.replace(/ /g, '_') || null }, st)));
  const form = h('form', {
    class: 'search', id: 'customer-search',
    onsubmit: (ev) => {
      ev.preventDefault();
      window.location.hash = `#/customers${qs({ q: input.value.trim(), status: select.value })}`;
    },
  }, input, select, h('button', { type: 'submit' }, 'Search'), q || status ? link('/customers', 'Clear') : null);
  const results = h('section', { class: 'card' }, h('p', { class: 'loading' }, 'Loading customers…'));
  replace(main,
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, 'Customers'),
      h('p', { class: 'muted' }, 'Search by external id (exact) or by e-mail address.')), form),
    results);

  let res;
  try {
    res = byEmail
      ? await api('/v1/customers/search', { params: { email: q, per_page: PER_PAGE, cursor }, signal })
      : await api('/v1/customers', { params: { external_id: q, status, per_page: PER_PAGE, cursor }, signal });
  } catch (err) {
    if (byEmail && err.status === 404) {
      // The search answers 404 when no customer has the address.
      replace(results, alert('info', err.message));
      return;
    }
    throw err;
  }
  const list = res.entries || [];
  const seen = cursors.get(searchKey) || [];
  seen[page - 1] = cursor;
  cursors.set(searchKey, seen);
  if (res.total_pages) seen.total = res.total_pages;

  const nav = (p, c) => `/customers${qs({ q, status: byEmail ? '' : status, cursor: c, page: p > 1 ? p : '' })}`;
  const pager = h('div', { class: 'pager' },
    page > 1 && seen[page - 2] !== undefined ? link(nav(page - 1, seen[page - 2]), '← Previous') : null,
    page > 1 && seen[page - 2] === undefined ? link(nav(1, ''), '← First page') : null,
    h('span', { class: 'muted' }, `Page ${page}${seen.total ? ` of ${seen.total}` : ''}`),
    res.has_more && res.cursor ? link(nav(page + 1, res.cursor), 'Next →') : null);

  replace(results,
    table([
      { label: 'Name', value: (c) => link(`/customers/${encodeURIComponent(c.uuid)}`, c.name || c.external_id), },
      { label: 'Company', value: (c) => c.company || '—' },
      { label: 'External id', value: (c) => code(c.external_id) },
      { label: 'E-mail', value: (c) => c.email || '—' },
      { label: 'Status', value: (c) => (c.status ? badge(c.status) : '—') },
      { label: 'Country', value: (c) => c.country || '—' },
      { label: 'MRR', num: true, value: (c) => money(c.mrr, c.currency) },
      { label: 'Customer since', value: (c) => date(c['customer-since']) },
    ], list, { id: 'customers', empty: q ? `No customer has the external id “${q}”.` : 'No customers yet.' }),
    pager);
}

export async function customer(ctx) {
  const { main, params: [ref], signal } = ctx;
  // Links from the API's chartmogul-url name a customer by its numeric id
  // (#/customers/12-Ada_Lovelace); find its uuid and show that page.
  const legacy = /^(\d+)(?:-|$)/.exec(ref);
  if (legacy) return findById(ctx, Number(legacy[1]));

  const c = await api(`/v1/customers/${encodeURIComponent(ref)}`, { signal });
  ctx.title(c.name || c.external_id);
  const base = `/v1/customers/${encodeURIComponent(c.uuid)}`;
  const subsBox = h('div', null, h('p', { class: 'loading' }, 'Loading subscriptions…'));
  const movBox = h('div', null, h('p', { class: 'loading' }, 'Loading movements…'));
  const chartBox = h('div', { class: 'card-body' });
  const fact = (label, value) => [h('dt', null, label), h('dd', null, value)];
  const addr = [c.city, c.state, c.country].filter(Boolean).join(', ');

  replace(main,
    h('nav', { class: 'crumbs' }, link('/customers', 'Customers'), ' › ', c.name || c.external_id),
    h('div', { class: 'page-head' }, h('div', null,
      h('h1', null, c.name || c.external_id, ' ', c.status ? badge(c.status) : null),
      h('p', { class: 'muted' }, [c.company, c.email].filter(Boolean).join(' · ') || ' '))),
    h('section', { class: 'kpis' },
      kpi('MRR', money(c.mrr, c.currency)),
      kpi('ARR', money(c.arr, c.currency)),
      kpi('Customer since', date(c['customer-since']))),
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', null, 'Details')),
      h('dl', { class: 'facts' },
        fact('UUID', code(c.uuid)),
        fact('External ids', (c.external_ids || [c.external_id]).map((x) => code(x))),
        fact('Data sources', (c.data_source_uuids || [c.data_source_uuid]).map((d) => link(`/data-sources/${encodeURIComponent(d)}`, code(d)))),
        fact('Location', addr || '—'),
        fact('Currency', c.currency || '—'),
        c.lead_created_at ? fact('Lead created', date(c.lead_created_at)) : null,
        c.free_trial_started_at ? fact('Free trial started', date(c.free_trial_started_at)) : null,
        (c.attributes && c.attributes.tags && c.attributes.tags.length) ? fact('Tags', c.attributes.tags.map((t) => h('span', { class: 'tag' }, t))) : null)),
    h('section', { class: 'card', id: 'subscriptions' }, h('div', { class: 'card-head' }, h('h2', null, 'Subscriptions')), subsBox),
    h('section', { class: 'card', id: 'customer-mrr' }, h('div', { class: 'card-head' }, h('h2', null, 'MRR over time')), chartBox),
    h('section', { class: 'card', id: 'activities' }, h('div', { class: 'card-head' }, h('h2', null, 'MRR movements')), movBox));

  const [subs, acts] = await Promise.allSettled([
    api(`${base}/subscriptions`, { params: { per_page: 200 }, signal }),
    allActivities(base, signal),
  ]);
  if (signal.aborted) return;
  if (subs.status === 'fulfilled') {
    replace(subsBox, table([
      { label: 'Plan', value: (x) => x.plan || '—' },
      { label: 'External id', value: (x) => code(x.external_id) },
      { label: 'Status', value: (x) => badge(x.status) },
      { label: 'Quantity', num: true, value: (x) => number(x.quantity) },
      { label: 'Billing', value: (x) => cycle(x['billing-cycle'], x['billing-cycle-count']) },
      { label: 'MRR', num: true, value: (x) => money(x.mrr, x.currency) },
      { label: 'Started', value: (x) => date(x['start-date']) },
      { label: 'Ends / ended', value: (x) => date(x['end-date']) },
    ], subs.value.entries || [], { id: 'subscriptions-table', empty: 'No subscriptions: nothing this customer was invoiced for recurs.' }),
    subs.value.has_more ? h('p', { class: 'muted small' }, 'More subscriptions follow; the first 200 are shown.') : null);
  } else {
    replace(subsBox, errorBox(subs.reason));
  }
  if (acts.status === 'rejected') {
    replace(movBox, errorBox(acts.reason));
    replace(chartBox, errorBox(acts.reason));
    return;
  }
  const { entries, truncated } = acts.value;
  replace(chartBox, entries.length
    ? lineChart({ id: 'customer-mrr-chart', label: 'MRR', entries: mrrSteps(entries), value: (e) => e.mrr, format: (v, compact) => money(v, c.currency, compact), height: 200 })
    : h('p', { class: 'muted' }, 'No movements yet.'));
  replace(movBox, table([
    { label: 'Date', value: (a) => date(a.date) },
    { label: 'Type', value: (a) => badge(a.type, a.type.replace('new_biz', 'new business')) },
    { label: 'Description', value: (a) => a.description },
    { label: 'Subscription', value: (a) => code(a['subscription-external-id']) },
    { label: 'Movement', num: true, value: (a) => h('span', { class: a['activity-mrr-movement'] < 0 ? 'bad' : 'good' }, signedMoney(a['activity-mrr-movement'], a.currency)) },
    { label: 'MRR after', num: true, value: (a) => money(a['activity-mrr'], a.currency) },
  ], [...entries].reverse(), { id: 'activities-table', empty: 'No movements yet.' }),
  truncated ? h('p', { class: 'muted small' }, `The first ${entries.length} movements are shown.`) : null);
}

// allActivities reads a customer's movements, oldest first, following
// cursors up to a bound.
async function allActivities(base, signal) {
  const entries = [];
  let cursor = '';
  for (let pages = 0; pages < 10; pages++) {
    const res = await api(`${base}/activities`, { params: { per_page: 200, cursor }, signal });
    entries.push(...(res.entries || []));
    if (!res.has_more || !res.cursor) return { entries, truncated: false };
    cursor = res.cursor;
  }
  return { entries, truncated: true };
}

// mrrSteps turns movements into the customer's MRR at the end of each
// month from the first movement to this month.
function mrrSteps(acts) {
  const byMonth = new Map();
  for (const a of acts) byMonth.set(a.date.slice(0, 7), a['activity-mrr']);
  const first = acts[0].date.slice(0, 7);
  const now = new Date().toISOString().slice(0, 7);
  const out = [];
  let [y, m] = first.split('-').map(Number);
  let mrr = 0;
  for (let i = 0; i < 240; i++) {
    const key = `${y}-${String(m).padStart(2, '0')}`;
    if (byMonth.has(key)) mrr = byMonth.get(key);
    out.push({ date: `${key}-01`, mrr });
    if (key >= now) break;
    m += 1;
    if (m > 12) { m = 1; y += 1; }
  }
  return out;
}

function cycle(unit, count) {
  if (!unit) return '—';
  return count > 1 ? `every ${count} ${unit}s` : `every ${unit}`;
}

async function findById(ctx, id) {
  const { main, signal } = ctx;
  replace(main, h('p', { class: 'loading' }, 'Looking the customer up…'));
  let cursor = '';
  for (let pages = 0; pages < 100; pages++) {
    const res = await api('/v1/customers', { params: { per_page: 200, cursor }, signal });
    const list = res.entries || [];
    const hit = list.find((c) => c.id === id);
    if (hit) {
      window.location.replace(`#/customers/${encodeURIComponent(hit.uuid)}`);
      return;
    }
    // Customers are listed in ascending id order: once past it, stop.
    if (!res.has_more || !res.cursor || (list.length && list[list.length - 1].id > id)) break;
    cursor = res.cursor;
  }
  replace(main, alert('error', h('strong', null, 'Customer not found. '), `This account has no customer with id ${id}; `, link('/customers', 'search the customers'), '.'));
}

function kpi(label, value) {
  return h('div', { class: 'kpi' }, h('div', { class: 'kpi-label' }, label), h('div', { class: 'kpi-value' }, value));
}
