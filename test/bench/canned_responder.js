#!/usr/bin/env node
// canned_responder.js — A BENCHMARK FIXTURE, NOT A STORE.
//
// A canned DynamoDB-protocol responder for the serving benchmark
// (BENCH_ONLY=canned make bench, test/bench/run_canned.sh).  It answers
// BatchGetItem from items it generated and serialized once at startup, so
// that the store costs almost nothing and the benchmark measures the
// client's own overhead (ours, the AWS SDK's, plain Node.js's).  Correctness
// tests never use it: they run against dynalite.
//
//   node canned_responder.js READY_FILE [--dump FILE] [--latency-ms N] [--keep-writes]
//
// On startup it builds the table BENCH_CANNED_TABLE (default
// fs_bench_canned): items u1..u<BENCH_CANNED_ENTITIES> (default 1000), each
// in the item layout of SPEC §3:
//     user_id    S   "u<i>"                 (the partition key)
//     event_time N   seconds since the epoch, 3 decimals
//     f1..f20    N   a float with at most 12 significant digits (so that
//                    float8 -> numeric -> float8 is exact in PostgreSQL)
// and keeps each item's JSON text.  It listens on 127.0.0.1 (port
// BENCH_CANNED_PORT, default 0 = a free one), HTTP/1.1 with keep-alive, and
// writes "PORT\n" to READY_FILE when it accepts connections.  With --dump it
// first writes every cell, "user_id,feature,value" (CSV, value as served),
// to FILE: the benchmark's correctness check compares fs_get_features with it.
//
// What it answers (X-Amz-Target DynamoDB_20120810.<Operation>):
//   BatchGetItem    {"Responses":{T:[items...]},"UnprocessedKeys":{}}, the
//                   pre-serialized items of the requested keys that exist, in
//                   request order, concatenated (projected, see below);
//                   absent keys are left out.
//   DescribeTable   a fixed ACTIVE table, KeySchema user_id HASH (S).
//   PutItem, UpdateItem, DeleteItem       {} (acknowledged, nothing stored)
//   BatchWriteItem  {"UnprocessedItems":{}} (acknowledged, nothing stored)
//   anything else   400 UnknownOperationException; another table: 400
//                   ResourceNotFoundException.
// What it ignores, on purpose:
//   - signatures and credentials (never verified);
//   - ProjectionExpression is honoured only as a comma-separated list of
//     top-level attribute names or #placeholders (ExpressionAttributeNames):
//     a projection naming every attribute (fs_get_features, the SDK and
//     plain clients) gets the whole pre-serialized item; a smaller one (the
//     FDW's count(*) scan asks for the key alone) gets the pre-serialized
//     attributes it names, joined, in the item's order.  Document paths
//     (a.b, a[0]) and :values are not understood (a path names no attribute);
//   - ConsistentRead, ReturnConsumedCapacity, conditions, the limit of 100
//     keys per request (it never returns UnprocessedKeys), writes' contents.
// --keep-writes (for the remote write benchmark's stream part, whose observer
// reads back what the worker wrote): tables other than BENCH_CANNED_TABLE
// come into being with CreateTable (answered ACTIVE at once; DescribeTable
// then answers them), and their items are kept in memory: PutItem stores the
// item, UpdateItem applies its UpdateExpression's SET name = :value, REMOVE
// name and ADD name :number clauses (nothing else: no functions, no paths),
// DeleteItem removes the item, and BatchGetItem answers the kept items whole.
// Conditions are still ignored: it is no store, and the writes it sees are
// one per entity at a time.  Without it, writes are acknowledged and
// forgotten, as before.
// BENCH_CANNED_LOG=1 writes each request's operation, key count and
// ProjectionExpression to standard error (to see what a client asks for).
// Service latency: BENCH_CANNED_LATENCY_MS (default 0; or --latency-ms N)
// is waited (setTimeout) before every answer, reads and writes alike.
'use strict';

const fs = require('node:fs');
const http = require('node:http');

const args = process.argv.slice(2);
const READY = args[0];
let dumpFile = null;
let keepWrites = false;
let latencyMs = Number(process.env.BENCH_CANNED_LATENCY_MS || 0);
for (let i = 1; i < args.length; i++) {
    if (args[i] === '--dump') dumpFile = args[++i];
    else if (args[i] === '--latency-ms') latencyMs = Number(args[++i]);
    else if (args[i] === '--keep-writes') keepWrites = true;
    else fail(`unknown argument ${args[i]}`);
}
const TABLE = process.env.BENCH_CANNED_TABLE || 'fs_bench_canned';
const ENTITIES = Number(process.env.BENCH_CANNED_ENTITIES || 1000);
const PORT = Number(process.env.BENCH_CANNED_PORT || 0);
const NFEAT = 20;
const LOG = process.env.BENCH_CANNED_LOG === '1';

