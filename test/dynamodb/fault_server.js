#!/usr/bin/env node
// fault_server.js — a misbehaving DynamoDB-compatible HTTP server for fault tests.
//
//   node test/dynamodb/fault_server.js PORT MODE [LIFETIME_SECONDS]
//
// Listens on 127.0.0.1:PORT (0: any free port) and prints "listening PORT" once
// ready.  Every request is logged to stdout as one line:
//
//   request N target=<X-Amz-Target> auth=yes|no sig=ok|bad|unchecked token=yes|no [consistent=yes|no|mixed] status=<answer>
//
// consistent= is logged for BatchGetItem: whether its tables' reads ask for
// ConsistentRead (all of them, none, or some).
//
// sig is checked (AWS SigV4, host header included) when the environment
// variable FS_FAULT_SECRET holds the secret access key the client signs with.
//
// MODE:
//   ok                    200 {}
//   never                 accept the request, never answer
//   slow:MS               wait MS milliseconds, then 200 {}
//   5xx-then-ok:N         first N requests 500, then 200 {"Responses":{},"UnprocessedKeys":{}}
//   throttle-then-ok:N    first N requests 400 ProvisionedThroughputExceededException, then as above
//   throttle-forever      always 400 ProvisionedThroughputExceededException
//   garbage               200 with body "not json at all"
//   truncated             200 with a cut-off JSON body (Content-Length matches)
//   wrong-types           200 {"Responses": 42}
//   reset                 close the connection without answering
//   error:TYPE:MESSAGE    400 {"__type":"com.amazonaws.dynamodb.v20120810#TYPE","message":MESSAGE}
//   big-header:BYTES      200 {} with a response header of BYTES bytes
//   big-body:BYTES        200 with a JSON body of about BYTES bytes (Content-Length set)
//   big-chunked:BYTES     the same body sent chunked, without Content-Length
//   unprocessed-then-ok:N BatchGetItem: the first N requests answer every key
//                         asked for as UnprocessedKeys; later ones answer each
//                         key with an item holding only its key attributes
//   hang-keys:PREFIX[:MS] BatchGetItem: a request that asks for a key whose
//                         value starts with PREFIX is answered after MS ms, or
//                         never without MS; any other request at once.  Each
//                         key is answered by an item of its key attributes and
//                         every other attribute the ProjectionExpression names
//                         as the number 1.  Other operations: 200 {}.
//   canned:DIR            BatchGetItem: 200 with the bytes of file DIR/ID.json,
//                         read at each request, where ID is the S (or N) of
//                         the first key asked for (letters, digits, _ and -
//                         only); the empty answer when there is no such
//                         file.  Other operations: 200 {}.
//   slow-peak:MS          every request answered after MS ms: BatchGetItem
//                         with no item, BatchWriteItem with nothing
//                         unprocessed, DescribeTable with an ACTIVE table
//                         (the TableName asked for, key user_id of type S),
//                         anything else {}.  Each time the requests received
//                         and not yet answered reach a new high it logs
//                         "peak requests=R", and "peak connections=C" for
//                         the connections open at once.
//
// Proxy modes forward to the DynamoDB-compatible server at the URL in the
// environment variable FS_FAULT_UPSTREAM (e.g. dynalite), and misbehave on cue:
//   proxy                   forward everything
//   proxy-outage-after:N    forward the first N item writes (PutItem or
//                           UpdateItem requests); from then on answer every
//                           request 500 (the store is down)
//   proxy-slow-puts:MS      forward everything, item writes (PutItem or
//                           UpdateItem) after a delay of MS ms
//   proxy-hide-items        answer BatchGetItem as if no item were stored;
//                           forward the rest
//
// A request whose connection the client closes before the answer is sent is
// logged once more, as "closed N before its answer".
//
// The server exits by itself after LIFETIME_SECONDS (default and maximum 600).
// Only node's standard library is used.
'use strict';

const http = require('http');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const port = parseInt(process.argv[2] || '0', 10);
const mode = process.argv[3] || 'ok';
let lifetime = parseInt(process.argv[4] || '600', 10);
if (!(lifetime > 0 && lifetime <= 600)) lifetime = 600;

const secret = process.env.FS_FAULT_SECRET || null;
const PREFIX = 'com.amazonaws.dynamodb.v20120810#';
const BATCH_OK = '{"Responses":{},"UnprocessedKeys":{}}';
const THROTTLE = JSON.stringify({
  __type: PREFIX + 'ProvisionedThroughputExceededException',
  message: 'Rate exceeded',
});

