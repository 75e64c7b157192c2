// Data sources and their bulk imports: the list of data sources, the
// imports of one (newest first, with live status), and one import with its
// counts per record type and every failed record and warning.

import { api, isAbort } from './api.js';
import { h, replace, errorBox, alert, table, badge, link, code, number, dateTime, date, ago } from './dom.js';

// POLL_MS is how often unfinished imports are asked for again, and
// IDLE_POLL_MS how often a data source's list looks for new imports when
// none is running.
const POLL_MS = 1000;
const IDLE_POLL_MS = 4000;
// PAGE is the number of imports a page of the list shows.
const PAGE = 25;

const RECORD_TYPES = [
  ['customers', 'Customers'],
  ['plans', 'Plans'],
  ['invoices', 'Invoices'],
  ['line_items', 'Line items'],
  ['transactions', 'Transactions'],
  ['subscription_events', 'Subscription events'],
];

const finished = (imp) => imp.status === 'completed' || imp.status === 'failed';

function totals(imp) {
  const t = { received: 0, imported: 0, failed: 0 };
  for (const c of Object.values(imp.counts || {})) {
    t.received += c.received || 0;
    t.imported += c.imported || 0;
    t.failed += c.failed || 0;
  }
  return t;
}

const dsPath = (ds) => `/v1/data_sources/${encodeURIComponent(ds)}`;
const importRoute = (ds, id) => `/data-sources/${encodeURIComponent(ds)}/imports/${encodeURIComponent(id)}`;

// sleep waits ms, or less when the view is left.
function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

export async function dataSources(ctx) {
  const { main, signal } = ctx;
  ctx.title('Data sources');
  const res = await api('/v1/data_sources', { params: { with_processing_status: true }, signal });
  const list = res.data_sources || [];
  const status = (d) => {
    const ps = d.processing_status;
    if (!ps) return '—';
    return h('span', { class: 'imports-status' },
      h('span', null, `${number(ps.processed)} processed`),
      ps.failed ? h('span', { class: 'bad' }, ` · ${number(ps.failed)} failed`) : null,
      ps.pending ? h('span', { class: 'live' }, ` · ${number(ps.pending)} pending`) : null);
  };
  replace(main,
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, 'Data sources'),
      h('p', { class: 'muted' }, 'Each data source holds the records of one billing system; open one to see its imports.'))),
    h('section', { class: 'card' }, table([
      { label: 'Name', value: (d) => link(`/data-sources/${encodeURIComponent(d.uuid)}`, d.name) },
      { label: 'System', value: (d) => d.system || '—' },
      { label: 'UUID', value: (d) => code(d.uuid) },
      { label: 'Created', value: (d) => date(d.created_at) },
      { label: 'Imports', value: status },
    ], list, {
      id: 'data-sources',
      empty: h('span', null, 'No data sources yet. Create one with ', h('code', null, 'POST /v1/data_sources'), ', then send a bulk import to it.'),
    })));
}

// importRow is one import in a data source's list.
function importRow(ds, imp) {
  const t = totals(imp);
  const warnings = (imp.warnings || []).length;
  return [
    h('td', null, dateTime(imp.created_at)),
    h('td', null, link(importRoute(ds, imp.id), imp.external_id || imp.id),
      imp.external_id ? h('div', { class: 'sub' }, code(imp.id)) : null),
    h('td', null, badge(imp.status), finished(imp) ? null : h('span', { class: 'pulse', title: 'updating live' })),
    h('td', { class: 'num' }, imp.counts ? number(t.received) : '—'),
    h('td', { class: 'num' }, imp.counts ? number(t.imported) : '—'),
    h('td', { class: `num${t.failed ? ' bad' : ''}` }, imp.counts ? number(t.failed) : '—'),
    h('td', { class: `num${warnings ? ' warn' : ''}` }, imp.counts ? number(warnings) : '—'),
  ];
}

