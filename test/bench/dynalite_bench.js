#!/usr/bin/env node
// dynalite_bench.js — dynalite (in memory) for the DynamoDB serving benchmark,
// with a counter of the requests it is answering at once.
//
//   node test/bench/dynalite_bench.js READY_FILE
//
// Listens on 127.0.0.1 only: the DynamoDB API on one ephemeral port and a
// control API on another, then writes "API_PORT CONTROL_PORT PID" to
// READY_FILE (atomically).  Runs until SIGTERM/SIGINT.
//
// For every HTTP request it records when it arrived (the 'request' event:
// headers read) and when its response was handed to the kernel ('finish'),
// on the monotonic clock (process.hrtime, CLOCK_MONOTONIC on Linux, the
// clock the C client reads), and keeps the number in flight and its peak.
// A window is what happened since the last reset:
//
//   GET  http://127.0.0.1:CONTROL_PORT/window   → {"requests":N,"peak":P,
//        "first_ns":"...","last_ns":"...","busy_ms":B}   and resets it
//
// first_ns: arrival of the window's first request; last_ns: finish of its last
// response; busy_ms: time with at least one request in flight (the store's
// share of a call, seen from the store, loopback transit included).
'use strict';

const http = require('http');
const fs = require('fs');
const path = require('path');

const ready = process.argv[2];
if (!ready) {
    console.error('usage: dynalite_bench.js READY_FILE');
    process.exit(2);
}
const dynalite = require(path.join(__dirname, '..', '..', 'node_modules', 'dynalite'));

const now = () => process.hrtime.bigint();
let inFlight = 0;
let win = null;
function resetWindow() {
    win = { requests: 0, peak: inFlight, first: 0n, last: 0n, busy: 0n, busySince: inFlight > 0 ? now() : 0n };
}
resetWindow();

const server = dynalite({ createTableMs: 50, deleteTableMs: 50, updateTableMs: 50 });
// Listeners run in registration order; dynalite's own is already there, so
// prepend ours to see the arrival before dynalite starts work on it.
server.prependListener('request', (req, res) => {
    const t = now();
    if (win.first === 0n) win.first = t;
    if (inFlight === 0) win.busySince = t;
    inFlight++;
    win.requests++;
    if (inFlight > win.peak) win.peak = inFlight;
    let done = false;
    const end = () => {
        if (done) return;
        done = true;
        const t2 = now();
        inFlight--;
        win.last = t2;
        if (inFlight === 0 && win.busySince > 0n) {
            win.busy += t2 - win.busySince;
            win.busySince = 0n;
        }
    };
    res.on('finish', end);
    res.on('close', end);
});

const control = http.createServer((req, res) => {
    if (req.url !== '/window') {
        res.writeHead(404);
        res.end();
        return;
    }
    let busy = win.busy;
    if (inFlight > 0 && win.busySince > 0n) busy += now() - win.busySince;
    const body = JSON.stringify({
        requests: win.requests,
        peak: win.peak,
        in_flight: inFlight,
        first_ns: win.first.toString(),
        last_ns: win.last.toString(),
        busy_ms: Number(busy) / 1e6,
    });
    resetWindow();
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(body);
});

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
    control.listen(0, '127.0.0.1', () => {
        fs.writeFileSync(ready + '.tmp', `${server.address().port} ${control.address().port} ${process.pid}\n`);
        fs.renameSync(ready + '.tmp', ready);
        console.log(`dynalite (benchmark) on 127.0.0.1:${server.address().port}, control on 127.0.0.1:${control.address().port}`);
    });
});
