// The overview: the account's key figures, its MRR over time and its MRR
// movements per month, from the Metrics API (GET /v1/metrics/all and
// /v1/metrics/mrr, monthly). The period is in the address
// (#/?from=2024-01&to=2024-12) so that it can be bookmarked.

import { api, query as qs } from './api.js';
import { h, replace, alert, errorBox, money, number, percent, table, month } from './dom.js';
import { lineChart, stackedBars, legend } from './charts.js';

// The movements of /v1/metrics/mrr, increases first, in the order they
// stack.
export const MOVEMENTS = [
  { key: 'mrr-new-business', label: 'New business', cls: 's-new' },
  { key: 'mrr-expansion', label: 'Expansion', cls: 's-expansion' },
  { key: 'mrr-reactivation', label: 'Reactivation', cls: 's-reactivation' },
  { key: 'mrr-contraction', label: 'Contraction', cls: 's-contraction' },
  { key: 'mrr-churn', label: 'Churn', cls: 's-churn' },
];

const pad = (n) => String(n).padStart(2, '0');

function ym(d) {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`;
}

function addMonths(m, k) {
  const [y, mo] = m.split('-').map(Number);
  return ym(new Date(Date.UTC(y, mo - 1 + k, 1)));
}

function lastDay(m) {
  const [y, mo] = m.split('-').map(Number);
  return new Date(Date.UTC(y, mo, 0)).toISOString().slice(0, 10);
}

const isMonth = (v) => /^\d{4}-(0[1-9]|1[0-2])$/.test(v || '');

// period reads from and to (months) from the address; the default is the
// twelve months up to this one.
function period(query) {
  const now = ym(new Date());
  const to = isMonth(query.get('to')) ? query.get('to') : now;
  const from = isMonth(query.get('from')) ? query.get('from') : addMonths(to, -11);
  const today = new Date().toISOString().slice(0, 10);
  // Figures stop at today: the API would otherwise carry today's MRR
  // into the months ahead as if they had happened.
  const start = `${from}-01`;
  const end = lastDay(to) > today && start <= today ? today : lastDay(to);
  return { from, to, start, end };
}

export async function overview(ctx) {
  const { main, query, signal, currency } = ctx;
  ctx.title('Overview');
  const p = period(query);
  const fmt = (v, compact) => money(v, currency, compact);

  const kpis = h('section', { class: 'kpis', id: 'kpis' }, h('p', { class: 'loading' }, 'Loading figures…'));
  const mrrBox = h('div', { class: 'card-body' }, h('p', { class: 'loading' }, 'Loading MRR…'));
  const movBox = h('div', { class: 'card-body' }, h('p', { class: 'loading' }, 'Loading movements…'));
  replace(main,
    h('div', { class: 'page-head' },
      h('div', null, h('h1', null, 'Overview'),
        h('p', { class: 'muted' }, `${month(p.start)} – ${month(p.end)} · amounts in ${currency}, the account’s currency`)),
      rangeForm(p)),
    kpis,
    h('section', { class: 'card', id: 'mrr' }, h('div', { class: 'card-head' }, h('h2', null, 'Monthly recurring revenue')), mrrBox),
    h('section', { class: 'card', id: 'movements' },
      h('div', { class: 'card-head' }, h('h2', null, 'MRR movements per month'), legend(MOVEMENTS)), movBox));

  if (p.from > p.to) {
    const msg = alert('error', h('strong', null, 'The period is backwards. '), `It starts in ${month(p.start)} and ends before that; choose a “to” month on or after the “from” month.`);
    replace(kpis, msg);
    replace(mrrBox, h('p', { class: 'muted' }, 'No chart for this period.'));
    replace(movBox, h('p', { class: 'muted' }, 'No chart for this period.'));
    return;
  }
  const params = { 'start-date': p.start, 'end-date': p.end, interval: 'month' };
  const [all, mrr] = await Promise.allSettled([
    api('/v1/metrics/all', { params, signal }),
    api('/v1/metrics/mrr', { params, signal }),
  ]);
  if (signal.aborted) return;

  if (all.status === 'fulfilled') replace(kpis, kpiCards(all.value.summary, fmt));
  else replace(kpis, errorBox(all.reason));

  if (mrr.status === 'rejected') {
    replace(mrrBox, errorBox(mrr.reason));
    replace(movBox, errorBox(mrr.reason));
    return;
  }
  const entries = mrr.value.entries || [];
  replace(mrrBox, lineChart({
    id: 'mrr-chart', label: 'MRR', entries, value: (e) => e.mrr, format: fmt,
    details: (e) => [['Change', percent(e['percentage-change'], 2)]],
  }));
  replace(movBox,
    stackedBars({ id: 'movements-chart', label: 'MRR movements', entries, series: MOVEMENTS, format: fmt }),
    h('details', { class: 'figures' }, h('summary', null, 'Figures per month'), movementsTable(entries, fmt)));
}

function kpiCards(sum, fmt) {
  const card = (label, value, change, opts = {}) => {
    let delta = null;
    if (typeof change === 'number' && change !== 0) {
      const good = opts.lowerIsBetter ? change < 0 : change > 0;
      delta = h('span', { class: `delta ${good ? 'up' : 'down'}`, title: 'change from the month before' }, `${change > 0 ? '▲' : '▼'} ${percent(Math.abs(change), 1)}`);
    } else if (typeof change === 'number') {
      delta = h('span', { class: 'delta flat', title: 'change from the month before' }, 'no change');
    }
    return h('div', { class: 'kpi' }, h('div', { class: 'kpi-label' }, label), h('div', { class: 'kpi-value' }, value), delta);
  };
  return [
    card('MRR', fmt(sum['current-mrr']), sum['mrr-percentage-change']),
    card('ARR', fmt(sum['current-arr']), sum['arr-percentage-change']),
    card('Customers', number(sum['current-customers']), sum['customers-percentage-change']),
    card('ARPA', fmt(sum['current-arpa']), sum['arpa-percentage-change']),
    card('Customer churn', percent(sum['current-customer-churn-rate'], 2), sum['customer-churn-rate-percentage-change'], { lowerIsBetter: true }),
    card('MRR churn', percent(sum['current-mrr-churn-rate'], 2), sum['mrr-churn-rate-percentage-change'], { lowerIsBetter: true }),
  ];
}

function movementsTable(entries, fmt) {
  const net = (e) => MOVEMENTS.reduce((t, m) => t + (Number(e[m.key]) || 0), 0);
  return table([
    { label: 'Month', value: (e) => month(e.date) },
    ...MOVEMENTS.map((m) => ({ label: m.label, num: true, value: (e) => fmt(e[m.key]) })),
    { label: 'Net', num: true, value: (e) => fmt(net(e)) },
    { label: 'MRR', num: true, value: (e) => fmt(e.mrr) },
  ], [...entries].reverse(), { id: 'movements-table', empty: 'No entries in this period.' });
}

function rangeForm(p) {
  const from = h('input', { type: 'month', id: 'range-from', value: p.from, required: true, 'aria-label': 'From month' });
  const to = h('input', { type: 'month', id: 'range-to', value: p.to, required: true, 'aria-label': 'To month' });
  const now = ym(new Date());
  const preset = (months, label) => {
    const f = addMonths(now, -(months - 1));
    const active = p.to === now && p.from === f;
    return h('a', { class: `preset${active ? ' active' : ''}`, href: `#/${qs({ from: f, to: now })}` }, label);
  };
  return h('form', {
    class: 'range', id: 'range',
    onsubmit: (ev) => {
      ev.preventDefault();
      window.location.hash = `#/${qs({ from: from.value, to: to.value })}`;
    },
  },
  h('div', { class: 'presets' }, preset(12, '12 months'), preset(24, '24 months'), preset(36, '36 months')),
  h('label', null, 'From ', from), h('label', null, 'to ', to),
  h('button', { type: 'submit' }, 'Show'));
}