export async function dataSource(ctx) {
  const { main, params: [ds], signal } = ctx;
  const listPath = `${dsPath(ds)}/json_imports`;
  const [source, first] = await Promise.all([
    api(dsPath(ds), { signal }),
    api(listPath, { params: { per_page: PAGE }, signal }),
  ]);
  ctx.title(source.name);
  const body = h('tbody');
  const rows = new Map(); // import id → {tr, imp}
  const more = h('div', { class: 'pager' });
  const pollState = h('p', { class: 'muted small', id: 'poll-state' });
  const empty = h('tr', { class: 'empty' }, h('td', { colspan: 7 },
    'No imports yet. Send one with ', h('code', null, `POST /v1/data_sources/${source.uuid}/json_imports`), ' or ', h('code', null, 'recur import'),
    '; it appears here as soon as it arrives.'));

  // show puts an import on screen, or updates its row.
  const show = (imp, where) => {
    const known = rows.get(imp.id);
    const tr = known ? known.tr : h('tr', { 'data-import': imp.id });
    replace(tr, importRow(ds, imp));
    tr.classList.toggle('has-failures', (imp.failed_records || []).length > 0);
    rows.set(imp.id, { tr, imp });
    if (!known) {
      if (where === 'top') body.prepend(tr); else body.append(tr);
    }
    empty.remove();
  };
  const paging = (page) => {
    replace(more);
    if (!page.has_more) return;
    const button = h('button', {
      type: 'button',
      onclick: async () => {
        button.disabled = true;
        try {
          const next = await api(listPath, { params: { per_page: PAGE, cursor: page.cursor }, signal });
          (next.json_imports || []).forEach((imp) => show(imp, 'bottom'));
          paging(next);
        } catch (err) {
          if (!isAbort(err)) replace(more, errorBox(err));
        }
      },
    }, 'Load older imports');
    more.append(button);
  };

  (first.json_imports || []).forEach((imp) => show(imp, 'bottom'));
  if (rows.size === 0) body.append(empty);
  paging(first);
  replace(main,
    h('nav', { class: 'crumbs' }, link('/data-sources', 'Data sources'), ' › ', source.name),
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, source.name),
      h('p', { class: 'muted' }, `${source.system || 'Custom'} · `, code(source.uuid), ` · created ${date(source.created_at)}`))),
    h('section', { class: 'card' },
      h('div', { class: 'card-head' }, h('h2', null, 'Imports'), pollState),
      h('div', { class: 'table-wrap' }, h('table', { id: 'imports' },
        h('thead', null, h('tr', null, ['Received', 'Import', 'Status'].map((l) => h('th', null, l)),
          ['Records', 'Imported', 'Failed', 'Warnings'].map((l) => h('th', { class: 'num' }, l)))),
        body)),
      more));

  // The list is live: every tick reads the newest page again, which adds
  // imports that arrived since and updates the ones still running; older
  // unfinished imports (loaded with "Load older") are read one by one.
  // While something runs the ticks are a second apart, otherwise a few.
  for (;;) {
    const open = [...rows.values()].filter((r) => !finished(r.imp));
    replace(pollState, open.length
      ? [h('span', { class: 'pulse' }), ` ${open.length} import${open.length > 1 ? 's' : ''} in progress; updating live`]
      : 'All imports have finished; new ones appear here as they arrive.');
    await sleep(open.length ? POLL_MS : IDLE_POLL_MS, signal);
    if (signal.aborted) return;
    try {
      const latest = await api(listPath, { params: { per_page: PAGE }, signal });
      const list = latest.json_imports || [];
      // Newest first: insert the new ones from the oldest up, each on top.
      for (const imp of [...list].reverse()) {
        if (!rows.has(imp.id)) show(imp, 'top');
        else if (!finished(rows.get(imp.id).imp)) show(imp);
      }
      const inPage = new Set(list.map((imp) => imp.id));
      for (const r of open) {
        if (!inPage.has(r.imp.id)) show(await api(`${listPath}/${encodeURIComponent(r.imp.id)}`, { signal }));
      }
    } catch (err) {
      if (isAbort(err) || err.status === 401) return;
      replace(pollState, errorBox(err));
      return;
    }
  }
}

function problemsTable(id, problems, ds, emptyText) {
  const rows = problems.map((p) => ({ p, text: `${p.type} ${p.index} ${p.external_id} ${p.customer_external_id || ''} ${p.field} ${p.message}`.toLowerCase() }));
  const columns = [
    { label: 'Type', value: ({ p }) => h('span', { class: 'rtype' }, p.type) },
    { label: 'Index', num: true, value: ({ p }) => p.index },
    { label: 'External id', value: ({ p }) => code(p.external_id) },
    { label: 'Customer', value: ({ p }) => (p.customer_external_id ? link(`/customers?q=${encodeURIComponent(p.customer_external_id)}`, p.customer_external_id) : '—') },
    { label: 'Field', value: ({ p }) => code(p.field) },
    { label: 'Message', class: 'message', value: ({ p }) => p.message },
  ];
  const holder = h('div', null, table(columns, rows, { id, empty: emptyText }));
  if (problems.length < 10) return holder;
  // Large reports get a filter over every column.
  const count = h('span', { class: 'muted small' });
  const filter = h('input', {
    type: 'search', placeholder: 'Filter by type, id, field or message…', class: 'filter', 'aria-label': `Filter ${id}`,
    oninput: () => {
      const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      const shown = rows.filter((r) => words.every((w) => r.text.includes(w)));
      replace(holder, table(columns, shown, { id, empty: 'Nothing matches the filter.' }));
      replace(count, words.length ? `${shown.length} of ${rows.length} shown` : '');
    },
  });
  return h('div', null, h('div', { class: 'filter-bar' }, filter, count), holder);
}

