#!/usr/bin/env node
// ddb_sdk.mjs — the AWS SDK for JavaScript v3 side of the DynamoDB serving
// benchmark (test/bench/run.sh, bench_serving's method "sdk").
//
//   node ddb_sdk.mjs load    create the table BENCH_DDB_TABLE (key user_id, S)
//                            and write items u1..u<BENCH_DDB_ROWS> with
//                            BatchWriteItem, BENCH_DDB_LOAD_CONCURRENCY at once
//   node ddb_sdk.mjs serve   answer commands, one per line, on stdin:
//       get ID,ID,...     the ids in chunks of 100, one BatchGetItem each, all
//                         sent at once (Promise.all), UnprocessedKeys resent
//                         until answered, every item unmarshalled to JS values;
//                         replies "ok START_NS END_NS ITEMS REQUESTS" (the
//                         clock: process.hrtime, i.e. CLOCK_MONOTONIC)
//       plain ID,ID,...   the same requests without the SDK: plain Node.js,
//                         an http.Agent with keep-alive, POST of the same JSON
//                         body, JSON.parse of each answer (no unmarshalling,
//                         no signature: for the canned responder only,
//                         test/bench/canned_responder.js); same reply
//       window            the store's window since the last one (dynalite_bench.js's
//                         GET /window on BENCH_DDB_CONTROL), as one JSON line
//
// The endpoint is FS_DYNALITE_ENDPOINT (loopback only).  The requests are
// those fs_get_features sends for the view bench_ddb: the same keys per
// request, the same ProjectionExpression and ExpressionAttributeNames.
import { createInterface } from 'node:readline';
import http from 'node:http';
import {
    DynamoDBClient, CreateTableCommand, DescribeTableCommand, DeleteTableCommand,
    BatchWriteItemCommand, BatchGetItemCommand,
} from '@aws-sdk/client-dynamodb';

const endpoint = process.env.FS_DYNALITE_ENDPOINT;
const TABLE = process.env.BENCH_DDB_TABLE || 'fs_bench_ddb';
const ROWS = Number(process.env.BENCH_DDB_ROWS || 20000);
const NFEAT = 20;
function fail(msg) {
    console.error(`ddb_sdk: ${msg}`);
    process.exit(2);
}
if (!endpoint) fail('FS_DYNALITE_ENDPOINT is not set');
if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(endpoint).hostname))
    fail(`refusing non-loopback endpoint ${endpoint}`);

const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench-secret' },
});

// --- the items ----------------------------------------------------------------
// Twenty features: f1..f10 and f11..f20 are the two halves of the embedded
// benchmark's bench_a and bench_b (test/bench/setup.sql), same types, same
// formulas (salt 1 and 2): bigint, double, integer, short text, boolean, an
// 8-element real[] embedding (L of N), numeric, a large bigint, a double
// absent for 2% of the items, an integer.
const CATS = ['ios', 'android', 'web', 'tv'];
const num = (x) => ({ N: String(x) });
function half(i, salt) {
    const f = [];
    f.push(num((i * 2654435761 + salt) % 1000000007));
    f.push(num(((i * 7919 + salt) % 10007) / 10007));
    f.push(num((i * (salt + 1)) % 1000));
    f.push({ S: `${CATS[i % 4]}_${i % 50}` });
    f.push({ BOOL: (i + salt) % 3 === 0 });
    f.push({ L: [Math.sin(i), Math.cos(i), Math.sin(2 * i), Math.cos(2 * i),
                 Math.sin(3 * i + salt), Math.cos(3 * i), Math.sin(4 * i), Math.cos(4 * i)]
                 .map((x) => num(Math.fround(x))) });
    f.push({ N: (Math.round(((i * 31 + salt) % 1000000) / 7 * 10000) / 10000).toFixed(4) });
    f.push(num(i * 1000003 + salt));
    f.push(i % 50 === 0 ? null : num(Math.log(i + salt)));
    f.push(num((i * 37) % 3650));
    return f;
}
function item(i) {
    const it = { user_id: { S: `u${i}` }, event_time: num(1704067200 + (i % 86400)) };
    [...half(i, 1), ...half(i, 2)].forEach((v, k) => { if (v) it[`f${k + 1}`] = v; });
    return it;
}

