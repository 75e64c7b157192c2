'use strict';

// Drives a Recur server with the official chartmogul-node client, unmodified,
// through every method of its Import API surface (spec/official-clients.md
// §1, method table) plus the Metrics API, and checks what comes back: the
// outcome (resolution for 200/201/202/204, rejection with e.status and the
// parsed JSON error in e.response.body otherwise), the members the client's
// users read, and the values the script sent.
//
//   CHARTMOGUL_BASE=http://127.0.0.1:8080 CHARTMOGUL_API_KEY=key node test.js
//
// One line per step; the first failure ends the run with exit status 1 and
// says which step, what was expected and what came back. Retries are off
// (config.retries = 0): a 429 or 5xx must fail the step at once, not hang
// the run for the client's default fifteen minutes.

const assert = require('node:assert/strict');
const CM = require('chartmogul-node');

const base = process.env.CHARTMOGUL_BASE;
const key = process.env.CHARTMOGUL_API_KEY;
if (!base || !key) {
  console.error('set CHARTMOGUL_BASE (e.g. http://127.0.0.1:8080) and CHARTMOGUL_API_KEY');
  process.exit(2);
}
const config = new CM.Config(key, base);
config.retries = 0;

// A run tag keeps names and external ids of repeated runs against one
// server apart.
const run = Date.now().toString(36) + Math.floor(Math.random() * 1e6).toString(36);

let steps = 0;

// describe shows what a call returned or threw, for failure messages.
function describe (v) {
  if (v instanceof Error) {
    const body = v.response ? (v.response.body !== undefined ? v.response.body : v.response.text) : undefined;
    return `${v.name} status=${v.status} message=${JSON.stringify(v.message)} body=${JSON.stringify(body)}`;
  }
  const s = JSON.stringify(v);
  return s && s.length > 1500 ? s.slice(0, 1500) + '…' : s;
}

// step runs one call and its checks: fn returns the call's promise, check
// asserts on the value it resolved with. A rejection or a failed check ends
// the run.
async function step (name, fn, check) {
  steps++;
  let got;
  try {
    got = await fn();
  } catch (e) {
    fail(name, 'the call to resolve', e);
  }
  try {
    if (check) await check(got);
  } catch (e) {
    fail(name, e.message, got);
  }
  console.log(`ok   ${String(steps).padStart(3)} ${name}`);
  return got;
}

// rejects runs a call that must fail with the HTTP status, and checks the
// raw superagent error the client rejects with (official-clients.md §1):
// e.status is the code, e.response.body the parsed JSON error.
async function rejects (name, status, fn, check) {
  steps++;
  let got;
  try {
    got = await fn();
  } catch (e) {
    try {
      assert.equal(e.status, status, `HTTP ${status}, got ${e.status}`);
      assert.ok(e.response, 'an HTTP response on the error');
      assert.match(String(e.response.headers['content-type']), /^application\/json/, 'a JSON content type');
      assert.equal(typeof e.response.body, 'object', 'a JSON object as the body');
      assert.notEqual(e.response.body, null, 'a JSON object as the body');
      if (check) await check(e.response.body, e);
    } catch (f) {
      fail(name, f.message, e);
    }
    console.log(`ok   ${String(steps).padStart(3)} ${name} (rejected: ${status})`);
    return e;
  }
  fail(name, `a rejection with HTTP ${status}`, got);
}

function fail (name, expected, got) {
  console.log(`FAIL ${String(steps).padStart(3)} ${name}`);
  console.log(`     expected: ${expected}`);
  console.log(`     got:      ${describe(got)}`);
  process.exit(1);
}

// poll repeats fn until ok(value) holds or the deadline passes, for what
// Recur computes after answering (bulk imports, analytics).
async function poll (what, fn, ok, seconds = 60) {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`${what} within ${seconds}s; last answer ${describe(v)}`);
    await new Promise(resolve => setTimeout(resolve, 100));
  }
}

