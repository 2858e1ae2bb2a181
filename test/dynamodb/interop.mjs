#!/usr/bin/env node
// interop.mjs — the AWS SDK for JavaScript v3 as the other client of the
// items fs_dynamodb reads and writes (docs/dynamodb.md, "Item layout").
//
//   node interop.mjs seed PREFIX          create PREFIX_users (key user_id, S) and
//                                         PREFIX_items (key item_id, N) and write
//                                         items covering every row of the layout;
//                                         prints "now=SECONDS" (u1's event time is
//                                         SECONDS.123456)
//   node interop.mjs create TABLE KEY S|N create a table (when fs_create_online_table
//                                         could not)
//   node interop.mjs describe TABLE KEY S|N  check a table is ACTIVE with that key
//   node interop.mjs verify PREFIX        GetItem what run_interop.sh INSERTed through
//                                         the FDW into PREFIX_w_users / PREFIX_w_items
//                                         and check the layout exactly
//   node interop.mjs write-reference PREFIX  write, with the SDK, the items verify
//                                         expects (to check the checker itself)
//   node interop.mjs cleanup PREFIX       delete every table named PREFIX_*
//
// Checks print "ok - ..." or "not ok - ..." (details on "#   " lines); the
// caller counts them.  Exit 0 when the checks could run, 2 otherwise.
// The endpoint is FS_DYNALITE_ENDPOINT, and only a loopback one.

import {
    DynamoDBClient, CreateTableCommand, DescribeTableCommand, DeleteTableCommand,
    GetItemCommand, ListTablesCommand, PutItemCommand,
} from '@aws-sdk/client-dynamodb';

const endpoint = process.env.FS_DYNALITE_ENDPOINT;
if (!endpoint) {
    console.error('interop: FS_DYNALITE_ENDPOINT is not set');
    process.exit(2);
}
if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(endpoint).hostname)) {
    console.error(`interop: refusing non-loopback endpoint ${endpoint}`);
    process.exit(2);
}

const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'interop', secretAccessKey: 'interop-secret' },
    maxAttempts: 3,
});

// --- the values -------------------------------------------------------------
// One value per row of the layout table, as DynamoDB AttributeValues.  The SQL
// side (run_interop.sh) writes and expects the same values; keep them in step.

const FEATURES = {
    f_smallint: { N: '-12' },
    f_int: { N: '2147483647' },
    f_bigint: { N: '9007199254740993' },            // 2^53 + 1: not a double
    f_real: { N: '0.1' },
    f_double: { N: '-0.0025' },
    f_numeric: { N: '12345678901234567890.123456789' },
    f_text: { S: 'héllo "wörld"' },
    f_varchar: { S: 'abc' },
    f_bool: { BOOL: true },
    f_bytea: { B: Uint8Array.from([0x00, 0xff, 0x10, 0x0a]) },
    f_embedding: { L: [{ N: '0.1' }, { N: '-1.25' }, { N: '3' }] },
    f_tags: { L: [{ S: 'a' }, { S: 'b c' }, { S: '' }] },
    f_doc: { M: { a: { N: '1' }, b: { L: [{ BOOL: true }, { NULL: true }, { S: 'x' }] },
                  c: { M: { d: { N: '2.5' } } } } },
    f_jlist: { L: [{ N: '1' }, { S: 'two' }, { M: {} }] },
    f_jstr: { S: 'just text' },
    f_jnum: { N: '42.5' },
    f_jbool: { BOOL: false },
    f_ts: { S: '2024-05-01T10:34:56.789Z' },         // SQL: '2024-05-01 12:34:56.789+02'
};

// What run_interop.sh INSERTs through the FDW, as the layout says it is stored.
// f_ts is compared as an instant (any ISO 8601 UTC spelling); numbers as
// decimals (any spelling of the same decimal); SQL NULLs must be absent.
const WRITTEN = {
    w_users: {
        key: { user_id: { S: 'w1' } },
        item: { user_id: { S: 'w1' }, event_time: { N: '1714566896.789012' }, ...FEATURES },
        what: 'a row of every type',
    },
    w_users_nulls: {
        table: 'w_users',
        key: { user_id: { S: 'w2' } },
        item: { user_id: { S: 'w2' }, event_time: { N: '1714521600' } },
        what: 'a row of SQL NULLs',
    },
    w_items: {
        key: { item_id: { N: '9' } },
        item: { item_id: { N: '9' }, event_time: { N: '1714521600.5' }, price: { N: '5.5' },
                name: { S: 'thing' } },
        what: 'a row with an integer key',
    },
};

// --- helpers ----------------------------------------------------------------