let count = 0;

function sha256hex(data) {
  return crypto.createHash('sha256').update(data).digest('hex');
}

function hmac(key, data) {
  return crypto.createHmac('sha256', key).update(data).digest();
}

// Verify an AWS SigV4 Authorization header against the request as received.
function checkSignature(req, body) {
  const auth = req.headers['authorization'];
  if (!auth) return 'none';
  if (!secret) return 'unchecked';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/.exec(auth);
  if (!m) return 'bad';
  const [, , date, region, service, signedHeaders, signature] = m;
  const amzDate = req.headers['x-amz-date'];
  if (!amzDate) return 'bad';
  const names = signedHeaders.split(';');
  const canonicalHeaders = names
    .map((n) => n + ':' + String(req.headers[n] || '').trim().replace(/\s+/g, ' ') + '\n')
    .join('');
  const url = new URL(req.url, 'http://x');
  const canonicalRequest = [
    req.method,
    url.pathname,
    url.searchParams.toString(),
    canonicalHeaders,
    signedHeaders,
    sha256hex(body),
  ].join('\n');
  const scope = [date, region, service, 'aws4_request'].join('/');
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonicalRequest)].join('\n');
  let key = hmac('AWS4' + secret, date);
  key = hmac(key, region);
  key = hmac(key, service);
  key = hmac(key, 'aws4_request');
  return hmac(key, toSign).toString('hex') === signature ? 'ok' : 'bad';
}