function fail(msg) {
    console.error(`canned_responder: ${msg}`);
    process.exit(2);
}
if (!READY) fail('usage: canned_responder.js READY_FILE [--dump FILE] [--latency-ms N]');
if (!(latencyMs >= 0)) fail(`bad latency ${latencyMs}`);
if (!(ENTITIES >= 1)) fail(`bad BENCH_CANNED_ENTITIES ${ENTITIES}`);

// --- the items, serialized once ------------------------------------------------
// Deterministic: feature k of entity i.
function value(i, k) {
    const x = Math.sin(i * 12.9898 + k * 78.233) * 1000;
    return Math.round(x * 1e9) / 1e9;			// at most 12 significant digits
}
const items = new Map();						// "u<i>" -> JSON text of the item
const attrs = new Map();						// "u<i>" -> ['"name":{...}', ...]
const ATTR_NAMES = ['user_id', 'event_time'];
for (let k = 1; k <= NFEAT; k++) ATTR_NAMES.push(`f${k}`);
const dump = dumpFile ? [] : null;
for (let i = 1; i <= ENTITIES; i++) {
    const id = `u${i}`;
    const it = { user_id: { S: id }, event_time: { N: (1704067200 + i / 1000).toFixed(3) } };
    for (let k = 1; k <= NFEAT; k++) {
        const v = String(value(i, k));
        it[`f${k}`] = { N: v };
        if (dump) dump.push(`${id},f${k},${v}`);
    }
    items.set(id, JSON.stringify(it));
    attrs.set(id, ATTR_NAMES.map((a) => `${JSON.stringify(a)}:${JSON.stringify(it[a])}`));
}

// A projection -> null (the whole item) or the indexes into ATTR_NAMES it
// names; cached by its text.
const projections = new Map();
function projection(expr, names) {
    if (!expr) return null;
    const cacheKey = `${expr}\u0000${JSON.stringify(names || {})}`;
    let p = projections.get(cacheKey);
    if (p !== undefined) return p;
    const wanted = new Set(expr.split(',').map((t) => {
        const n = t.trim();
        return n.startsWith('#') ? (names || {})[n] : n;
    }));
    const idx = [];
    ATTR_NAMES.forEach((a, i) => { if (wanted.has(a)) idx.push(i); });
    p = idx.length === ATTR_NAMES.length ? null : idx;
    projections.set(cacheKey, p);
    return p;
}
if (dump) fs.writeFileSync(dumpFile, dump.join('\n') + '\n');

const DESCRIBE = JSON.stringify({
    Table: {
        TableName: TABLE,
        TableStatus: 'ACTIVE',
        KeySchema: [{ AttributeName: 'user_id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'user_id', AttributeType: 'S' }],
        ItemCount: ENTITIES,
        TableSizeBytes: 0,
        CreationDateTime: 1704067200,
        BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
        TableArn: `arn:aws:dynamodb:us-east-1:000000000000:table/${TABLE}`,
    },
});

// --keep-writes: table name -> { desc: TableDescription, items: Map(key JSON -> item) }.
const kept = new Map();

// The text of a Key object, whatever its attributes' order.
function keyText(key) {
    return JSON.stringify(Object.keys(key || {}).sort().map((k) => [k, key[k]]));
}

// Apply an UpdateExpression of SET, REMOVE and ADD clauses to item.
function applyUpdate(item, expr, names, values) {
    const name = (n) => (n.startsWith('#') ? (names || {})[n] : n);
    const parts = String(expr || '').split(/\b(SET|REMOVE|ADD|DELETE)\b/);
    for (let i = 1; i + 1 < parts.length; i += 2) {
        const verb = parts[i];
        for (const clause of parts[i + 1].split(',').map((c) => c.trim()).filter((c) => c !== '')) {
            if (verb === 'SET') {
                const [n, v] = clause.split('=').map((t) => t.trim());
                item[name(n)] = (values || {})[v];
            } else if (verb === 'REMOVE') {
                delete item[name(clause)];
            } else if (verb === 'ADD') {
                const [n, v] = clause.split(/\s+/);
                const add = Number(((values || {})[v] || {}).N || 0);
                const old = Number((item[name(n)] || {}).N || 0);
                item[name(n)] = { N: String(old + add) };
            }
        }
    }
}

// A write or read of a kept table: [status, body], or null for TABLE.
function keptAnswer(op, req) {
    if (op === 'CreateTable') {
        const desc = {
            TableName: req.TableName, TableStatus: 'ACTIVE', KeySchema: req.KeySchema,
            AttributeDefinitions: req.AttributeDefinitions, CreationDateTime: Date.now() / 1000,
            ItemCount: 0, TableSizeBytes: 0,
        };
        if (!kept.has(req.TableName)) kept.set(req.TableName, { desc, items: new Map() });
        return [200, JSON.stringify({ TableDescription: kept.get(req.TableName).desc })];
    }
    const t = kept.get(req.TableName);
    if (!t) return null;
    switch (op) {
        case 'DescribeTable':
            return [200, JSON.stringify({ Table: t.desc })];
        case 'PutItem': {
            const key = {};
            for (const k of t.desc.KeySchema || []) key[k.AttributeName] = req.Item[k.AttributeName];
            t.items.set(keyText(key), { ...req.Item });
            return [200, '{}'];
        }
        case 'UpdateItem': {
            const k = keyText(req.Key);
            const item = t.items.get(k) || { ...req.Key };
            applyUpdate(item, req.UpdateExpression, req.ExpressionAttributeNames, req.ExpressionAttributeValues);
            t.items.set(k, item);
            return [200, '{}'];
        }
        case 'DeleteItem':
            t.items.delete(keyText(req.Key));
            return [200, '{}'];
        default:
            return null;
    }
}

function error(type, message) {
    return [400, JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message })];
}

