// Helpers for the latch-idp end-to-end tests: start the built latch-idp on a free port in a
// temp data dir, run its admin commands, stop it.
import { spawn, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import https from 'node:https';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeTempDir } from './lib.mjs';
import { ON_PG, databaseFor, pgQuery, psql } from './pg_lib.mjs';

export const IDP_BIN = process.env.LATCH_IDP_BIN
  ?? (process.env.LATCH_BUILD_DIR ? join(process.env.LATCH_BUILD_DIR, 'latch-idp') : undefined);
export const SKIP_WITHOUT_IDP = IDP_BIN ? false
  : 'LATCH_IDP_BIN is not set: build `latch-idp` and run with LATCH_IDP_BIN=/path/to/latch-idp';

// Runs a latch-idp admin command to completion (bounded): { code, stdout, stderr }.
// On PostgreSQL (pg_lib.mjs) `--data DIR` also gets DIR's database.
function withDatabase(args) {
  const i = args.indexOf('--data');
  if (!ON_PG || i < 0 || args.includes('--database')) return args;
  return [...args, '--database', databaseFor(args[i + 1])];
}

export function idpAdmin(args, { env = {} } = {}) {
  const r = spawnSync(IDP_BIN, withDatabase(args), { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Starts `latch-idp serve` in `data` (default: a fresh data dir) on 127.0.0.1:0 and waits (bounded) for the
// URL it prints. Returns { url, issuer, data, child, stderr(), stop() }.
export async function startLatchIdp({ timeoutMs = 15_000, extraArgs = [], data = join(makeTempDir('latch-idp-'), 'data') } = {}) {
  const child = spawn(IDP_BIN, withDatabase(['serve', '--data', data, '--listen', '127.0.0.1:0', ...extraArgs]),
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`latch-idp printed no URL in ${timeoutMs} ms:\n${err}`)), timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n');
      if (line.length > 1) { clearTimeout(timer); resolve(line[0].trim()); }
    });
    exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`latch-idp exited (${code}):\n${err}`)); });
  });
  return {
    url,
    issuer: url,
    data,
    child,
    exited,
    stderr: () => err,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
}

// Rows of a read-only query of latch-idp's database in the data dir `data` (the sqlite3
// CLI, JSON output; the server may be running: WAL readers do not block it).
export function dbQuery(data, sql) {
  if (ON_PG) return pgQuery(databaseFor(data), sql);
  const r = spawnSync('sqlite3', ['-readonly', '-json', join(data, 'idp.db'), sql], { encoding: 'utf8', timeout: 15_000 });
  if (r.status !== 0) throw new Error(`sqlite3 ${sql}: ${r.error?.message ?? r.stderr}`);
  return r.stdout.trim() ? JSON.parse(r.stdout) : [];
}

// The first column of the first row, or undefined.
export function dbScalar(data, sql) {
  const rows = dbQuery(data, sql);
  return rows.length ? Object.values(rows[0])[0] : undefined;
}

// Runs a writing statement on latch-idp's database in `data` (a test's fault or clock
// injection) while the server may be running: sqlite3 waits for the lock, bounded; psql.
export function dbExec(data, sql) {
  if (ON_PG) return void psql(databaseFor(data), sql);
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', join(data, 'idp.db'), sql], { encoding: 'utf8', timeout: 15_000 });
  if (r.status !== 0) throw new Error(`sqlite3 ${sql}: ${r.error?.message ?? r.stderr}`);
}

// A browser's cookie jar for Node's fetch: keeps what Set-Cookie gives (and drops what it
// expires), sends it back, and sends Origin like a browser on `origin` would.
export function cookieFetch(origin) {
  const jar = new Map();
  const seen = [];
  const f = async (input, init = {}) => {
    const headers = new Headers(init.headers);
    if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    if (origin && (init.method ?? 'GET').toUpperCase() !== 'GET') headers.set('origin', origin);
    const res = await fetch(input, { ...init, headers });
    for (const line of res.headers.getSetCookie()) {
      seen.push(line);
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (attrs.some((a) => /^max-age=0$/i.test(a)) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  };
  return { fetch: f, jar, seen };
}

// A raw GET whose path fetch() would not normalise: { status, body }.
export function rawGet(url, path, headers = {}) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, headers, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => { body += d; }).on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

// A self-signed certificate for 127.0.0.1 (the test's own CA), and for `dnsNames` too:
// { cert, key } file paths.
export function selfSigned(dir, dnsNames = []) {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', ['subjectAltName=IP:127.0.0.1', ...dnsNames.map((n) => `DNS:${n}`)].join(',')],
  { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return { cert, key };
}

// One https request trusting `ca`: { status, headers, body }.
export function httpsRequest(url, { ca, method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ca, method, headers, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => { text += d; }).on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}