// Log a request's line once, before its answer is sent, so that a client
// that has its answer finds the line in the log.
function send(res, status, body) {
  res.fsLog(status);
  res.writeHead(status, {
    'Content-Type': 'application/x-amz-json-1.0',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

const upstream = process.env.FS_FAULT_UPSTREAM ? new URL(process.env.FS_FAULT_UPSTREAM) : null;
const upstreamAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
let puts = 0;

// A request that writes one item: fs_ingest's UpdateItem, an INSERT's PutItem.
function isItemWrite(op) {
  return op === 'PutItem' || op === 'UpdateItem';
}

// Forward a request to the upstream store and relay its answer.
function forward(req, body, res) {
  const headers = { ...req.headers, host: upstream.host };
  const up = http.request({
    host: upstream.hostname, port: upstream.port || 80, method: req.method,
    path: req.url, headers, agent: upstreamAgent,
  }, (ures) => {
    const chunks = [];
    ures.on('data', (c) => chunks.push(c));
    ures.on('end', () => {
      const out = Buffer.concat(chunks);
      res.writeHead(ures.statusCode, {
        'Content-Type': ures.headers['content-type'] || 'application/x-amz-json-1.0',
        'Content-Length': out.length,
      });
      res.end(out);
    });
  });
  up.on('error', () => req.socket.destroy());
  up.end(body);
}

function internalError(res) {
  send(res, 500, JSON.stringify({ __type: 'com.amazon.coral.availability#InternalServerError', message: 'Internal server error' }));
}

// A JSON body of about bytes bytes: an empty BatchGetItem answer, padded.
function paddedBody(bytes) {
  return '{"Responses":{},"UnprocessedKeys":{},"Padding":"' + 'x'.repeat(Math.max(bytes - 50, 0)) + '"}';
}

// The BatchGetItem answer for unprocessed-then-ok: all keys unprocessed, or
// each key answered by an item of its key attributes only.
function batchAnswer(body, unprocessed) {
  let items = {};
  try { items = JSON.parse(body.toString()).RequestItems || {}; } catch (e) { items = {}; }
  if (unprocessed) return JSON.stringify({ Responses: {}, UnprocessedKeys: items });
  const responses = {};
  for (const [table, entry] of Object.entries(items)) responses[table] = entry.Keys || [];
  return JSON.stringify({ Responses: responses, UnprocessedKeys: {} });
}

// The BatchGetItem answer for hang-keys: every key found, every projected
// attribute but the key 1; and whether a key asked for starts with prefix.
function keysAnswer(body, prefix) {
  let items = {};
  try { items = JSON.parse(body.toString()).RequestItems || {}; } catch (e) { items = {}; }
  const responses = {};
  let hang = false;
  for (const [table, entry] of Object.entries(items)) {
    const names = entry.ExpressionAttributeNames || {};
    const attrs = (entry.ProjectionExpression || '').split(',')
      .map((a) => a.trim()).filter((a) => a !== '').map((a) => names[a] || a);
    responses[table] = (entry.Keys || []).map((key) => {
      const item = { ...key };
      for (const a of attrs) if (!(a in item)) item[a] = { N: '1' };
      for (const v of Object.values(key)) {
        const s = v.S !== undefined ? v.S : v.N;
        if (typeof s === 'string' && s.startsWith(prefix)) hang = true;
      }
      return item;
    });
  }
  return { body: JSON.stringify({ Responses: responses, UnprocessedKeys: {} }), hang };
}

let batchGets = 0;

// slow-peak: requests received and not yet answered, connections open, and
// their highs.
let inFlight = 0;
let peakInFlight = 0;
let connections = 0;
let peakConnections = 0;

// The answer of slow-peak to an operation.
function slowPeakAnswer(op, body) {
  if (op === 'BatchGetItem') return BATCH_OK;
  if (op === 'BatchWriteItem') return '{"UnprocessedItems":{}}';
  if (op === 'DescribeTable') {
    let name = 'unknown';
    try { name = JSON.parse(body.toString()).TableName || name; } catch (e) { /* keep */ }
    return JSON.stringify({ Table: {
      TableName: name, TableStatus: 'ACTIVE', CreationDateTime: 1704067200,
      KeySchema: [{ AttributeName: 'user_id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'user_id', AttributeType: 'S' }],
    } });
  }
  return '{}';
}

function answer(n, req, res, body) {
  const [kind, ...rest] = mode.split(':');
  const arg = rest.join(':');
  const op = (req.headers['x-amz-target'] || '').split('.').pop();
  if (kind.startsWith('proxy') && !upstream) {
    send(res, 500, 'FS_FAULT_UPSTREAM is not set');
    return 500;
  }
  switch (kind) {
    case 'proxy':
      forward(req, body, res);
      return 'forwarded';
    case 'proxy-outage-after':
      if (isItemWrite(op) && puts < parseInt(arg, 10)) {
        puts++;
        forward(req, body, res);
        return 'forwarded';
      }
      if (isItemWrite(op) || puts >= parseInt(arg, 10)) {
        puts = Math.max(puts, parseInt(arg, 10));
        internalError(res);
        return 500;
      }
      forward(req, body, res);
      return 'forwarded';
    case 'proxy-slow-puts':
      if (isItemWrite(op)) {
        setTimeout(() => forward(req, body, res), parseInt(arg, 10) || 100);
        return 'delayed';
      }
      forward(req, body, res);
      return 'forwarded';
    case 'proxy-hide-items':
      if (op === 'BatchGetItem') {
        send(res, 200, BATCH_OK);
        return 200;
      }
      forward(req, body, res);
      return 'forwarded';
    case 'ok':
      send(res, 200, '{}');
      return 200;
    case 'never':
      return 'never';
    case 'slow':
      setTimeout(() => send(res, 200, '{}'), parseInt(arg, 10) || 1000);
      return 200;
    case 'slow-peak':
      inFlight++;
      if (inFlight > peakInFlight) {
        peakInFlight = inFlight;
        console.log(`peak requests=${peakInFlight}`);
      }
      setTimeout(() => {
        inFlight--;
        send(res, 200, slowPeakAnswer(op, body));
      }, parseInt(arg, 10) || 100);
      return 200;
    case '5xx-then-ok':
      if (n <= parseInt(arg, 10)) {
        send(res, 500, JSON.stringify({ __type: 'com.amazon.coral.availability#InternalServerError', message: 'Internal server error' }));
        return 500;
      }
      send(res, 200, BATCH_OK);
      return 200;
    case 'throttle-then-ok':
      if (n <= parseInt(arg, 10)) {
        send(res, 400, THROTTLE);
        return 400;
      }
      send(res, 200, BATCH_OK);
      return 200;
    case 'throttle-forever':
      send(res, 400, THROTTLE);
      return 400;
    case 'garbage':
      send(res, 200, 'not json at all');
      return 200;
    case 'truncated':
      send(res, 200, '{"Responses":{"t":[{"id":{"S":"a"},"v":{"N":"1');
      return 200;
    case 'wrong-types':
      send(res, 200, '{"Responses": 42}');
      return 200;
    case 'reset':
      req.socket.destroy();
      return 'reset';
    case 'big-header':
      res.fsLog(200);
      res.writeHead(200, {
        'Content-Type': 'application/x-amz-json-1.0',
        'X-Padding': 'x'.repeat(parseInt(arg, 10) || 2000000),
        'Content-Length': 2,
      });
      res.end('{}');
      return 200;
    case 'big-body':
      send(res, 200, paddedBody(parseInt(arg, 10) || 1000000));
      return 200;
    case 'big-chunked': {
      const out = paddedBody(parseInt(arg, 10) || 1000000);
      res.fsLog(200);
      res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.0' });
      for (let i = 0; i < out.length; i += 65536) res.write(out.slice(i, i + 65536));
      res.end();
      return 200;
    }
    case 'unprocessed-then-ok':
      if (op !== 'BatchGetItem') {
        send(res, 200, '{}');
        return 200;
      }
      batchGets++;
      if (batchGets <= parseInt(arg, 10)) {
        res.fsLog('unprocessed');
        send(res, 200, batchAnswer(body, true));
        return 'unprocessed';
      }
      send(res, 200, batchAnswer(body, false));
      return 200;
    case 'hang-keys': {
      if (op !== 'BatchGetItem') {
        send(res, 200, '{}');
        return 200;
      }
      const [prefix, ms] = arg.split(':');
      const out = keysAnswer(body, prefix);
      if (!out.hang) {
        send(res, 200, out.body);
        return 200;
      }
      if (ms === undefined) return 'hung';
      setTimeout(() => send(res, 200, out.body), parseInt(ms, 10));
      return 'late';
    }
    case 'canned': {
      if (op !== 'BatchGetItem') {
        send(res, 200, '{}');
        return 200;
      }
      let id = null;
      try {
        for (const entry of Object.values(JSON.parse(body.toString()).RequestItems || {})) {
          const v = Object.values((entry.Keys || [])[0] || {})[0] || {};
          id = v.S !== undefined ? v.S : v.N;
          break;
        }
      } catch (e) { id = null; }
      const file = typeof id === 'string' && /^[A-Za-z0-9_-]+$/.test(id)
        ? path.join(arg, id + '.json') : null;
      if (file === null || !fs.existsSync(file)) {
        send(res, 200, BATCH_OK);
        return 200;
      }
      send(res, 200, fs.readFileSync(file));
      return 'canned';
    }
    case 'error': {
      const i = arg.indexOf(':');
      const type = i < 0 ? arg : arg.slice(0, i);
      const message = i < 0 ? '' : arg.slice(i + 1);
      send(res, 400, JSON.stringify({ __type: PREFIX + type, message }));
      return 400;
    }
    default:
      send(res, 500, 'unknown fault mode');
      return 500;
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const n = ++count;
    const sig = checkSignature(req, body);
    let consistent = '';
    if ((req.headers['x-amz-target'] || '').endsWith('.BatchGetItem')) {
      try {
        const reads = Object.values(JSON.parse(body.toString()).RequestItems || {});
        const n = reads.filter((r) => r.ConsistentRead === true).length;
        consistent = ` consistent=${n === reads.length ? 'yes' : n === 0 ? 'no' : 'mixed'}`;
      } catch (e) {
        consistent = ' consistent=unreadable';
      }
    }
    let logged = false;
    res.fsLog = (status) => {
      if (logged) return;
      logged = true;
      console.log(
        `request ${n} target=${req.headers['x-amz-target'] || '-'}` +
        ` auth=${req.headers['authorization'] ? 'yes' : 'no'} sig=${sig === 'none' ? '-' : sig}` +
        ` token=${req.headers['x-amz-security-token'] ? 'yes' : 'no'}${consistent} status=${status}`);
    };
    // A client that gives up on a request closes its connection.
    res.on('close', () => {
      if (!res.writableEnded) console.log(`closed ${n} before its answer`);
    });
    const status = answer(n, req, res, body);
    res.fsLog(status);
  });
});

server.on('connection', (socket) => {
  connections++;
  if (connections > peakConnections) {
    peakConnections = connections;
    if (mode.startsWith('slow-peak')) console.log(`peak connections=${peakConnections}`);
  }
  socket.on('close', () => { connections--; });
});

server.keepAliveTimeout = 60000;
server.on('error', (e) => {
  console.error(`fault_server: ${e.message}`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});

// Test servers stop by themselves.
setTimeout(() => process.exit(0), lifetime * 1000).unref();