async function load() {
    const t0 = performance.now();
    try {
        await client.send(new DeleteTableCommand({ TableName: TABLE }));
        for (;;) {
            await new Promise((r) => setTimeout(r, 50));
            await client.send(new DescribeTableCommand({ TableName: TABLE }));
        }
    } catch (e) {
        if (e.name !== 'ResourceNotFoundException') throw e;
    }
    await client.send(new CreateTableCommand({
        TableName: TABLE,
        AttributeDefinitions: [{ AttributeName: 'user_id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'user_id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
    }));
    for (;;) {
        const d = await client.send(new DescribeTableCommand({ TableName: TABLE }));
        if (d.Table.TableStatus === 'ACTIVE') break;
        await new Promise((r) => setTimeout(r, 50));
    }
    let next = 1;
    let written = 0;
    async function worker() {
        while (next <= ROWS) {
            const first = next;
            const last = Math.min(ROWS + 1, next + 25);
            next = last;
            let reqs = [];
            for (let i = first; i < last; i++) reqs.push({ PutRequest: { Item: item(i) } });
            let request = { [TABLE]: reqs };
            for (let attempt = 0; ; attempt++) {
                const out = await client.send(new BatchWriteItemCommand({ RequestItems: request }));
                const un = out.UnprocessedItems || {};
                if (!un[TABLE] || un[TABLE].length === 0) break;
                if (attempt > 20) fail('BatchWriteItem: items still unprocessed after 20 retries');
                request = un;
            }
            written += last - first;
        }
    }
    const conc = Number(process.env.BENCH_DDB_LOAD_CONCURRENCY || 8);
    await Promise.all(Array.from({ length: conc }, worker));
    console.log(`loaded ${written} items into ${TABLE} in ${((performance.now() - t0) / 1000).toFixed(1)} s`
                + ` (BatchWriteItem, ${conc} at once)`);
}

// --- serving ------------------------------------------------------------------
// What fs_get_features asks for: the key, the event time, the features.
const NAMES = { '#k': 'user_id', '#t': 'event_time' };
for (let f = 0; f < NFEAT; f++) NAMES[`#f${f}`] = `f${f + 1}`;
const PROJECTION = Object.keys(NAMES).join(', ');

// AttributeValue → JS value, as @aws-sdk/util-dynamodb's unmarshall does
// with its default options (numbers as JS numbers).
function native(av) {
    if (av.S !== undefined) return av.S;
    if (av.N !== undefined) return Number(av.N);
    if (av.BOOL !== undefined) return av.BOOL;
    if (av.NULL !== undefined) return null;
    if (av.L !== undefined) return av.L.map(native);
    if (av.M !== undefined) return unmarshall(av.M);
    if (av.B !== undefined) return av.B;
    if (av.SS !== undefined) return new Set(av.SS);
    if (av.NS !== undefined) return new Set(av.NS.map(Number));
    if (av.BS !== undefined) return new Set(av.BS);
    throw new Error(`unknown AttributeValue ${Object.keys(av)}`);
}
function unmarshall(m) {
    const o = {};
    for (const k in m) o[k] = native(m[k]);
    return o;
}

async function batchGet(ids) {
    let request = {
        [TABLE]: { Keys: ids.map((id) => ({ user_id: { S: id } })),
                   ProjectionExpression: PROJECTION, ExpressionAttributeNames: NAMES },
    };
    const rows = [];
    let requests = 0;
    for (let attempt = 0; ; attempt++) {
        const out = await client.send(new BatchGetItemCommand({ RequestItems: request }));
        requests++;
        for (const it of (out.Responses?.[TABLE] || [])) rows.push(unmarshall(it));
        const un = out.UnprocessedKeys || {};
        if (!un[TABLE] || un[TABLE].Keys.length === 0) break;
        if (attempt > 10) throw new Error('keys still unprocessed after 10 retries');
        request = un;
    }
    return { rows, requests };
}

async function get(ids) {
    const start = process.hrtime.bigint();
    const chunks = [];
    for (let i = 0; i < ids.length; i += 100) chunks.push(ids.slice(i, i + 100));
    const parts = await Promise.all(chunks.map(batchGet));
    const end = process.hrtime.bigint();
    let items = 0;
    let requests = 0;
    for (const p of parts) {
        items += p.rows.length;
        requests += p.requests;
    }
    return `ok ${start} ${end} ${items} ${requests}`;
}

// Plain Node.js: keep-alive HTTP/1.1 + JSON.parse, the same BatchGetItem
// bodies, unsigned (the canned responder never checks signatures).
const plainAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const plainUrl = new URL(endpoint);
function plainBatchGet(ids) {
    const body = JSON.stringify({
        RequestItems: {
            [TABLE]: { Keys: ids.map((id) => ({ user_id: { S: id } })),
                       ProjectionExpression: PROJECTION, ExpressionAttributeNames: NAMES },
        },
    });
    return new Promise((resolve, reject) => {
        const req = http.request({
            agent: plainAgent, host: plainUrl.hostname, port: plainUrl.port, path: '/',
            method: 'POST',
            headers: {
                'Content-Type': 'application/x-amz-json-1.0',
                'X-Amz-Target': 'DynamoDB_20120810.BatchGetItem',
                'Content-Length': Buffer.byteLength(body),
            },
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                if (res.statusCode !== 200) {
                    reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
                    return;
                }
                const out = JSON.parse(text);
                const un = out.UnprocessedKeys?.[TABLE]?.Keys || [];
                if (un.length) {
                    reject(new Error('UnprocessedKeys (the plain client does not retry)'));
                    return;
                }
                resolve({ rows: out.Responses?.[TABLE] || [], requests: 1 });
            });
        });
        req.on('error', reject);
        req.end(body);
    });
}

async function plain(ids) {
    const start = process.hrtime.bigint();
    const chunks = [];
    for (let i = 0; i < ids.length; i += 100) chunks.push(ids.slice(i, i + 100));
    const parts = await Promise.all(chunks.map(plainBatchGet));
    const end = process.hrtime.bigint();
    let items = 0;
    for (const p of parts) items += p.rows.length;
    return `ok ${start} ${end} ${items} ${parts.length}`;
}

function window() {
    const ctl = process.env.BENCH_DDB_CONTROL;
    if (!ctl) return Promise.resolve('{}');
    return new Promise((resolve, reject) => {
        http.get(`${ctl}/window`, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d) => { body += d; });
            res.on('end', () => resolve(body.trim()));
        }).on('error', reject);
    });
}

async function serve() {
    const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
    for await (const line of rl) {
        let reply;
        try {
            if (line.startsWith('get ')) reply = await get(line.slice(4).split(','));
            else if (line.startsWith('plain ')) reply = await plain(line.slice(6).split(','));
            else if (line === 'window') reply = await window();
            else reply = `error unknown command`;
        } catch (e) {
            reply = `error ${String(e.message || e).replace(/\s+/g, ' ')}`;
        }
        process.stdout.write(reply + '\n');
    }
}

const cmd = process.argv[2];
if (cmd === 'load') await load();
else if (cmd === 'serve') await serve();
else fail('usage: ddb_sdk.mjs load|serve');
