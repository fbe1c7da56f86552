// latch-idp operations end to end (issues 14 and 15): /healthz and /readyz on the main
// listener; /metrics only on `serve --metrics-listen` (404 on the main listener), in valid
// Prometheus text, with counters that move after requests (a refused sign-in, a token
// request) and no user identifier or secret in it; `serve --audit-log` made 0600 with one
// JSON line per failed and successful sign-in and per sign-up, no password in it;
// `keys rotate --audit-log` adds a key_rotate line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTempDirs, makeTempDir } from './lib.mjs';
import { SKIP_WITHOUT_IDP, idpAdmin, startLatchIdp } from './idp_lib.mjs';

const SECRET = 'ops-test-client-secret-0123456789';
const PASSWORD = 'correct horse battery staple';
const WRONG = 'wrong horse battery staple';
const EMAIL = 'ops.user@example.com';

// Every line a HELP/TYPE comment or `name{label="value",...} value` (text format 0.0.4).
function assertPrometheusText(text) {
  assert.ok(text.endsWith('\n'), 'the page ends with a newline');
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const label = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
  const sample = new RegExp(`^${name}(?:\\{${label}(?:,${label})*\\})? (?:-?[0-9.e+-]+|\\+Inf|-Inf|NaN)$`);
  const comment = new RegExp(`^# (?:HELP|TYPE) ${name} .+$`);
  const typed = new Set();
  for (const line of text.slice(0, -1).split('\n')) {
    assert.ok(comment.test(line) || sample.test(line), `not Prometheus text: ${JSON.stringify(line)}`);
    const m = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(line);
    if (m) typed.add(m[1]);
    else if (!line.startsWith('#')) {
      const family = line.split(/[{ ]/)[0].replace(/_(bucket|sum|count)$/, '');
      assert.ok(typed.has(family) || typed.has(line.split(/[{ ]/)[0]), `sample before its TYPE: ${line}`);
    }
  }
}

// The value of the sample `series` (name plus labels, exactly as printed), or 0 when absent.
function sampleValue(text, series) {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

async function waitFor(fn, what, ms = 5_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('latch-idp: health, readiness, metrics and the audit log', { skip: SKIP_WITHOUT_IDP }, () => {
  let idp;
  let dir;
  let auditFile;
  let metricsUrl;

  before(async () => {
    dir = makeTempDir('latch-idp-ops-');
    const data = join(dir, 'data');
    auditFile = join(dir, 'audit.log');
    writeFileSync(join(dir, 'secret'), `${SECRET}\n`, { mode: 0o600 });
    const added = idpAdmin(['client', 'add', 'svc', '--confidential', '--data', data, '--secret-file', join(dir, 'secret'),
      '--scope', 'api']);
    assert.equal(added.code, 0, added.stderr);
    idp = await startLatchIdp({ data, extraArgs: ['--metrics-listen', '127.0.0.1:0', '--audit-log', auditFile] });
    const m = await waitFor(() => /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(idp.stderr()), 'the metrics URL');
    metricsUrl = m[1];
  });
  after(async () => { if (idp) await idp.stop(); cleanupTempDirs(); });

  const metrics = async () => {
    const r = await fetch(metricsUrl);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    return r.text();
  };
  const authPost = (path, body) => fetch(`${idp.url}/api/auth${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json', origin: idp.url }, body: JSON.stringify(body),
  });

  test('/healthz answers ok; /readyz is ready (the database answers, the key is loaded)', async () => {
    const h = await fetch(`${idp.url}/healthz`);
    assert.equal(h.status, 200);
    assert.equal(await h.text(), 'ok\n');
    const r = await fetch(`${idp.url}/readyz`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'ready\n');
    assert.equal((await fetch(metricsUrl.replace('/metrics', '/readyz'))).status, 200);
  });

  test('/metrics is valid Prometheus text on its own listener, and not served on the main one', async () => {
    assert.equal((await fetch(`${idp.url}/metrics`)).status, 404);
    const text = await metrics();
    assertPrometheusText(text);
    for (const family of ['latch_idp_http_requests_total', 'latch_idp_http_request_duration_seconds',
      'latch_idp_logins_total', 'latch_idp_login_failures_total', 'latch_idp_hashing_in_flight', 'latch_idp_db_queued'])
      assert.match(text, new RegExp(`^# TYPE ${family} `, 'm'));
    assert.equal((await fetch(metricsUrl, { method: 'POST' })).status, 405);
  });

  test('counters move: a token request, a refused and an accepted sign-in; nothing identifying in the page', async () => {
    const before = await metrics();
    const tokenSeries = 'latch_idp_http_requests_total{route="token",code="2xx"}';
    const failSeries = 'latch_idp_login_failures_total{method="password"}';
    const okSeries = 'latch_idp_logins_total{method="password"}';

    const t = await fetch(`${idp.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`svc:${SECRET}`).toString('base64')}` },
      body: 'grant_type=client_credentials&scope=api',
    });
    assert.equal(t.status, 200);
    const accessToken = (await t.json()).access_token;
    assert.equal((await authPost('/sign-up/email', { name: 'Ops', email: EMAIL, password: PASSWORD })).status, 200);
    assert.equal((await authPost('/sign-in/email', { email: EMAIL, password: WRONG })).status, 401);
    assert.equal((await authPost('/sign-in/email', { email: EMAIL, password: PASSWORD })).status, 200);

    const afterText = await metrics();
    assertPrometheusText(afterText);
    assert.equal(sampleValue(afterText, tokenSeries), sampleValue(before, tokenSeries) + 1);
    assert.equal(sampleValue(afterText, failSeries), sampleValue(before, failSeries) + 1);
    assert.equal(sampleValue(afterText, okSeries), sampleValue(before, okSeries) + 1);
    assert.equal(sampleValue(afterText, 'latch_idp_sign_ups_total'), sampleValue(before, 'latch_idp_sign_ups_total') + 1);
    assert.ok(sampleValue(afterText, 'latch_idp_http_request_duration_seconds_count{route="token"}') >= 1);
    assert.ok(sampleValue(afterText, 'latch_idp_http_requests_total{route="sign_in",code="4xx"}') >= 1);
    for (const leak of [EMAIL, PASSWORD, WRONG, SECRET, accessToken, 'svc'])
      assert.ok(!afterText.includes(leak), `the metrics page holds ${leak.slice(0, 12)}…`);
  });

  test('the audit log: 0600, one JSON line per sign-up / refused / accepted sign-in, no password', async () => {
    const lines = await waitFor(() => {
      const l = readFileSync(auditFile, 'utf8').split('\n').filter(Boolean);
      return l.length >= 3 ? l : null;
    }, 'three audit lines');
    assert.equal(statSync(auditFile).mode & 0o777, 0o600);
    const events = lines.map((l) => JSON.parse(l));
    const signUp = events.find((e) => e.event === 'sign_up');
    const failed = events.find((e) => e.event === 'sign_in' && e.outcome === 'failure');
    const ok = events.find((e) => e.event === 'sign_in' && e.outcome === 'success');
    assert.ok(signUp && failed && ok, readFileSync(auditFile, 'utf8'));
    assert.equal(failed.username, EMAIL);
    assert.equal(failed.method, 'password');
    assert.equal(failed.reason, 'bad_password');
    assert.equal(failed.ip, '127.0.0.1');
    assert.equal(ok.user_id, signUp.user_id);
    assert.match(ok.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const raw = readFileSync(auditFile, 'utf8');
    for (const secretText of [PASSWORD, WRONG, SECRET]) assert.ok(!raw.includes(secretText));
    assert.ok(!/better-auth\.session_token|"token"/.test(raw));
  });

  test('a hostile user name is one escaped line; keys rotate --audit-log adds key_rotate', async () => {
    const hostile = 'eve\n{"event":"sign_in","outcome":"success"}\u001b[31m';
    assert.equal((await authPost('/sign-in/email', { email: hostile, password: WRONG })).status, 401);
    const rotated = idpAdmin(['keys', 'rotate', '--data', idp.data, '--audit-log', auditFile]);
    assert.equal(rotated.code, 0, rotated.stderr);
    const lines = readFileSync(auditFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.ok(lines.some((e) => e.event === 'sign_in' && e.outcome === 'failure' && e.username === hostile));
    assert.ok(!readFileSync(auditFile, 'utf8').includes('\u001b'));
    const rot = lines.find((e) => e.event === 'key_rotate');
    assert.equal(rot.key_id, rotated.stdout.trim());
    assert.equal(rot.outcome, 'success');
  });
});