let failures = 0;
function ok(name) { console.log(`ok - ${name}`); }
function notOk(name, details = []) {
    failures++;
    console.log(`not ok - ${name}`);
    for (const d of details) console.log(`#   ${d}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitActive(table) {
    for (let i = 0; i < 300; i++) {
        try {
            const d = await client.send(new DescribeTableCommand({ TableName: table }));
            if (d.Table.TableStatus === 'ACTIVE') return d.Table;
        } catch (e) {
            if (e.name !== 'ResourceNotFoundException') throw e;
        }
        await sleep(100);
    }
    throw new Error(`table ${table} did not become ACTIVE`);
}

async function createTable(table, key, type) {
    await client.send(new CreateTableCommand({
        TableName: table,
        KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: key, AttributeType: type }],
        BillingMode: 'PAY_PER_REQUEST',
    }));
    return waitActive(table);
}

// A decimal string in one canonical spelling ("1.50" and "15E-1" give "1.5"),
// or null if it is not a decimal.
function canonDecimal(s) {
    const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(String(s));
    if (!m || (m[2] === '' && (m[3] ?? '') === '')) return null;
    let digits = (m[2] + (m[3] ?? '')).replace(/^0+/, '');
    let exp = (m[4] ? Number(m[4]) : 0) - (m[3] ?? '').length;
    if (digits === '') return '0';
    while (digits.endsWith('0')) { digits = digits.slice(0, -1); exp++; }
    let out;
    if (exp >= 0) out = digits + '0'.repeat(exp);
    else if (-exp < digits.length) out = digits.slice(0, exp) + '.' + digits.slice(exp);
    else out = '0.' + '0'.repeat(-exp - digits.length) + digits;
    return (m[1] === '-' ? '-' : '') + out;
}

// Microseconds since the epoch of an ISO 8601 timestamp in UTC, or null.
function utcMicros(s) {
    const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(Z|[+]00(?::?00)?)$/.exec(s);
    if (!m) return null;
    const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
    return BigInt(ms) * 1000n + BigInt((m[7] ?? '').padEnd(6, '0') || '0');
}

const show = (v) => JSON.stringify(v, (k, x) =>
    x instanceof Uint8Array ? `<B ${Buffer.from(x).toString('base64')}>` : x);

// Differences between an expected and an actual AttributeValue, as strings.
function diff(exp, act, path, out) {
    const ekind = Object.keys(exp)[0];
    const akinds = act && typeof act === 'object' ? Object.keys(act) : [];
    if (akinds.length !== 1 || akinds[0] !== ekind) {
        out.push(`${path}: expected kind ${ekind} ${show(exp)}, got ${show(act)}`);
        return;
    }
    const e = exp[ekind], a = act[ekind];
    switch (ekind) {
        case 'N': {
            const ce = canonDecimal(e), ca = canonDecimal(a);
            if (ca === null || ce !== ca) out.push(`${path}: expected N ${e}, got N ${JSON.stringify(a)}`);
            break;
        }
        case 'S':
            if (path.endsWith('.f_ts')) {
                const me = utcMicros(e), ma = typeof a === 'string' ? utcMicros(a) : null;
                if (ma === null) out.push(`${path}: expected an ISO 8601 UTC timestamp, got S ${JSON.stringify(a)}`);
                else if (ma !== me) out.push(`${path}: expected the instant ${e}, got S ${a}`);
            } else if (a !== e) {
                out.push(`${path}: expected S ${JSON.stringify(e)}, got S ${JSON.stringify(a)}`);
            }
            break;
        case 'BOOL':
        case 'NULL':
            if (a !== e) out.push(`${path}: expected ${ekind} ${e}, got ${ekind} ${JSON.stringify(a)}`);
            break;
        case 'B':
            if (!(a instanceof Uint8Array) || Buffer.compare(Buffer.from(a), Buffer.from(e)) !== 0)
                out.push(`${path}: expected B ${show(e)}, got ${show(act)}`);
            break;
        case 'L':
            if (!Array.isArray(a) || a.length !== e.length) {
                out.push(`${path}: expected L of ${e.length} ${show(e)}, got ${show(act)}`);
                break;
            }
            e.forEach((x, i) => diff(x, a[i], `${path}[${i}]`, out));
            break;
        case 'M':
            diffMap(e, a, path, out);
            break;
        default:
            out.push(`${path}: unexpected kind ${ekind} in the expectation`);
    }
}

function diffMap(e, a, path, out) {
    const ek = Object.keys(e).sort(), ak = Object.keys(a ?? {}).sort();
    const missing = ek.filter((k) => !ak.includes(k)), extra = ak.filter((k) => !ek.includes(k));
    if (missing.length) out.push(`${path}: missing attributes ${missing.join(', ')}`);
    if (extra.length) out.push(`${path}: unexpected attributes ${extra.map((k) => `${k}=${show(a[k])}`).join(', ')}`);
    for (const k of ek) if (ak.includes(k)) diff(e[k], a[k], `${path}.${k}`, out);
}

// --- commands ---------------------------------------------------------------

async function seed(prefix) {
    const users = `${prefix}_users`, items = `${prefix}_items`;
    await Promise.all([createTable(users, 'user_id', 'S'), createTable(items, 'item_id', 'N')]);
    const now = Math.floor(Date.now() / 1000) - 60;
    const put = (table, item) => client.send(new PutItemCommand({ TableName: table, Item: item }));
    await put(users, {
        user_id: { S: 'u1' }, event_time: { N: `${now}.123456` }, ...FEATURES,
        // f_absent: no attribute at all
        f_nulltrue: { NULL: true },
    });
    await put(users, {
        user_id: { S: 'u2' }, event_time: { N: `${now}` },
        f_bool: { NULL: true }, f_text: { NULL: true }, f_embedding: { NULL: true }, f_doc: { NULL: true },
    });
    await put(users, { user_id: { S: 'u_old' }, event_time: { N: '1000000000.5' }, f_int: { N: '5' } });
    await put(items, { item_id: { N: '7' }, event_time: { N: `${now}.5` }, price: { N: '19.99' }, name: { S: 'widget' } });
    await put(items, { item_id: { N: '8' }, event_time: { N: `${now}` }, price: { N: '0' }, name: { S: 'gadget' } });
    console.log(`now=${now}`);
}

async function describe(table, key, type) {
    let t;
    try {
        t = (await client.send(new DescribeTableCommand({ TableName: table }))).Table;
    } catch (e) {
        notOk(`SDK: DescribeTable ${table} (made by fs_create_online_table)`, [`${e.name}: ${e.message}`]);
        return;
    }
    const ks = JSON.stringify(t.KeySchema);
    const ad = JSON.stringify((t.AttributeDefinitions ?? []).filter((d) => d.AttributeName === key));
    const want = JSON.stringify([{ AttributeName: key, KeyType: 'HASH' }]);
    const wantAd = JSON.stringify([{ AttributeName: key, AttributeType: type }]);
    if (t.TableStatus === 'ACTIVE' && ks === want && ad === wantAd)
        ok(`SDK: fs_create_online_table made ${table} ACTIVE, partition key ${key} of type ${type}`);
    else
        notOk(`SDK: fs_create_online_table made ${table} ACTIVE, partition key ${key} of type ${type}`,
              [`status ${t.TableStatus}, KeySchema ${ks}, AttributeDefinitions ${JSON.stringify(t.AttributeDefinitions)}`]);
}

async function verify(prefix) {
    for (const [name, w] of Object.entries(WRITTEN)) {
        const table = `${prefix}_${w.table ?? name}`;
        const label = `SDK GetItem reads ${w.what} INSERTed through the FDW (${JSON.stringify(w.key)}) in the documented layout`;
        let got;
        try {
            got = await client.send(new GetItemCommand({ TableName: table, Key: w.key, ConsistentRead: true }));
        } catch (e) {
            notOk(label, [`${e.name}: ${e.message}`]);
            continue;
        }
        if (!got.Item) {
            notOk(label, [`no item ${JSON.stringify(w.key)} in ${table}`]);
            continue;
        }
        const out = [];
        diffMap(w.item, got.Item, 'item', out);
        // The layout allows up to 6 decimals of event time, no more.
        const et = got.Item.event_time?.N;
        if (et !== undefined && /\.\d{7,}/.test(et)) out.push(`item.event_time: more than 6 decimals: ${et}`);
        if (out.length === 0) ok(label);
        else notOk(label, out);
    }
}

async function writeReference(prefix) {
    for (const [name, w] of Object.entries(WRITTEN)) {
        const table = `${prefix}_${w.table ?? name}`;
        await client.send(new PutItemCommand({ TableName: table, Item: w.item }));
    }
}

async function cleanup(prefix) {
    let start;
    const names = [];
    do {
        const r = await client.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
        names.push(...r.TableNames);
        start = r.LastEvaluatedTableName;
    } while (start);
    for (const t of names.filter((n) => n.startsWith(`${prefix}_`))) {
        try { await client.send(new DeleteTableCommand({ TableName: t })); } catch { /* gone already */ }
    }
}

const [cmd, ...args] = process.argv.slice(2);
const need = (n) => {
    if (args.length < n) { console.error(`interop: ${cmd} needs ${n} argument(s)`); process.exit(2); }
};
try {
    switch (cmd) {
        case 'seed': need(1); await seed(args[0]); break;
        case 'create': need(3); await createTable(args[0], args[1], args[2]); break;
        case 'describe': need(3); await describe(args[0], args[1], args[2]); break;
        case 'verify': need(1); await verify(args[0]); break;
        case 'write-reference': need(1); await writeReference(args[0]); break;
        case 'cleanup': need(1); await cleanup(args[0]); break;
        default:
            console.error('usage: interop.mjs seed|create|describe|verify|write-reference|cleanup ...');
            process.exit(2);
    }
} catch (e) {
    console.error(`interop: ${cmd} failed: ${e.name}: ${e.message}`);
    process.exit(2);
}
process.exit(0);