export async function importPage(ctx) {
  const { main, params: [ds, id], signal } = ctx;
  const [source, first] = await Promise.all([
    api(dsPath(ds), { signal }),
    api(`${dsPath(ds)}/json_imports/${encodeURIComponent(id)}`, { signal }),
  ]);
  let imp = first;
  ctx.title(`Import ${imp.external_id || imp.id}`);
  const view = h('div');
  replace(main,
    h('nav', { class: 'crumbs' }, link('/data-sources', 'Data sources'), ' › ', link(`/data-sources/${encodeURIComponent(ds)}`, source.name), ' › ', 'Import'),
    view);
  for (;;) {
    replace(view, ...importView(imp, ds));
    if (finished(imp) || signal.aborted) return;
    await sleep(POLL_MS, signal);
    if (signal.aborted) return;
    try {
      imp = await api(`${dsPath(ds)}/json_imports/${encodeURIComponent(id)}`, { signal });
    } catch (err) {
      if (isAbort(err) || err.status === 401) return;
      view.prepend(errorBox(err));
      return;
    }
  }
}

function importView(imp, ds) {
  const t = totals(imp);
  const failures = imp.failed_records || [];
  const warnings = imp.warnings || [];
  const live = finished(imp)
    ? h('span', { class: 'muted' }, `finished ${ago(imp.updated_at)}`)
    : h('span', { class: 'live', id: 'live' }, h('span', { class: 'pulse' }), imp.status === 'queued' ? ' waiting for a worker; updating live' : ' being applied; updating live');
  const out = [
    h('div', { class: 'page-head' }, h('div', null,
      h('h1', null, 'Import ', imp.external_id ? h('span', null, imp.external_id) : code(imp.id), ' ', badge(imp.status)),
      h('p', { class: 'muted' }, code(imp.id), ` · received ${dateTime(imp.created_at)} · `, live))),
  ];
  if (imp.reason) out.push(alert('error', h('strong', null, 'The import failed. '), imp.reason));
  if (!imp.counts) {
    if (finished(imp)) {
      out.push(h('section', { class: 'card' }, h('p', { class: 'muted' }, 'This import has no per-record report: nothing in it could be read as records.')));
    } else {
      out.push(h('section', { class: 'card' }, h('p', { class: 'loading' },
        imp.status === 'queued' ? 'The import is queued; its report appears when a worker has applied it.' : 'The import is being applied…')));
    }
    return out;
  }
  out.push(h('section', { class: 'kpis' },
    kpi('Records received', number(t.received)),
    kpi('Imported', number(t.imported), 'good'),
    kpi('Failed', number(t.failed), t.failed ? 'bad' : null),
    kpi('Warnings', number(warnings.length), warnings.length ? 'warn' : null)));
  out.push(h('section', { class: 'card', id: 'counts' },
    h('div', { class: 'card-head' }, h('h2', null, 'Records per type')),
    table([
      { label: 'Type', value: ([, label]) => label },
      { label: 'Received', num: true, value: ([k]) => number(imp.counts[k] ? imp.counts[k].received : 0) },
      { label: 'Imported', num: true, value: ([k]) => number(imp.counts[k] ? imp.counts[k].imported : 0) },
      { label: 'Failed', num: true, value: ([k]) => number(imp.counts[k] ? imp.counts[k].failed : 0) },
    ], RECORD_TYPES.filter(([k]) => imp.counts[k] && imp.counts[k].received > 0), {
      id: 'counts-table', empty: 'The payload held no records.', rowClass: ([k]) => (imp.counts[k] && imp.counts[k].failed ? 'has-failures' : null),
    })));
  out.push(h('section', { class: 'card', id: 'failed-records' },
    h('div', { class: 'card-head' }, h('h2', null, `Failed records (${number(failures.length)})`),
      h('p', { class: 'muted small' }, 'These records were not imported. Fix them at the source and send them again; the records around them were imported.')),
    problemsTable('failed-records-table', failures, ds, 'No record failed.')));
  out.push(h('section', { class: 'card', id: 'warnings' },
    h('div', { class: 'card-head' }, h('h2', null, `Warnings (${number(warnings.length)})`),
      h('p', { class: 'muted small' }, 'These records were imported, with the field named left out or taken as it was.')),
    problemsTable('warnings-table', warnings, ds, 'No warnings.')));
  out.push(h('details', { class: 'card raw' }, h('summary', null, 'ChartMogul’s status_details'),
    h('pre', null, JSON.stringify(imp.status_details, null, 2))));
  return out;
}

function kpi(label, value, tone) {
  return h('div', { class: `kpi${tone ? ` ${tone}` : ''}` }, h('div', { class: 'kpi-label' }, label), h('div', { class: 'kpi-value' }, value));
}