// One request: [status, body].
function answer(op, body) {
    let req;
    try {
        req = JSON.parse(body);
    } catch (e) {
        return error('SerializationException', 'the request is not JSON');
    }
    if (LOG) {
        const ri = req.RequestItems || {};
        const t = Object.keys(ri)[0];
        console.error(`${op} ${t ? `${t} keys=${(ri[t].Keys || []).length} projection=${ri[t].ProjectionExpression || '(none)'}` : req.TableName || ''}`);
    }
    if (keepWrites && op !== 'BatchGetItem') {
        const a = keptAnswer(op, req);
        if (a) return a;
    }
    switch (op) {
        case 'BatchGetItem': {
            const parts = [];
            const ri = req.RequestItems || {};
            if (keepWrites) {
                const responses = {};
                for (const t of Object.keys(ri)) {
                    const k = kept.get(t);
                    if (!k) continue;
                    responses[t] = (ri[t].Keys || []).map((key) => k.items.get(keyText(key))).filter((it) => it);
                }
                if (Object.keys(responses).length === Object.keys(ri).length)
                    return [200, JSON.stringify({ Responses: responses, UnprocessedKeys: {} })];
            }
            for (const t of Object.keys(ri)) {
                if (t !== TABLE) return error('ResourceNotFoundException', `Requested resource not found: Table: ${t} not found`);
                const proj = projection(ri[t].ProjectionExpression, ri[t].ExpressionAttributeNames);
                for (const key of ri[t].Keys || []) {
                    const s = key.user_id && key.user_id.S;
                    const item = s !== undefined ? items.get(s) : undefined;
                    if (item === undefined) continue;
                    if (proj === null) parts.push(item);
                    else {
                        const a = attrs.get(s);
                        parts.push(`{${proj.map((i) => a[i]).join(',')}}`);
                    }
                }
            }
            return [200, `{"Responses":{${JSON.stringify(TABLE)}:[${parts.join(',')}]},"UnprocessedKeys":{}}`];
        }
        case 'DescribeTable':
            if (req.TableName !== TABLE) return error('ResourceNotFoundException', `Requested resource not found: Table: ${req.TableName} not found`);
            return [200, DESCRIBE];
        case 'PutItem':
        case 'UpdateItem':
        case 'DeleteItem':
            return [200, '{}'];
        case 'BatchWriteItem':
            return [200, '{"UnprocessedItems":{}}'];
        default:
            return error('UnknownOperationException', `canned_responder (a benchmark fixture) does not answer ${op}`);
    }
}

let nextId = 1;
const server = http.createServer((request, response) => {
    const chunks = [];
    request.on('data', (c) => chunks.push(c));
    request.on('end', () => {
        const target = String(request.headers['x-amz-target'] || '');
        const op = target.startsWith('DynamoDB_20120810.') ? target.slice(18) : target;
        const [status, text] = answer(op, Buffer.concat(chunks).toString('utf8'));
        const send = () => {
            const buf = Buffer.from(text, 'utf8');
            response.writeHead(status, {
                'Content-Type': 'application/x-amz-json-1.0',
                'Content-Length': buf.length,
                'x-amzn-RequestId': `canned-${nextId++}`,
            });
            response.end(buf);
        };
        if (latencyMs > 0) setTimeout(send, latencyMs);
        else send();
    });
});
server.keepAliveTimeout = 60000;
server.headersTimeout = 65000;
server.listen(PORT, '127.0.0.1', () => {
    const tmp = `${READY}.tmp`;
    fs.writeFileSync(tmp, `${server.address().port}\n`);
    fs.renameSync(tmp, READY);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