const isUUID = (prefix, v) => typeof v === 'string' && new RegExp(`^${prefix}[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).test(v);
const hasKeys = (obj, keys, what) => {
  assert.equal(typeof obj, 'object', `${what} is an object`);
  assert.notEqual(obj, null, `${what} is an object`);
  for (const k of keys) assert.ok(Object.prototype.hasOwnProperty.call(obj, k), `${what} has member ${k}; members: ${Object.keys(obj)}`);
};
const page = (res, key, what) => {
  hasKeys(res, [key, 'has_more', 'cursor'], what);
  assert.ok(Array.isArray(res[key]), `${what}.${key} is an array`);
  assert.equal(typeof res.has_more, 'boolean', `${what}.has_more is a boolean`);
  assert.equal(res.has_more, res.cursor !== null, `${what}: has_more ${res.has_more} agrees with cursor ${res.cursor}`);
  return res[key];
};
const errorsMember = (body, field) => {
  hasKeys(body, ['errors'], 'the error body');
  assert.equal(typeof body.errors[field], 'string', `errors.${field} is a string: ${JSON.stringify(body)}`);
  return body.errors[field];
};

const NO_SUCH = {
  customer: 'cus_00000000-0000-4000-8000-000000000000',
  invoice: 'inv_00000000-0000-4000-8000-000000000000',
  plan: 'pl_00000000-0000-4000-8000-000000000000'
};

async function main () {
  // --- Ping and account -----------------------------------------------
  await step('Ping.ping', () => CM.Ping.ping(config), r => assert.deepEqual(r, { data: 'pong!' }));
  await rejects('Ping.ping with a wrong key is 401', 401, () => CM.Ping.ping(new CM.Config('not-a-key', base)), b => {
    assert.equal(b.code, 401);
    assert.equal(typeof b.message, 'string');
    assert.equal(b.param, null);
  });
  const account = await step('Account.retrieve', () => CM.Account.retrieve(config), r => {
    hasKeys(r, ['name', 'currency', 'time_zone', 'week_start_on'], 'the account');
    assert.match(r.currency, /^[A-Z]{3}$/);
  });
  // Every amount below is in the account's currency: a foreign one would
  // need exchange rates before the Metrics API could answer.
  await step('Account.retrieve({include})', () => CM.Account.retrieve(config, { include: 'churn_recognition,churn_when_zero_mrr' }),
    r => hasKeys(r, ['name', 'currency', 'time_zone', 'week_start_on'], 'the account'));

  // --- Data sources ---------------------------------------------------
  const dsName = `Node billing ${run}`;
  const ds = await step('DataSource.create', () => CM.DataSource.create(config, { name: dsName }), r => {
    hasKeys(r, ['uuid', 'name', 'system', 'created_at', 'status'], 'the data source');
    assert.ok(isUUID('ds_', r.uuid), `uuid ${r.uuid} is ds_ + UUID`);
    assert.equal(r.name, dsName);
  });
  await rejects('DataSource.create with a taken name is 422', 422, () => CM.DataSource.create(config, { name: dsName }),
    b => assert.equal(errorsMember(b, 'name'), 'Has already been taken.'));
  await rejects('DataSource.create with name null is 422', 422, () => CM.DataSource.create(config, { name: null }),
    b => errorsMember(b, 'name'));
  await step('DataSource.retrieve', () => CM.DataSource.retrieve(config, ds.uuid), r => {
    assert.equal(r.uuid, ds.uuid);
    assert.equal(r.name, dsName);
  });
  await step('DataSource.all({name})', () => CM.DataSource.all(config, { name: dsName }), r => {
    hasKeys(r, ['data_sources'], 'the list');
    assert.deepEqual(r.data_sources.map(d => d.uuid), [ds.uuid]);
  });
  await step('DataSource.all()', () => CM.DataSource.all(config, {}),
    r => assert.ok(r.data_sources.some(d => d.uuid === ds.uuid), 'the new data source is listed'));
  const ds2 = await step('DataSource.create (a second one, for merges)', () => CM.DataSource.create(config, { name: `Node other ${run}` }));

  // --- Bulk (JSON) import ---------------------------------------------
  const impExt = `imp_${run}`;
  const imp = await step('JsonImport.create', () => CM.JsonImport.create(config, ds.uuid, {
    external_id: impExt,
    customers: [{ external_id: 'bulk_cus_1', name: 'Bulk Ltd', email: `bulk-${run}@example.com`, country: 'DE' }],
    plans: [{ external_id: 'bulk_plan', name: 'Bulk plan', interval_count: 1, interval_unit: 'month' }],
    invoices: [{ external_id: 'bulk_inv_1', customer_external_id: 'bulk_cus_1', date: '2024-02-01', currency: account.currency }],
    line_items: [{
      invoice_external_id: 'bulk_inv_1', type: 'subscription', amount_in_cents: 1200, plan_external_id: 'bulk_plan',
      subscription_external_id: 'bulk_sub_1', service_period_start: '2024-02-01', service_period_end: '2024-03-01', external_id: 'bulk_li_1'
    }],
    transactions: [{ invoice_external_id: 'bulk_inv_1', type: 'payment', result: 'successful', date: '2024-02-02', external_id: 'bulk_tr_1' }],
    subscription_events: []
  }), r => {
    hasKeys(r, ['id', 'data_source_uuid', 'status', 'external_id', 'status_details', 'created_at', 'updated_at'], 'the import');
    assert.equal(typeof r.id, 'string');
    assert.equal(r.data_source_uuid, ds.uuid);
    assert.equal(r.external_id, impExt);
    assert.ok(['queued', 'processing', 'completed'].includes(r.status), `status ${r.status}`);
  });
  await step('JsonImport.retrieve (until completed)', () => poll('the import to complete',
    () => CM.JsonImport.retrieve(config, ds.uuid, imp.id), r => r.status === 'completed' || r.status === 'failed'), r => {
    assert.equal(r.status, 'completed');
    assert.equal(r.id, imp.id);
    hasKeys(r.status_details, ['plans', 'bulk_cus_1'], 'status_details');
    assert.equal(r.status_details.bulk_cus_1.status, 'imported');
  });
  await step('JsonImport.retrieve by external_id', () => CM.JsonImport.retrieve(config, ds.uuid, impExt), r => assert.equal(r.id, imp.id));
  await step('JsonImport.all', () => CM.JsonImport.all(config, ds.uuid, {}), r => {
    const list = Array.isArray(r) ? r : (r.json_imports || r.imports || r.entries);
    assert.ok(Array.isArray(list), `a list of imports in ${Object.keys(r)}`);
    assert.ok(list.some(i => i.id === imp.id), 'the import is listed');
  });
  const bulkCus = await step('Customer.all({data_source_uuid, external_id}) finds the imported customer',
    () => CM.Customer.all(config, { data_source_uuid: ds.uuid, external_id: 'bulk_cus_1' }), r => {
      const entries = page(r, 'entries', 'the customer list');
      assert.equal(entries.length, 1);
      assert.equal(entries[0].name, 'Bulk Ltd');
    }).then(r => r.entries[0]);

  // --- Customers ------------------------------------------------------
  const email = `acme-${run}@example.com`;
  const cus = await step('Customer.create', () => CM.Customer.create(config, {
    data_source_uuid: ds.uuid,
    external_id: 'cus_node_1',
    name: 'Acme Corp',
    email,
    company: 'Acme',
    country: 'US',
    state: 'CA',
    city: 'San Francisco',
    zip: '94107',
    lead_created_at: '2023-12-01 00:00:00',
    free_trial_started_at: '2023-12-15',
    attributes: { tags: ['alpha', 'beta'], custom: [{ type: 'String', key: 'channel', value: 'web' }] }
  }), r => {
    hasKeys(r, ['id', 'uuid', 'external_id', 'name', 'email', 'status', 'customer-since', 'attributes', 'data_source_uuid',
      'data_source_uuids', 'external_ids', 'company', 'country', 'state', 'city', 'zip', 'lead_created_at',
      'free_trial_started_at', 'address', 'mrr', 'arr', 'billing-system-url', 'chartmogul-url', 'billing-system-type',
      'currency', 'currency-sign'], 'the customer');
    assert.ok(Number.isInteger(r.id) && r.id > 0 && r.id < 2 ** 32, `id ${r.id} fits the Go client's uint32`);
    assert.ok(isUUID('cus_', r.uuid), `uuid ${r.uuid}`);
    assert.equal(r.external_id, 'cus_node_1');
    assert.equal(r.name, 'Acme Corp');
    assert.equal(r.email, email);
    assert.equal(r.company, 'Acme');
    assert.equal(r.country, 'US');
    assert.equal(r.state, 'CA');
    assert.equal(r.city, 'San Francisco');
    assert.equal(r.zip, '94107');
    assert.equal(r.lead_created_at, '2023-12-01T00:00:00.000Z');
    assert.equal(r.free_trial_started_at, '2023-12-15T00:00:00.000Z');
    assert.equal(r.data_source_uuid, ds.uuid);
    assert.deepEqual(r.data_source_uuids, [ds.uuid]);
    assert.deepEqual(r.external_ids, ['cus_node_1']);
    assert.deepEqual(r.attributes.tags, ['alpha', 'beta']);
    assert.equal(r.attributes.custom.channel, 'web');
    assert.deepEqual(r.address, { country: 'United States', state: 'California', city: 'San Francisco', address_zip: '94107' });
    assert.equal(r.mrr, 0);
    assert.equal(r.arr, 0);
  });
  await rejects('Customer.create with a taken external_id is 422', 422, () => CM.Customer.create(config, {
    data_source_uuid: ds.uuid, external_id: 'cus_node_1', name: 'Again'
  }), b => assert.equal(errorsMember(b, 'external_id'), 'The external ID for this customer already exists in our system.'));
  await step('Customer.retrieve', () => CM.Customer.retrieve(config, cus.uuid), r => {
    assert.equal(r.uuid, cus.uuid);
    assert.equal(r.id, cus.id);
    assert.equal(r.name, 'Acme Corp');
  });
  await rejects('Customer.retrieve of an unknown uuid is 404', 404, () => CM.Customer.retrieve(config, NO_SUCH.customer),
    b => assert.equal(typeof (b.error || b.message), 'string', 'a message'));
  const first = await step('Customer.all({data_source_uuid, per_page: 1})', () => CM.Customer.all(config, { data_source_uuid: ds.uuid, per_page: 1 }), r => {
    assert.equal(page(r, 'entries', 'page 1').length, 1);
    assert.equal(r.has_more, true);
  });
  await step('Customer.all({cursor}) reads page 2', () => CM.Customer.all(config, { data_source_uuid: ds.uuid, per_page: 1, cursor: first.cursor }), r => {
    const entries = page(r, 'entries', 'page 2');
    assert.equal(entries.length, 1);
    assert.equal(r.has_more, false);
    assert.deepEqual([first.entries[0].uuid, entries[0].uuid].sort(), [bulkCus.uuid, cus.uuid].sort());
  });
  await step('Customer.all({external_id})', () => CM.Customer.all(config, { external_id: 'cus_node_1', data_source_uuid: ds.uuid }),
    r => assert.deepEqual(page(r, 'entries', 'the list').map(c => c.uuid), [cus.uuid]));
  await rejects('Customer.all({per_page: "abc"}) is 400', 400, () => CM.Customer.all(config, { per_page: 'abc' }), b => {
    assert.equal(b.code, 400);
    assert.equal(b.param, 'per_page');
    assert.match(b.message, /per_page/);
  });
  await step('Customer.search({email})', () => CM.Customer.search(config, { email }),
    r => assert.deepEqual(page(r, 'entries', 'the search').map(c => c.uuid), [cus.uuid]));
  await rejects('Customer.search for an unknown email is 404', 404, () => CM.Customer.search(config, { email: `nobody-${run}@example.com` }), b => {
    assert.equal(b.code, 404);
    assert.equal(b.param, 'email');
  });
  await step('Customer.modify', () => CM.Customer.modify(config, cus.uuid, {
    name: 'Acme Corporation', company: 'Acme Inc', attributes: { custom: { channel: 'partner' } }
  }), r => {
    assert.equal(r.uuid, cus.uuid);
    assert.equal(r.name, 'Acme Corporation');
    assert.equal(r.company, 'Acme Inc');
    assert.equal(r.email, email, 'fields not sent are kept');
    assert.equal(r.attributes.custom.channel, 'partner');
  });
  await step('Customer.attributes', () => CM.Customer.attributes(config, cus.uuid), r => {
    const a = r.attributes || r;
    assert.deepEqual(a.tags, ['alpha', 'beta']);
    assert.equal(a.custom.channel, 'partner');
  });
  await step('Tag.add', () => CM.Tag.add(config, cus.uuid, { tags: ['vip'] }), r => assert.deepEqual(r.tags, ['alpha', 'beta', 'vip']));
  await step('Tag.remove', () => CM.Tag.remove(config, cus.uuid, { tags: ['alpha'] }), r => assert.deepEqual(r.tags, ['beta', 'vip']));
  await step('CustomAttribute.add', () => CM.CustomAttribute.add(config, cus.uuid, { custom: [{ type: 'Integer', key: 'seats', value: 5 }] }),
    r => assert.deepEqual(r.custom, { channel: 'partner', seats: 5 }));
  await step('CustomAttribute.update', () => CM.CustomAttribute.update(config, cus.uuid, { custom: { seats: 6 } }),
    r => assert.deepEqual(r.custom, { channel: 'partner', seats: 6 }));
  await step('CustomAttribute.remove', () => CM.CustomAttribute.remove(config, cus.uuid, { custom: ['seats'] }),
    r => assert.deepEqual(r.custom, { channel: 'partner' }));

  // --- Plans ----------------------------------------------------------
  const plan = await step('Plan.create', () => CM.Plan.create(config, {
    data_source_uuid: ds.uuid, name: 'Gold', interval_count: 1, interval_unit: 'month', external_id: 'plan_gold'
  }), r => {
    hasKeys(r, ['uuid', 'data_source_uuid', 'name', 'interval_count', 'interval_unit', 'external_id'], 'the plan');
    assert.ok(isUUID('pl_', r.uuid), `uuid ${r.uuid}`);
    assert.equal(r.data_source_uuid, ds.uuid);
    assert.equal(r.name, 'Gold');
    assert.equal(r.interval_count, 1);
    assert.equal(r.interval_unit, 'month');
    assert.equal(r.external_id, 'plan_gold');
  });
  const bare = await step('Plan.create without external_id', () => CM.Plan.create(config, {
    data_source_uuid: ds.uuid, name: 'Silver', interval_count: 3, interval_unit: 'month'
  }), r => assert.equal(r.external_id, r.uuid.slice('pl_'.length), 'the bare uuid is the external_id (spec §1.2)'));
  await rejects('Plan.create with a taken external_id is 422', 422, () => CM.Plan.create(config, {
    data_source_uuid: ds.uuid, name: 'Gold again', interval_count: 1, interval_unit: 'month', external_id: 'plan_gold'
  }), b => assert.equal(errorsMember(b, 'external_id'), 'A plan with this identifier already exists in our system.'));
  await rejects('Plan.create with interval_unit "week" is 422', 422, () => CM.Plan.create(config, {
    data_source_uuid: ds.uuid, name: 'Weekly', interval_count: 1, interval_unit: 'week'
  }), b => errorsMember(b, 'interval_unit'));
  await step('Plan.retrieve', () => CM.Plan.retrieve(config, plan.uuid), r => assert.deepEqual(r, plan));
  const plans1 = await step('Plan.all({data_source_uuid, per_page: 2})', () => CM.Plan.all(config, { data_source_uuid: ds.uuid, per_page: 2 }), r => {
    assert.equal(page(r, 'plans', 'page 1').length, 2);
    assert.equal(r.has_more, true, 'three plans: the bulk one and two more');
  });
  await step('Plan.all({cursor})', () => CM.Plan.all(config, { data_source_uuid: ds.uuid, per_page: 2, cursor: plans1.cursor }), r => {
    const plans = page(r, 'plans', 'page 2');
    assert.equal(plans.length, 1);
    const all = plans1.plans.concat(plans).map(p => p.external_id).sort();
    assert.deepEqual(all, ['bulk_plan', bare.external_id, 'plan_gold'].sort());
  });
  await step('Plan.all({external_id})', () => CM.Plan.all(config, { data_source_uuid: ds.uuid, external_id: 'plan_gold' }),
    r => assert.deepEqual(page(r, 'plans', 'the list').map(p => p.uuid), [plan.uuid]));
  await step('Plan.modify', () => CM.Plan.modify(config, bare.uuid, { name: 'Silver quarterly' }), r => {
    assert.equal(r.uuid, bare.uuid);
    assert.equal(r.name, 'Silver quarterly');
    assert.equal(r.interval_count, 3);
  });
  await step('Plan.destroy', () => CM.Plan.destroy(config, bare.uuid));
  await rejects('Plan.retrieve of the deleted plan is 404', 404, () => CM.Plan.retrieve(config, bare.uuid));

  // --- Invoices, with line items and transactions ---------------------
  const invoices = await step('Invoice.create', () => CM.Invoice.create(config, cus.uuid, {
    invoices: [{
      external_id: 'inv_node_1',
      date: '2024-01-01 00:00:00',
      currency: account.currency,
      due_date: '2024-01-15',
      line_items: [{
        type: 'subscription', subscription_external_id: 'sub_node_1', plan_uuid: plan.uuid, external_id: 'li_node_1',
        service_period_start: '2024-01-01', service_period_end: '2024-02-01', amount_in_cents: 5000, quantity: 2,
        discount_code: 'WELCOME', discount_amount_in_cents: 1000, tax_amount_in_cents: 500
      }],
      transactions: [{ date: '2024-01-05 00:00:00', type: 'payment', result: 'successful', external_id: 'tr_node_1' }]
    }, {
      external_id: 'inv_node_2',
      date: '2024-01-10',
      currency: account.currency,
      line_items: [{ type: 'one_time', amount_in_cents: 2500, description: 'Setup fee', external_id: 'li_node_2' }]
    }, {
      external_id: 'inv_node_3',
      date: '2024-01-20',
      currency: account.currency,
      line_items: [{ type: 'one_time', amount_in_cents: 900, external_id: 'li_node_3' }]
    }]
  }), r => {
    hasKeys(r, ['invoices'], 'the answer');
    assert.equal(r.invoices.length, 3);
    const [a, b] = r.invoices;
    hasKeys(a, ['uuid', 'external_id', 'date', 'due_date', 'currency', 'line_items', 'transactions', 'errors'], 'the invoice');
    assert.ok(isUUID('inv_', a.uuid), `uuid ${a.uuid}`);
    assert.equal(a.external_id, 'inv_node_1');
    assert.equal(a.date, '2024-01-01T00:00:00.000Z');
    assert.equal(a.due_date, '2024-01-15T00:00:00.000Z');
    assert.equal(a.currency, account.currency);
    assert.deepEqual(a.errors, {});
    const li = a.line_items[0];
    assert.ok(isUUID('li_', li.uuid), `line item uuid ${li.uuid}`);
    assert.ok(isUUID('sub_', li.subscription_uuid), `subscription uuid ${li.subscription_uuid}`);
    assert.equal(li.type, 'subscription');
    assert.equal(li.subscription_external_id, 'sub_node_1');
    assert.equal(li.plan_uuid, plan.uuid);
    assert.equal(li.amount_in_cents, 5000);
    assert.equal(li.quantity, 2);
    assert.equal(li.discount_code, 'WELCOME');
    assert.equal(li.discount_amount_in_cents, 1000);
    assert.equal(li.tax_amount_in_cents, 500);
    assert.equal(li.prorated, false);
    assert.equal(li.service_period_start, '2024-01-01T00:00:00.000Z');
    assert.equal(li.service_period_end, '2024-02-01T00:00:00.000Z');
    const tr = a.transactions[0];
    assert.ok(isUUID('tr_', tr.uuid), `transaction uuid ${tr.uuid}`);
    assert.equal(tr.type, 'payment');
    assert.equal(tr.result, 'successful');
    assert.equal(tr.date, '2024-01-05T00:00:00.000Z');
    assert.equal(b.line_items[0].type, 'one_time');
    assert.equal(b.line_items[0].amount_in_cents, 2500);
    assert.deepEqual(b.transactions, []);
  });
  const [inv1, inv2, inv3] = invoices.invoices;
  const subUuid = inv1.line_items[0].subscription_uuid;
  await rejects('Invoice.create with a taken external_id is 422', 422, () => CM.Invoice.create(config, cus.uuid, {
    invoices: [{ external_id: 'inv_node_1', date: '2024-01-01', currency: account.currency, line_items: [{ type: 'one_time', amount_in_cents: 1 }] }]
  }), b => {
    hasKeys(b, ['invoices'], 'the error body');
    assert.equal(b.invoices[0].errors.external_id, 'The external ID for this invoice already exists in our system.');
  });
  await rejects('Invoice.create for an unknown customer is 404', 404, () => CM.Invoice.create(config, NO_SUCH.customer, {
    invoices: [{ external_id: 'inv_x', date: '2024-01-01', currency: account.currency, line_items: [{ type: 'one_time', amount_in_cents: 1 }] }]
  }));
  const cusInv1 = await step('Invoice.all(customerUuid, {per_page: 2})', () => CM.Invoice.all(config, cus.uuid, { per_page: 2 }), r => {
    assert.equal(r.customer_uuid, cus.uuid);
    assert.equal(page(r, 'invoices', 'page 1').length, 2);
    assert.equal(r.has_more, true);
  });
  await step('Invoice.all(customerUuid, {cursor})', () => CM.Invoice.all(config, cus.uuid, { per_page: 2, cursor: cusInv1.cursor }), r => {
    const list = page(r, 'invoices', 'page 2');
    assert.equal(list.length, 1);
    assert.deepEqual(cusInv1.invoices.concat(list).map(i => i.uuid).sort(), [inv1.uuid, inv2.uuid, inv3.uuid].sort());
  });
  await step('Invoice.all({data_source_uuid, external_id})', () => CM.Invoice.all(config, { data_source_uuid: ds.uuid, external_id: 'inv_node_1' }), r => {
    const list = page(r, 'invoices', 'the list');
    assert.deepEqual(list.map(i => i.uuid), [inv1.uuid]);
    assert.equal(list[0].customer_uuid, cus.uuid);
  });
  await step('Invoice.all({customer_uuid})', () => CM.Invoice.all(config, { customer_uuid: cus.uuid }),
    r => assert.equal(page(r, 'invoices', 'the list').length, 3));
  await step('Invoice.retrieve', () => CM.Invoice.retrieve(config, inv1.uuid), r => {
    assert.equal(r.uuid, inv1.uuid);
    assert.equal(r.customer_uuid, cus.uuid);
    assert.equal(r.external_id, 'inv_node_1');
    assert.deepEqual(r.line_items.map(l => l.uuid), [inv1.line_items[0].uuid]);
    assert.deepEqual(r.transactions.map(t => t.uuid), [inv1.transactions[0].uuid]);
  });
  await rejects('Invoice.retrieve of an unknown uuid is 404', 404, () => CM.Invoice.retrieve(config, NO_SUCH.invoice));
  await step('Invoice.modify', () => CM.Invoice.modify(config, inv1.uuid, { due_date: '2024-01-20' }), r => {
    assert.equal(r.uuid, inv1.uuid);
    assert.equal(r.due_date, '2024-01-20T00:00:00.000Z');
    assert.equal(r.date, '2024-01-01T00:00:00.000Z', 'fields not sent are kept');
  });
  await step('Invoice.update({qs: {data_source_uuid, external_id}, ...body})', () => CM.Invoice.update(config, {
    qs: { data_source_uuid: ds.uuid, external_id: 'inv_node_1' }, due_date: '2024-01-25'
  }), r => {
    assert.equal(r.uuid, inv1.uuid);
    assert.equal(r.due_date, '2024-01-25T00:00:00.000Z');
  });
  await step('Invoice.updateStatus voided', () => CM.Invoice.updateStatus(config, ds.uuid, 'inv_node_2', { status: 'voided' }), r => {
    assert.equal(r.message, 'Invoice updated');
    assert.equal(r.external_id, 'inv_node_2');
    assert.equal(r.status, 'voided');
  });
  await step('Invoice.updateStatus written_off', () => CM.Invoice.updateStatus(config, ds.uuid, 'inv_node_3', { status: 'written_off' }),
    r => assert.equal(r.status, 'written_off'));
  await rejects('Invoice.updateStatus paid is 422', 422, () => CM.Invoice.updateStatus(config, ds.uuid, 'inv_node_3', { status: 'paid' }),
    b => errorsMember(b, 'status'));
  await step('Invoice.disable', () => CM.Invoice.disable(config, inv2.uuid), r => {
    assert.equal(r.uuid, inv2.uuid);
    assert.equal(r.disabled, true);
    assert.equal(typeof r.disabled_at, 'string');
  });
  await step('Invoice.enable', () => CM.Invoice.enable(config, inv2.uuid), r => {
    assert.equal(r.disabled, false);
    assert.equal(r.disabled_at, null);
  });
  await step('Invoice.disableByExternalId', () => CM.Invoice.disableByExternalId(config, { data_source_uuid: ds.uuid, external_id: 'inv_node_2' }), r => {
    assert.equal(r.uuid, inv2.uuid);
    assert.equal(r.disabled, true);
  });
  await step('Invoice.enableByExternalId', () => CM.Invoice.enableByExternalId(config, { data_source_uuid: ds.uuid, external_id: 'inv_node_2' }),
    r => assert.equal(r.disabled, false));

  // Line items
  const li = await step('LineItem.create', () => CM.LineItem.create(config, inv1.uuid, {
    type: 'one_time', amount_in_cents: 700, description: 'Extra seats', external_id: 'li_node_extra'
  }), r => {
    assert.ok(isUUID('li_', r.uuid), `uuid ${r.uuid}`);
    assert.equal(r.type, 'one_time');
    assert.equal(r.amount_in_cents, 700);
    assert.equal(r.external_id, 'li_node_extra');
  });
  await rejects('LineItem.create with a taken external_id is 422', 422, () => CM.LineItem.create(config, inv1.uuid, {
    type: 'one_time', amount_in_cents: 1, external_id: 'li_node_extra'
  }), b => errorsMember(b, 'external_id'));
  await step('LineItem.retrieve', () => CM.LineItem.retrieve(config, li.uuid), r => {
    assert.equal(r.uuid, li.uuid);
    assert.equal(r.description, 'Extra seats');
  });
  await step('LineItem.all({data_source_uuid, external_id})', () => CM.LineItem.all(config, { data_source_uuid: ds.uuid, external_id: 'li_node_extra' }),
    r => assert.deepEqual(r.line_items.map(l => l.uuid), [li.uuid]));
  await step('LineItem.modify', () => CM.LineItem.modify(config, li.uuid, { amount_in_cents: 800 }), r => {
    assert.equal(r.amount_in_cents, 800);
    assert.equal(r.description, 'Extra seats');
  });
  await step('LineItem.update({qs, ...body})', () => CM.LineItem.update(config, { qs: { data_source_uuid: ds.uuid, external_id: 'li_node_extra' }, quantity: 2 }), r => {
    assert.equal(r.uuid, li.uuid);
    assert.equal(r.quantity, 2);
    assert.equal(r.amount_in_cents, 800);
  });
  await step('LineItem.disable', () => CM.LineItem.disable(config, li.uuid), r => assert.equal(r.disabled, true));
  await step('LineItem.enable', () => CM.LineItem.enable(config, li.uuid), r => assert.equal(r.disabled, false));
  await step('LineItem.disableByExternalId', () => CM.LineItem.disableByExternalId(config, { data_source_uuid: ds.uuid, external_id: 'li_node_extra' }),
    r => { assert.equal(r.uuid, li.uuid); assert.equal(r.disabled, true); });
  await step('LineItem.enableByExternalId', () => CM.LineItem.enableByExternalId(config, { data_source_uuid: ds.uuid, external_id: 'li_node_extra' }),
    r => assert.equal(r.disabled, false));
  await step('LineItem.destroy', () => CM.LineItem.destroy(config, li.uuid));
  await rejects('LineItem.retrieve of the deleted line item is 404', 404, () => CM.LineItem.retrieve(config, li.uuid));
  await step('LineItem.create (another)', () => CM.LineItem.create(config, inv1.uuid, { type: 'one_time', amount_in_cents: 300, external_id: 'li_node_extra2' }));
  await step('LineItem.destroyByExternalId (params in the body)', () => CM.LineItem.destroyByExternalId(config, { data_source_uuid: ds.uuid, external_id: 'li_node_extra2' }));
  await step('LineItem.all finds no deleted line item', () => CM.LineItem.all(config, { data_source_uuid: ds.uuid, external_id: 'li_node_extra2' }),
    r => assert.deepEqual(r.line_items, []));

  // Transactions
  const tr = await step('Transaction.create', () => CM.Transaction.create(config, inv1.uuid, {
    type: 'refund', date: '2024-01-10 00:00:00', result: 'successful', amount_in_cents: 100, external_id: 'tr_node_refund'
  }), r => {
    hasKeys(r, ['uuid', 'external_id', 'type', 'date', 'result', 'amount_in_cents'], 'the transaction');
    assert.ok(isUUID('tr_', r.uuid), `uuid ${r.uuid}`);
    assert.equal(r.type, 'refund');
    assert.equal(r.result, 'successful');
    assert.equal(r.date, '2024-01-10T00:00:00.000Z');
    assert.equal(r.amount_in_cents, 100);
    assert.equal(r.external_id, 'tr_node_refund');
  });
  await rejects('Transaction.create with a taken external_id is 422', 422, () => CM.Transaction.create(config, inv1.uuid, {
    type: 'refund', date: '2024-01-11', result: 'successful', external_id: 'tr_node_refund'
  }), b => {
    const msg = (b.errors || {}).external_id || (b.errors || {})['transactions.external_id'];
    assert.equal(msg, 'has already been taken', `a duplicate message the Go client's IsAlreadyExists knows: ${JSON.stringify(b)}`);
  });
  await rejects('Transaction.create with type "payments" is 422', 422, () => CM.Transaction.create(config, inv1.uuid, {
    type: 'payments', date: '2024-01-11', result: 'successful'
  }), b => errorsMember(b, 'type'));
  await step('Transaction.retrieve', () => CM.Transaction.retrieve(config, tr.uuid), r => assert.equal(r.uuid, tr.uuid));
  await step('Transaction.all({data_source_uuid, external_id})', () => CM.Transaction.all(config, { data_source_uuid: ds.uuid, external_id: 'tr_node_refund' }),
    r => assert.deepEqual(r.transactions.map(t => t.uuid), [tr.uuid]));
  await step('Transaction.modify', () => CM.Transaction.modify(config, tr.uuid, { result: 'failed' }), r => {
    assert.equal(r.result, 'failed');
    assert.equal(r.amount_in_cents, 100);
  });
  await step('Transaction.update({qs, ...body})', () => CM.Transaction.update(config, { qs: { data_source_uuid: ds.uuid, external_id: 'tr_node_refund' }, result: 'successful' }),
    r => { assert.equal(r.uuid, tr.uuid); assert.equal(r.result, 'successful'); });
  await step('Transaction.disable', () => CM.Transaction.disable(config, tr.uuid), r => assert.equal(r.disabled, true));
  await step('Transaction.enable', () => CM.Transaction.enable(config, tr.uuid), r => assert.equal(r.disabled, false));
  await step('Transaction.disableByExternalId', () => CM.Transaction.disableByExternalId(config, { data_source_uuid: ds.uuid, external_id: 'tr_node_refund' }),
    r => { assert.equal(r.uuid, tr.uuid); assert.equal(r.disabled, true); });
  await step('Transaction.enableByExternalId', () => CM.Transaction.enableByExternalId(config, { data_source_uuid: ds.uuid, external_id: 'tr_node_refund' }),
    r => assert.equal(r.disabled, false));
  await step('Transaction.destroy', () => CM.Transaction.destroy(config, tr.uuid));
  await rejects('Transaction.retrieve of the deleted transaction is 404', 404, () => CM.Transaction.retrieve(config, tr.uuid));
  await step('Transaction.create (another)', () => CM.Transaction.create(config, inv1.uuid, { type: 'refund', date: '2024-01-12', result: 'failed', external_id: 'tr_node_2' }));
  await step('Transaction.destroyByExternalId({qs})', () => CM.Transaction.destroyByExternalId(config, { qs: { data_source_uuid: ds.uuid, external_id: 'tr_node_2' } }));
  await step('Transaction.all finds no deleted transaction', () => CM.Transaction.all(config, { data_source_uuid: ds.uuid, external_id: 'tr_node_2' }),
    r => assert.deepEqual(r.transactions, []));

  // --- Import-side subscriptions --------------------------------------
  await step('Subscription.all(customerUuid)', () => CM.Subscription.all(config, cus.uuid, {}), r => {
    assert.equal(r.customer_uuid, cus.uuid);
    const subs = page(r, 'subscriptions', 'the list');
    assert.equal(subs.length, 1);
    hasKeys(subs[0], ['uuid', 'external_id', 'plan_uuid', 'data_source_uuid', 'cancellation_dates'], 'the subscription');
    assert.equal(subs[0].uuid, subUuid);
    assert.equal(subs[0].external_id, 'sub_node_1');
    assert.equal(subs[0].plan_uuid, plan.uuid);
    assert.equal(subs[0].data_source_uuid, ds.uuid);
    assert.deepEqual(subs[0].cancellation_dates, []);
  });
  await step('Subscription.cancel({cancelled_at})', () => CM.Subscription.cancel(config, subUuid, { cancelled_at: '2024-01-25' }), r => {
    assert.equal(r.uuid, subUuid);
    assert.equal(r.customer_uuid, cus.uuid);
    assert.deepEqual(r.cancellation_dates, ['2024-01-25T00:00:00.000Z']);
  });
  await step('Subscription.modify({cancellation_dates: []})', () => CM.Subscription.modify(config, subUuid, { cancellation_dates: [] }),
    r => assert.deepEqual(r.cancellation_dates, []));

  // --- Subscription events ---------------------------------------------
  const evBody = {
    data_source_uuid: ds.uuid,
    customer_external_id: 'cus_node_1',
    subscription_external_id: 'sub_evt_1',
    event_type: 'subscription_start_scheduled',
    event_date: '2024-03-01',
    effective_date: '2024-04-01',
    plan_external_id: 'plan_gold',
    currency: account.currency,
    amount_in_cents: 1000,
    quantity: 1,
    external_id: 'evt_node_1'
  };
  const ev = await step('SubscriptionEvent.create', () => CM.SubscriptionEvent.create(config, evBody), r => {
    hasKeys(r, ['id', 'data_source_uuid', 'customer_external_id', 'subscription_set_external_id', 'subscription_external_id',
      'plan_external_id', 'event_date', 'effective_date', 'event_type', 'external_id', 'errors', 'created_at', 'updated_at',
      'quantity', 'currency', 'amount_in_cents', 'tax_amount_in_cents', 'retracted_event_id'], 'the event');
    assert.ok(Number.isInteger(r.id) && r.id > 0, `id ${r.id} is a positive integer`);
    assert.equal(r.data_source_uuid, ds.uuid);
    assert.equal(r.customer_external_id, 'cus_node_1');
    assert.equal(r.subscription_external_id, 'sub_evt_1');
    assert.equal(r.event_type, 'subscription_start_scheduled');
    assert.equal(r.event_date, '2024-03-01T00:00:00Z');
    assert.equal(r.effective_date, '2024-04-01T00:00:00Z');
    assert.equal(r.plan_external_id, 'plan_gold');
    assert.equal(r.currency, account.currency);
    assert.equal(r.amount_in_cents, 1000);
    assert.equal(r.quantity, 1);
    assert.equal(r.external_id, 'evt_node_1');
    assert.equal(r.retracted_event_id, null);
    assert.deepEqual(r.errors, {});
  });
  const ev2 = await step('SubscriptionEvent.create (already wrapped)', () => CM.SubscriptionEvent.create(config, {
    subscription_event: { ...evBody, event_type: 'subscription_cancellation_scheduled', event_date: '2024-03-02', effective_date: '2024-06-01', external_id: 'evt_node_2', plan_external_id: undefined, currency: undefined, amount_in_cents: undefined, quantity: undefined }
  }), r => {
    assert.equal(r.event_type, 'subscription_cancellation_scheduled');
    assert.equal(r.external_id, 'evt_node_2');
  });
  await rejects('SubscriptionEvent.create with a taken external_id is 422', 422, () => CM.SubscriptionEvent.create(config, evBody),
    b => errorsMember(b, 'external_id'));
  await rejects('SubscriptionEvent.create with an unknown event_type is 422', 422, () => CM.SubscriptionEvent.create(config, { ...evBody, external_id: 'evt_bad', event_type: 'subscription_paused' }),
    b => errorsMember(b, 'event_type'));
  const evs1 = await step('SubscriptionEvent.all({data_source_uuid, per_page: 1})', () => CM.SubscriptionEvent.all(config, { data_source_uuid: ds.uuid, per_page: 1 }), r => {
    assert.equal(page(r, 'subscription_events', 'page 1').length, 1);
    assert.equal(r.has_more, true);
  });
  await step('SubscriptionEvent.all({cursor})', () => CM.SubscriptionEvent.all(config, { data_source_uuid: ds.uuid, per_page: 1, cursor: evs1.cursor }), r => {
    const list = page(r, 'subscription_events', 'page 2');
    assert.equal(list.length, 1);
    assert.equal(r.has_more, false);
    assert.deepEqual([evs1.subscription_events[0].id, list[0].id].sort(), [ev.id, ev2.id].sort());
  });
  for (const [filter, value, want] of [
    ['external_id', 'evt_node_2', [ev2.id]],
    ['customer_external_id', 'cus_node_1', [ev.id, ev2.id]],
    ['subscription_external_id', 'sub_evt_1', [ev.id, ev2.id]],
    ['event_type', 'subscription_start_scheduled', [ev.id]],
    ['plan_external_id', 'plan_gold', [ev.id]],
    ['event_date', '2024-03-02', [ev2.id]],
    ['effective_date', '2024-04-01', [ev.id]]
  ]) {
    await step(`SubscriptionEvent.all({${filter}})`, () => CM.SubscriptionEvent.all(config, { data_source_uuid: ds.uuid, [filter]: value }),
      r => assert.deepEqual(page(r, 'subscription_events', 'the list').map(e => e.id).sort(), want.slice().sort()));
  }
  await step('SubscriptionEvent.updateWithParams({id})', () => CM.SubscriptionEvent.updateWithParams(config, { id: ev.id, quantity: 3 }), r => {
    assert.equal(r.id, ev.id);
    assert.equal(r.quantity, 3);
    assert.equal(r.amount_in_cents, 1000, 'fields not sent are kept');
  });
  await step('SubscriptionEvent.updateWithParams({data_source_uuid, external_id})', () => CM.SubscriptionEvent.updateWithParams(config, {
    data_source_uuid: ds.uuid, external_id: 'evt_node_1', amount_in_cents: 2000
  }), r => {
    assert.equal(r.id, ev.id);
    assert.equal(r.amount_in_cents, 2000);
    assert.equal(r.quantity, 3);
  });
  await rejects('SubscriptionEvent.updateWithParams of an unknown id is 404', 404, () => CM.SubscriptionEvent.updateWithParams(config, { id: 999999999, quantity: 1 }));
  await step('SubscriptionEvent.disable', () => CM.SubscriptionEvent.disable(config, ev.id), r => {
    const e = r.subscription_event || r;
    assert.equal(e.id, ev.id);
    assert.equal(e.disabled, true);
  });
  await step('SubscriptionEvent.enable', () => CM.SubscriptionEvent.enable(config, ev.id), r => assert.equal((r.subscription_event || r).disabled, false));
  await step('SubscriptionEvent.deleteWithParams({id})', () => CM.SubscriptionEvent.deleteWithParams(config, { id: ev.id }));
  await step('SubscriptionEvent.deleteWithParams({data_source_uuid, external_id})', () => CM.SubscriptionEvent.deleteWithParams(config, { data_source_uuid: ds.uuid, external_id: 'evt_node_2' }));
  await step('SubscriptionEvent.all lists none after the deletes', () => CM.SubscriptionEvent.all(config, { data_source_uuid: ds.uuid }),
    r => assert.deepEqual(page(r, 'subscription_events', 'the list'), []));
  await rejects('SubscriptionEvent.deleteWithParams of a deleted event is 404', 404, () => CM.SubscriptionEvent.deleteWithParams(config, { id: ev.id }));

  // --- Deleting invoices ------------------------------------------------
  await step('Invoice.destroy', () => CM.Invoice.destroy(config, inv2.uuid));
  await rejects('Invoice.retrieve of the deleted invoice is 404', 404, () => CM.Invoice.retrieve(config, inv2.uuid));
  await step('Invoice.destroyByExternalId({qs})', () => CM.Invoice.destroyByExternalId(config, { qs: { data_source_uuid: ds.uuid, external_id: 'inv_node_3' } }));
  await rejects('Invoice.retrieve of the invoice deleted by external id is 404', 404, () => CM.Invoice.retrieve(config, inv3.uuid));
  await step('Invoice.create (one more, deleted by external id in the body)', () => CM.Invoice.create(config, cus.uuid, {
    invoices: [{ external_id: 'inv_node_4', date: '2024-01-21', currency: account.currency, line_items: [{ type: 'one_time', amount_in_cents: 100 }] }]
  }));
  await step('Invoice.destroyByExternalId (params in the body)', () => CM.Invoice.destroyByExternalId(config, { data_source_uuid: ds.uuid, external_id: 'inv_node_4' }));
  await step('Invoice.all({data_source_uuid, external_id}) finds no deleted invoice', () => CM.Invoice.all(config, { data_source_uuid: ds.uuid, external_id: 'inv_node_4' }),
    r => assert.deepEqual(page(r, 'invoices', 'the list'), []));
  await step('Invoice.destroyAll', () => CM.Invoice.destroyAll(config, ds.uuid, cus.uuid));
  await step('Invoice.all(customerUuid) is empty after destroyAll', () => CM.Invoice.all(config, cus.uuid, {}), r => {
    assert.deepEqual(page(r, 'invoices', 'the list'), []);
  });
  await rejects('Invoice.retrieve after destroyAll is 404', 404, () => CM.Invoice.retrieve(config, inv1.uuid));

  // --- Merge and unmerge ------------------------------------------------
  const other = await step('Customer.create (in the second data source)', () => CM.Customer.create(config, {
    data_source_uuid: ds2.uuid, external_id: 'cus_node_other', name: 'Acme (other system)', email
  }));
  await step('Customer.merge', () => CM.Customer.merge(config, { from: { customer_uuid: other.uuid }, into: { customer_uuid: cus.uuid } }),
    r => assert.deepEqual(r, {}));
  await step('Customer.retrieve shows the merged customer', () => CM.Customer.retrieve(config, cus.uuid), r => {
    assert.deepEqual(r.data_source_uuids.slice().sort(), [ds.uuid, ds2.uuid].sort());
    assert.deepEqual(r.external_ids.slice().sort(), ['cus_node_1', 'cus_node_other']);
  });
  await step('Customer.unmerge', () => CM.Customer.unmerge(config, {
    customer_uuid: cus.uuid, data_source_uuid: ds2.uuid, external_id: 'cus_node_other', move_to_new_customer: []
  }), r => assert.deepEqual(r, {}));
  await step('Customer.retrieve after the unmerge', () => CM.Customer.retrieve(config, cus.uuid), r => {
    assert.deepEqual(r.data_source_uuids, [ds.uuid]);
    assert.deepEqual(r.external_ids, ['cus_node_1']);
  });
  await step('Customer.all finds the unmerged customer again', () => CM.Customer.all(config, { data_source_uuid: ds2.uuid, external_id: 'cus_node_other' }),
    r => assert.equal(page(r, 'entries', 'the list').length, 1));

  // --- Metrics -----------------------------------------------------------
  // An account-wide figure needs data nothing else in this script touches:
  // one customer paying 50.00 a month in January 2019, years before every
  // other record here. Analytics are computed after the import answers, so
  // the first figure is polled for.
  const mds = await step('DataSource.create (metrics)', () => CM.DataSource.create(config, { name: `Node metrics ${run}` }));
  const mplan = await step('Plan.create (metrics)', () => CM.Plan.create(config, { data_source_uuid: mds.uuid, name: 'Monthly', interval_count: 1, interval_unit: 'month', external_id: 'm_plan' }));
  const mcus = await step('Customer.create (metrics)', () => CM.Customer.create(config, { data_source_uuid: mds.uuid, external_id: 'm_cus', name: 'Metric Co', country: 'GB' }));
  await step('Invoice.create (metrics)', () => CM.Invoice.create(config, mcus.uuid, {
    invoices: [{
      external_id: 'm_inv', date: '2019-01-01', currency: account.currency,
      line_items: [{ type: 'subscription', subscription_external_id: 'm_sub', plan_uuid: mplan.uuid, service_period_start: '2019-01-01', service_period_end: '2019-02-01', amount_in_cents: 5000 }],
      transactions: [{ date: '2019-01-01', type: 'payment', result: 'successful' }]
    }]
  }));
  const q = { 'start-date': '2019-01-01', 'end-date': '2019-01-31', interval: 'month' };
  const metricEntries = (r, keys, what) => {
    hasKeys(r, ['entries', 'summary'], what);
    assert.ok(Array.isArray(r.entries) && r.entries.length > 0, `${what}: entries`);
    for (const e of r.entries) {
      hasKeys(e, ['date', ...keys], `${what} entry`);
      assert.match(e.date, /^\d{4}-\d{2}-\d{2}$/);
      for (const k of keys) assert.equal(typeof e[k], 'number', `${what} entry ${k} is a number`);
    }
    return r.entries[r.entries.length - 1];
  };
  await step('Metrics.mrr (until the analytics are computed)', () => poll('MRR of 5000 for January 2019',
    () => CM.Metrics.mrr(config, q), r => Array.isArray(r.entries) && r.entries.length > 0 && r.entries[r.entries.length - 1].mrr === 5000), r => {
    const e = metricEntries(r, ['mrr', 'mrr-new-business', 'mrr-expansion', 'mrr-contraction', 'mrr-churn', 'mrr-reactivation'], 'mrr');
    assert.equal(e.date, '2019-01-31');
    assert.equal(e['mrr-new-business'], 5000);
    hasKeys(r.summary, ['current', 'previous', 'percentage-change'], 'the summary');
  });
  await step('Metrics.all', () => CM.Metrics.all(config, q), r => {
    const e = metricEntries(r, ['mrr', 'arr', 'arpa', 'asp', 'customers', 'customer-churn-rate', 'mrr-churn-rate', 'ltv'], 'all');
    assert.equal(e.mrr, 5000);
    assert.equal(e.arr, 60000);
    assert.equal(e.customers, 1);
  });
  await step('Metrics.arr', () => CM.Metrics.arr(config, q), r => assert.equal(metricEntries(r, ['arr'], 'arr').arr, 60000));
  await step('Metrics.arpa', () => CM.Metrics.arpa(config, q), r => assert.equal(metricEntries(r, ['arpa'], 'arpa').arpa, 5000));
  await step('Metrics.asp', () => CM.Metrics.asp(config, q), r => assert.equal(metricEntries(r, ['asp'], 'asp').asp, 5000));
  await step('Metrics.customerCount', () => CM.Metrics.customerCount(config, q), r => assert.equal(metricEntries(r, ['customers'], 'customer-count').customers, 1));
  await step('Metrics.customerChurnRate', () => CM.Metrics.customerChurnRate(config, q), r => metricEntries(r, ['customer-churn-rate'], 'customer-churn-rate'));
  await step('Metrics.mrrChurnRate', () => CM.Metrics.mrrChurnRate(config, q), r => metricEntries(r, ['mrr-churn-rate'], 'mrr-churn-rate'));
  await step('Metrics.ltv', () => CM.Metrics.ltv(config, q), r => metricEntries(r, ['ltv'], 'ltv'));
  await step('Metrics.mrr({plans}) counts the plan', () => CM.Metrics.mrr(config, { ...q, plans: 'Monthly' }),
    r => assert.equal(metricEntries(r, ['mrr'], 'mrr').mrr, 5000));
  await step('Metrics.mrr({geo}) of the customer\'s country', () => CM.Metrics.mrr(config, { ...q, geo: 'GB' }),
    r => assert.equal(metricEntries(r, ['mrr'], 'mrr').mrr, 5000));
  await step('Metrics.mrr({geo}) of another country is 0', () => CM.Metrics.mrr(config, { ...q, geo: 'FR' }),
    r => assert.equal(metricEntries(r, ['mrr'], 'mrr').mrr, 0));
  await rejects('Metrics.mrr without start-date is 400', 400, () => CM.Metrics.mrr(config, { 'end-date': '2019-01-31' }), b => {
    assert.equal(b.code, 400);
    assert.equal(b.param, 'start-date');
  });
  await step('Metrics.Customer.subscriptions', () => CM.Metrics.Customer.subscriptions(config, mcus.uuid, {}), r => {
    const entries = page(r, 'entries', 'the subscriptions');
    assert.equal(entries.length, 1);
    hasKeys(entries[0], ['id', 'uuid', 'external_id', 'plan', 'quantity', 'mrr', 'arr', 'status', 'billing-cycle', 'billing-cycle-count',
      'start-date', 'end-date', 'currency', 'currency-sign'], 'the subscription');
    assert.equal(entries[0].external_id, 'm_sub');
    assert.equal(entries[0].plan, 'Monthly');
    assert.equal(entries[0].mrr, 5000);
    assert.equal(entries[0]['billing-cycle'], 'month');
  });
  await step('Metrics.Customer.activities', () => CM.Metrics.Customer.activities(config, mcus.uuid, {}), r => {
    const entries = page(r, 'entries', 'the activities');
    assert.ok(entries.length >= 1, 'at least the new business');
    hasKeys(entries[0], ['id', 'date', 'type', 'description', 'activity-mrr-movement', 'activity-mrr', 'activity-arr', 'currency', 'subscription-external-id'], 'the activity');
    assert.equal(entries[0].type, 'new_biz');
    assert.equal(entries[0]['activity-mrr-movement'], 5000);
    assert.equal(entries[0]['activity-mrr'], 5000);
  });
  await step('Metrics.Activity.all', () => CM.Metrics.Activity.all(config, { 'start-date': '2019-01-01', 'end-date': '2019-01-31' }), r => {
    const entries = page(r, 'entries', 'the activities');
    const mine = entries.filter(a => a['customer-uuid'] === mcus.uuid);
    assert.equal(mine.length, 1, `one activity of the metrics customer in ${JSON.stringify(entries)}`);
    assert.equal(mine[0].type, 'new_biz');
    assert.equal(mine[0]['activity-mrr-movement'], 5000);
  });
  await rejects('Metrics.Customer.subscriptions of an unknown customer is 404', 404, () => CM.Metrics.Customer.subscriptions(config, NO_SUCH.customer, {}));

  // --- Deleting customers and data sources -------------------------------
  await step('Customer.destroy', () => CM.Customer.destroy(config, cus.uuid));
  await rejects('Customer.retrieve of the deleted customer is 404', 404, () => CM.Customer.retrieve(config, cus.uuid));
  await step('DataSource.destroy', () => CM.DataSource.destroy(config, ds.uuid));
  await rejects('DataSource.retrieve of the deleted data source is 404', 404, () => CM.DataSource.retrieve(config, ds.uuid),
    b => assert.equal(b.error, 'Data source not found'));
  await rejects('DataSource.destroy of the deleted data source is 404', 404, () => CM.DataSource.destroy(config, ds.uuid));
  await step('DataSource.destroy (the others)', async () => {
    await CM.DataSource.destroy(config, ds2.uuid);
    await CM.DataSource.destroy(config, mds.uuid);
  });
  await rejects('Customer.retrieve of a customer of a deleted data source is 404', 404, () => CM.Customer.retrieve(config, mcus.uuid));

  // --- Connecting subscriptions ------------------------------------------
  // Last, on data of their own: ChartMogul answers 202 {} to both
  // (recorded in testdata/cassettes), joining two subscriptions of a
  // customer into one and splitting them again.
  const cds = await step('DataSource.create (connect)', () => CM.DataSource.create(config, { name: `Node connect ${run}` }));
  const cplan = await step('Plan.create (connect)', () => CM.Plan.create(config, { data_source_uuid: cds.uuid, name: 'Connect plan', interval_count: 1, interval_unit: 'month' }));
  const ccus = await step('Customer.create (connect)', () => CM.Customer.create(config, { data_source_uuid: cds.uuid, external_id: 'c_cus', name: 'Connect Co' }));
  await step('Invoice.create (connect: two subscriptions, one after the other)', () => CM.Invoice.create(config, ccus.uuid, {
    invoices: [
      { external_id: 'c_inv_1', date: '2020-01-01', currency: account.currency, line_items: [{ type: 'subscription', subscription_external_id: 'c_sub_1', plan_uuid: cplan.uuid, service_period_start: '2020-01-01', service_period_end: '2020-02-01', amount_in_cents: 1000 }] },
      { external_id: 'c_inv_2', date: '2020-02-01', currency: account.currency, line_items: [{ type: 'subscription', subscription_external_id: 'c_sub_2', plan_uuid: cplan.uuid, service_period_start: '2020-02-01', service_period_end: '2020-03-01', amount_in_cents: 1000 }] }
    ]
  }));
  const csubs = await step('Metrics.Customer.subscriptions (connect; until computed)', () => poll('two subscriptions of the customer',
    () => CM.Metrics.Customer.subscriptions(config, ccus.uuid, {}), r => Array.isArray(r.entries) && r.entries.length === 2),
  r => assert.deepEqual(r.entries.map(s => s.external_id).sort(), ['c_sub_1', 'c_sub_2']));
  const pair = csubs.entries.map(s => ({ uuid: s.uuid }));
  await step('Metrics.Customer.connectSubscriptions', () => CM.Metrics.Customer.connectSubscriptions(config, cds.uuid, ccus.uuid, pair),
    r => assert.deepEqual(r, {}));
  await step('Metrics.Customer.disconnectSubscriptions', () => CM.Metrics.Customer.disconnectSubscriptions(config, cds.uuid, ccus.uuid, pair),
    r => assert.deepEqual(r, {}));
  await step('DataSource.destroy (connect)', () => CM.DataSource.destroy(config, cds.uuid));

  console.log(`all ${steps} steps passed`);
}

main().catch(e => {
  console.log(`FAIL the script itself: ${e && e.stack}`);
  process.exit(1);
});
