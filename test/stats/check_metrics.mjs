#!/usr/bin/env node
// check_metrics.mjs — checks fs_metrics() output, read from stdin, against the
// Prometheus text exposition format (0.0.4), two ways:
//
//   1. the npm package parse-prometheus-text-format must parse it without
//      throwing, and find the same families, of the same types, as 2.;
//   2. a line-by-line check of our own: every sample's family has exactly one
//      "# HELP" and one "# TYPE" line before its samples, and its samples are
//      contiguous; metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
//      [a-zA-Z_][a-zA-Z0-9_]*; label values escape backslash, double quote
//      and newline (and nothing else); counters end in _total; every value
//      is a float; no sample is given twice; per label set, a histogram's
//      _bucket counts do not decrease as le grows, its le="+Inf" bucket
//      exists and equals its _count, and it has a _sum.
//
//   node test/stats/check_metrics.mjs [--summary] < metrics.txt
//
// Exits 0 when the text passes, 1 with one line per problem on stderr when it
// does not (2 when it cannot run).  With --summary it then prints, per view
// (the label view= of feature_store_serving_calls_total), sorted by name:
//
//   "VIEW" calls=N entities=N present=N null_value=N not_found=N outside_max_age=N unavailable=N count=N
//
// VIEW as a JSON string; calls, entities and the values per status as the
// package parsed them, count the histogram's le="+Inf" bucket as the package
// parsed it (the package merges the buckets of every label set of a histogram
// family into one, so each view's lines are given to it on their own).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let parsePrometheus;
try {
  parsePrometheus = require('parse-prometheus-text-format');
  if (typeof parsePrometheus !== 'function') parsePrometheus = parsePrometheus.default;
} catch (e) {
  process.stderr.write(`check_metrics: cannot load parse-prometheus-text-format (npm ci): ${e.message}\n`);
  process.exit(2);
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const STATUSES = ['present', 'null_value', 'not_found', 'outside_max_age', 'unavailable'];
// Families fs_metrics always declares (with their types).
const EXPECTED = {
  feature_store_serving_calls_total: 'counter',
  feature_store_serving_entities_total: 'counter',
  feature_store_serving_values_total: 'counter',
  feature_store_serving_call_duration_seconds: 'histogram',
  feature_store_store_requests_total: 'counter',
  feature_store_store_retries_total: 'counter',
  feature_store_store_throttles_total: 'counter',
  feature_store_store_errors_total: 'counter',
};

const problems = [];
const problem = (lineno, what) => problems.push(lineno > 0 ? `line ${lineno}: ${what}` : what);

// A float of the format (Go's ParseFloat spelling), or null.
function toFloat(s) {
  if (!FLOAT.test(s)) return null;
  if (/Inf$/.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  return Number(s);
}

// Parse one sample line: { name, labels: [[k, v]...], value } or a string
// saying what is wrong.
function parseSample(line) {
  let i = 0;
  const n = line.length;
  while (i < n && line[i] !== '{' && line[i] !== ' ') i++;
  const name = line.slice(0, i);
  if (!METRIC_NAME.test(name)) return `metric name ${JSON.stringify(name)} is not valid`;
  const labels = [];
  if (line[i] === '{') {
    i++;
    if (line[i] !== '}') {
      for (;;) {
        let j = i;
        while (j < n && line[j] !== '=') j++;
        const lname = line.slice(i, j);
        if (!LABEL_NAME.test(lname)) return `label name ${JSON.stringify(lname)} is not valid`;
        if (line[j] !== '=' || line[j + 1] !== '"') return `label ${lname} has no ="value"`;
        j += 2;
        let value = '';
        for (;;) {
          if (j >= n) return `the value of label ${lname} is not closed`;
          const c = line[j];
          if (c === '"') break;
          if (c === '\\') {
            const e = line[j + 1];
            if (e === '\\') value += '\\';
            else if (e === '"') value += '"';
            else if (e === 'n') value += '\n';
            else return `the value of label ${lname} has an invalid escape \\${e ?? ''}`;
            j += 2;
          } else {
            value += c;
            j++;
          }
        }
        if (labels.some(([k]) => k === lname)) return `label ${lname} is given twice`;
        labels.push([lname, value]);
        j++;                            // the closing quote
        if (line[j] === ',') {
          i = j + 1;
          continue;
        }
        if (line[j] === '}') {
          i = j;
          break;
        }
        return `after the value of label ${lname}: ${JSON.stringify(line.slice(j, j + 10))} (an unescaped quote?)`;
      }
    }
    i++;                                // the closing brace
  }
  if (line[i] !== ' ') return 'no single space before the value';
  const rest = line.slice(i + 1).split(' ');
  if (rest.length > 2 || (rest.length === 2 && !/^-?\d+$/.test(rest[1]))) return `bad value or timestamp ${JSON.stringify(line.slice(i + 1))}`;
  const value = toFloat(rest[0]);
  if (value === null) return `value ${JSON.stringify(rest[0])} is not a float`;
  return { name, labels, value, raw: rest[0] };
}

// Labels as a key, without le (for grouping a histogram's lines).
const labelKey = (labels, without) =>
  JSON.stringify(labels.filter(([k]) => k !== without).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

let text;
try {
  text = readFileSync(0, 'utf8');
} catch (e) {
  process.stderr.write(`check_metrics: cannot read stdin: ${e.message}\n`);
  process.exit(2);
}

// --- 1. our own line-by-line check -------------------------------------------

const families = new Map();   // name -> { type, help, helpLines, typeLines, sampled, done }
const order = [];             // family names as declared
let current = null;           // the family whose lines we are in
const seen = new Set();       // name + labels of every sample
const hist = new Map();       // histogram family -> Map(labelKey -> { buckets: [[le, v, lineno]], count, sum, lines: [] })
const samplesOf = new Map();  // family -> [{ name, labels, value, raw, line }]

function family(name) {
  let f = families.get(name);
  if (!f) {
    f = { type: null, help: null, helpLines: 0, typeLines: 0, sampled: false, done: false };
    families.set(name, f);
    order.push(name);
  }
  return f;
}

// Enter family name's lines: a family left is done, and may not come back.
function enter(name, lineno) {
  if (current === name) return;
  if (current !== null) families.get(current).done = true;
  const f = families.get(name);
  if (f && f.done) problem(lineno, `the lines of ${name} are not contiguous`);
  current = name;
}

if (text.length > 0 && !text.endsWith('\n')) problem(0, 'the text does not end with a newline');
const lines = text.split('\n');
if (lines[lines.length - 1] === '') lines.pop();

lines.forEach((line, idx) => {
  const lineno = idx + 1;
  if (line === '') return;
  if (line.startsWith('#')) {
    const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
    if (!m) return;                     // a plain comment
    const [, kind, name, rest = ''] = m;
    if (!METRIC_NAME.test(name)) problem(lineno, `metric name ${JSON.stringify(name)} is not valid`);
    const f = family(name);
    enter(name, lineno);
    if (f.sampled) problem(lineno, `# ${kind} ${name} comes after its samples`);
    if (kind === 'HELP') {
      f.helpLines++;
      if (f.helpLines > 1) problem(lineno, `a second # HELP for ${name}`);
      if (/\\(?![\\n])/.test(rest)) problem(lineno, `# HELP ${name} has an invalid escape`);
      f.help = rest;
    } else {
      f.typeLines++;
      if (f.typeLines > 1) problem(lineno, `a second # TYPE for ${name}`);
      if (!TYPES.has(rest)) problem(lineno, `# TYPE ${name} has an unknown type ${JSON.stringify(rest)}`);
      f.type = rest;
      if (rest === 'counter' && !name.endsWith('_total')) problem(lineno, `counter ${name} does not end in _total`);
    }
    return;
  }

  const s = parseSample(line);
  if (typeof s === 'string') {
    problem(lineno, s);
    return;
  }
  // The sample's family: its own name, or a histogram's or summary's suffix.
  let fname = s.name;
  let suffix = '';
  if (!families.has(fname) || families.get(fname).typeLines === 0) {
    const m = /^(.*)_(bucket|sum|count)$/.exec(s.name);
    if (m && families.has(m[1]) && ['histogram', 'summary'].includes(families.get(m[1]).type) &&
        (m[2] !== 'bucket' || families.get(m[1]).type === 'histogram')) {
      fname = m[1];
      suffix = m[2];
    }
  }
  const f = families.get(fname);
  if (!f || f.typeLines !== 1 || f.helpLines !== 1) {
    problem(lineno, `sample ${s.name} has no # HELP and # TYPE line before it`);
    return;
  }
  if (current !== fname) problem(lineno, `sample ${s.name} is not among the lines of its family ${fname}`);
  enter(fname, lineno);
  f.sampled = true;
  const id = s.name + labelKey(s.labels, null);
  if (seen.has(id)) problem(lineno, `sample ${s.name} with these labels is given twice`);
  seen.add(id);
  if (!samplesOf.has(fname)) samplesOf.set(fname, []);
  samplesOf.get(fname).push({ ...s, line });
  if (f.type === 'counter' && !(s.value >= 0)) problem(lineno, `counter ${s.name} is negative or NaN`);

  if (f.type === 'histogram') {
    if (suffix === '') {
      problem(lineno, `histogram ${fname} has a sample without _bucket, _sum or _count`);
      return;
    }
    if (!hist.has(fname)) hist.set(fname, new Map());
    const key = labelKey(s.labels, suffix === 'bucket' ? 'le' : null);
    if (suffix !== 'bucket' && s.labels.some(([k]) => k === 'le')) problem(lineno, `${s.name} has a label le`);
    const h = hist.get(fname);
    if (!h.has(key)) h.set(key, { buckets: [], count: null, sum: null, lines: [] });
    const g = h.get(key);
    g.lines.push(line);
    if (suffix === 'bucket') {
      const le = s.labels.find(([k]) => k === 'le');
      const bound = le ? toFloat(le[1]) : null;
      if (bound === null || Number.isNaN(bound)) {
        problem(lineno, `${s.name} has no le, or an le that is not a float`);
        return;
      }
      const prev = g.buckets[g.buckets.length - 1];
      if (g.count !== null) problem(lineno, `${s.name} comes after the _count of its label set`);
      if (prev && !(bound > prev[0])) problem(lineno, `${s.name}: le ${le[1]} does not grow`);
      if (prev && !(s.value >= prev[1])) problem(lineno, `${s.name}{le="${le[1]}"}: the count decreases (${prev[1]} then ${s.value})`);
      g.buckets.push([bound, s.value, lineno]);
    } else if (suffix === 'count') {
      g.count = s.value;
    } else {
      g.sum = s.value;
    }
  }
});

if (current !== null) families.get(current).done = true;
for (const name of order) {
  const f = families.get(name);
  if (f.typeLines === 0) problem(0, `family ${name} has no # TYPE line`);
  if (f.helpLines === 0) problem(0, `family ${name} has no # HELP line`);
}
for (const [fname, groups] of hist) {
  for (const [key, g] of groups) {
    const inf = g.buckets.find(([b]) => b === Infinity);
    if (!inf) problem(0, `histogram ${fname}${key}: no le="+Inf" bucket`);
    if (g.count === null) problem(0, `histogram ${fname}${key}: no _count`);
    if (g.sum === null) problem(0, `histogram ${fname}${key}: no _sum`);
    if (inf && g.count !== null && inf[1] !== g.count) problem(0, `histogram ${fname}${key}: the +Inf bucket (${inf[1]}) is not the _count (${g.count})`);
  }
}
for (const [name, type] of Object.entries(EXPECTED)) {
  if (!families.has(name)) problem(0, `family ${name} is missing`);
  else if (families.get(name).type !== type) problem(0, `family ${name} is a ${families.get(name).type}, not a ${type}`);
}

// --- 2. the package ----------------------------------------------------------

let parsed = null;
try {
  parsed = parsePrometheus(text);
} catch (e) {
  problem(0, `parse-prometheus-text-format throws: ${e.message}`);
}
if (parsed) {
  const theirs = parsed.map((p) => `${p.name}:${p.type.toLowerCase()}`).join(' ');
  const ours = order.map((n) => `${n}:${families.get(n).type}`).join(' ');
  if (theirs !== ours) problem(0, `parse-prometheus-text-format finds other families: ${theirs} (ours: ${ours})`);
}

if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`check_metrics: ${p}\n`);
  process.exit(1);
}

// --- the summary, from the package's parse -------------------------------------

if (process.argv.includes('--summary')) {
  const fam = (name) => parsed.find((p) => p.name === name);
  const byView = (name) => {
    const m = new Map();
    for (const s of fam(name).metrics) m.set(s.labels.view, s);
    return m;
  };
  const calls = byView('feature_store_serving_calls_total');
  const entities = byView('feature_store_serving_entities_total');
  const values = fam('feature_store_serving_values_total').metrics;
  const histName = 'feature_store_serving_call_duration_seconds';
  const histHead = `# HELP ${histName} ${families.get(histName).help}\n# TYPE ${histName} histogram\n`;
  const out = [];
  for (const view of [...calls.keys()].sort()) {
    const fields = [`calls=${calls.get(view).value}`, `entities=${entities.get(view)?.value}`];
    for (const st of STATUSES) {
      const v = values.find((s) => s.labels.view === view && s.labels.status === st);
      fields.push(`${st}=${v?.value}`);
    }
    // This view's histogram lines alone, through the package.
    const g = [...hist.get(histName).values()].find((x) =>
      samplesOf.get(histName).some((s) => x.lines.includes(s.line) && s.labels.some(([k, v]) => k === 'view' && v === view)));
    const one = g ? parsePrometheus(histHead + g.lines.join('\n') + '\n') : [];
    fields.push(`count=${one[0]?.metrics[0]?.buckets?.['+Inf']}`);
    out.push(`${JSON.stringify(view)} ${fields.join(' ')}`);
  }
  process.stdout.write(out.map((l) => l + '\n').join(''));
}
