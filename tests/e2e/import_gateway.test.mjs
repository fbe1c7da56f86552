// Acceptance tests for token import (`latch login --with-token`), gateway sessions
// (`latch context add … --gateway`, `latch token --gateway`) and RFC 8693 token exchange
// (`latch token --exchange`), against the real test IdP, a small identity-lookup server and
// a small gateway, both written here on free loopback ports.  Needs LATCH_BIN.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  LATCH_BIN, SKIP_WITHOUT_LATCH, cleanupTempDirs, freshLatchHome, idpIntrospect, killAllLatch,
  latch, readJson, startIdp,
} from './lib.mjs';

const TEST_TIMEOUT = 60_000;
const PASSWORD = 'correct horse';
const userEnv = { LATCH_USERNAME: 'alice', LATCH_PASSWORD: PASSWORD };
const DAY = 24 * 3600;
const credentialsPath = (home, ctx = 'default') => join(home, 'credentials', `${ctx}.json`);
const epoch = () => Math.floor(Date.now() / 1000);
const epochOf = (iso) => Math.floor(Date.parse(iso) / 1000);
const jwtClaims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));

// Tokens straight from the IdP's token endpoint (password grant), as another tool would get them.
async function idpTokens(idp, { scope = 'openid profile email', login = 'alice' } = {}) {
  const res = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'password', client_id: 'latch-cli', username: login, password: PASSWORD, scope,
    }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
}

// A tiny JSON server on a free loopback port: handler(req, body) -> [status, object].
async function jsonServer(handler) {
  const requests = [];
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString('utf8');
    const entry = { method: req.method, url: req.url, headers: req.headers, body };
    requests.push(entry);
    const [status, obj] = await handler(req, body, entry);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(obj));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, requests, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }) };
}

// A port nothing listens on (bound, then closed).
async function deadUrl() {
  const s = await jsonServer(() => [500, {}]);
  await s.close();
  return `${s.url}/lookup`;
}

// latch with stdin left open: the test reads /proc/<pid>/cmdline while latch waits for the
// token, then writes it.  Resolves like latch().
function latchWithStdin(args, { home, env = {} }, writeToken) {
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LATCH_')));
  const child = spawn(LATCH_BIN, args, { env: { ...baseEnv, LATCH_HOME: home, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const done = new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done, write: writeToken };
}

// Waits (bounded) until latch blocks reading stdin: /proc/<pid>/syscall shows read(0, …)
// (syscall 0 on x86_64) or the process sits in epoll_wait after registering fd 0's dup.
async function waitForStdinRead(pid, timeoutMs = 10_000) {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    let state = '';
    try { state = readFileSync(`/proc/${pid}/wchan`, 'utf8'); } catch { return; }
    if (/ep_poll|pipe_read|wait_woken|do_epoll_wait/.test(state)) return;
    await new Promise((r) => setImmediate(r));
  }
}

describe('token import (latch login --with-token)', { skip: SKIP_WITHOUT_LATCH }, () => {
  let idp;
  let lookup;
  let wrongLookup;
  before(async () => {
    idp = await startIdp();
    lookup = await jsonServer((req) => [200, {
      sub: 'ci-bot-42', email: 'ci-bot@example.com', name: 'CI Bot', auth: req.headers.authorization ? 'bearer' : 'none',
    }]);
    wrongLookup = await jsonServer(() => [200, { sub: 'wrong', name: 'Wrong Lookup' }]);
  });
  after(async () => {
    await killAllLatch();
    await lookup?.close();
    await wrongLookup?.close();
    await idp?.close();
    cleanupTempDirs();
  });

  test('an IdP-issued access token: identity from userinfo, 30-day expiry, never on argv or in output', { timeout: TEST_TIMEOUT }, async () => {
    const { access_token: token } = await idpTokens(idp);
    const home = freshLatchHome();
    const run = latchWithStdin(['login', '--with-token', '--issuer', idp.issuer], { home });
    await waitForStdinRead(run.child.pid);
    const cmdline = readFileSync(`/proc/${run.child.pid}/cmdline`, 'utf8');
    assert.ok(cmdline.includes('--with-token'), `read the wrong process: ${cmdline}`);
    assert.ok(!cmdline.includes(token), 'the token is on the command line');
    assert.equal(run.child.exitCode, null, 'latch did not wait for stdin');
    const before = epoch();
    run.child.stdin.end(`  ${token}\n`);
    const login = await run.done;
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stderr, new RegExp(`Logged in to ${idp.issuer} as Alice \\(context 'default', imported token `));
    assert.match(login.stderr, /default lifetime of 30 days/);

    const creds = readJson(credentialsPath(home));
    assert.equal(creds.login_method, 'token');
    assert.equal(creds.tokens.access_token, token);
    assert.equal(creds.tokens.refresh_token, undefined);
    assert.equal(creds.identity.sub, 'alice');
    assert.equal(creds.identity.email, 'alice@example.com');
    const exp = epochOf(creds.tokens.expires_at);
    assert.ok(Math.abs(exp - (before + 30 * DAY)) <= 5, `expires_at ${creds.tokens.expires_at} is not 30 days away`);
    // The IdP saw the userinfo request carrying the imported token.
    await idp.waitForLog((e) => e.route === 'userinfo' && e.status === 200, 5_000);

    const status = await latch(['status'], { home });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /login: {4}imported token \(no refresh\)/);
    const printed = await latch(['token'], { home });
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stdout, `${token}\n`);
    const refresh = await latch(['refresh'], { home });
    assert.equal(refresh.code, 77, refresh.stderr);
    assert.match(refresh.stderr, /imported token, which has no refresh token; when it expires, import a new one: latch login --with-token --context default/);
    for (const r of [login, status, refresh]) {
      assert.ok(!r.stdout.includes(token) && !r.stderr.includes(token), `the token was printed:\n${r.stdout}\n${r.stderr}`);
    }
  });

  test('a JWT: expiry from its exp; identity from LATCH_LOOKUP_URL', { timeout: TEST_TIMEOUT }, async () => {
    const { id_token: jwt } = await idpTokens(idp);
    const home = freshLatchHome();
    const seen = lookup.requests.length;
    const r = await latch(['login', '--with-token', '--issuer', idp.issuer], {
      home, stdin: jwt, env: { LATCH_LOOKUP_URL: `${lookup.url}/whoami` },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /the token's exp claim/);
    const creds = readJson(credentialsPath(home));
    assert.equal(epochOf(creds.tokens.expires_at), jwtClaims(jwt).exp);
    assert.equal(creds.identity.sub, 'ci-bot-42');
    assert.equal(creds.identity.name, 'CI Bot');
    const req = lookup.requests.slice(seen).find((e) => e.url === '/whoami');
    assert.ok(req, 'the lookup URL was not asked');
    assert.equal(req.headers.authorization, `Bearer ${jwt}`);
    assert.ok(!r.stderr.includes(jwt) && !r.stdout.includes(jwt));
  });

  test('--lookup-url wins over LATCH_LOOKUP_URL and is remembered in the context', { timeout: TEST_TIMEOUT }, async () => {
    const { access_token: token } = await idpTokens(idp);
    const home = freshLatchHome();
    const wrongBefore = wrongLookup.requests.length;
    const r = await latch(['login', '--with-token', '--issuer', idp.issuer, '--lookup-url', `${lookup.url}/flag`,
      '--expires-in', '120'], { home, stdin: token, env: { LATCH_LOOKUP_URL: `${wrongLookup.url}/env` } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readJson(credentialsPath(home)).identity.sub, 'ci-bot-42');
    assert.equal(wrongLookup.requests.length, wrongBefore, 'the environment\'s lookup URL was asked');
    const exp = epochOf(readJson(credentialsPath(home)).tokens.expires_at);
    assert.ok(Math.abs(exp - (epoch() + 120)) <= 5, '--expires-in was not used');
    assert.equal(readJson(join(home, 'config.json')).contexts.default.lookup_url, `${lookup.url}/flag`);

    // The remembered URL is used by the next import, and the environment still beats it.
    const flagHits = () => lookup.requests.filter((e) => e.url === '/flag').length;
    const hits = flagHits();
    const again = await latch(['login', '--with-token'], { home, stdin: token });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(flagHits(), hits + 1, 'the remembered lookup URL was not used');
    const env = await latch(['login', '--with-token'], { home, stdin: token, env: { LATCH_LOOKUP_URL: `${wrongLookup.url}/env` } });
    assert.equal(env.code, 0, env.stderr);
    assert.equal(readJson(credentialsPath(home)).identity.sub, 'wrong');
  });

  test('lookup down (and the issuer down too): stored as ci-user with a warning', { timeout: TEST_TIMEOUT }, async () => {
    const { access_token: token } = await idpTokens(idp);
    const home = freshLatchHome();
    const dead = await deadUrl();
    const r = await latch(['login', '--with-token', '--issuer', 'http://127.0.0.1:9/down', '--lookup-url', dead],
      { home, stdin: `${token}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^latch: warning: could not look up whose token this is \(the identity lookup at http:\/\/127\.0\.0\.1:\d+\/lookup failed: .*\); stored it with the placeholder identity 'ci-user'$/m);
    const creds = readJson(credentialsPath(home));
    assert.equal(creds.identity.sub, 'ci-user');
    assert.equal(creds.tokens.access_token, token);
    assert.ok(!r.stderr.includes(token));

    // No lookup URL and the issuer unreachable: the same, offline.
    const home2 = freshLatchHome();
    const offline = await latch(['login', '--with-token', '--issuer', 'http://127.0.0.1:9/down'], { home: home2, stdin: token });
    assert.equal(offline.code, 0, offline.stderr);
    assert.match(offline.stderr, /cannot reach the identity provider.*placeholder identity 'ci-user'/);
    assert.equal(readJson(credentialsPath(home2)).identity.sub, 'ci-user');
  });

  test('empty stdin is a usage error; an expired JWT is refused; nothing stored', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const empty = await latch(['login', '--with-token', '--issuer', idp.issuer], { home, stdin: ' \n' });
    assert.equal(empty.code, 2, empty.stderr);
    assert.match(empty.stderr, /no token on stdin/);
    const expired = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ exp: epoch() - 60 })).toString('base64url')}.x`;
    const old = await latch(['login', '--with-token', '--issuer', idp.issuer], { home, stdin: expired });
    assert.equal(old.code, 1, old.stderr);
    assert.match(old.stderr, /the token expired at .* \(its exp claim\); nothing was stored/);
    const argv = await latch(['login', '--with-token', 'some-token', '--issuer', idp.issuer], { home });
    assert.equal(argv.code, 2, 'a token on argv must be refused');
    assert.ok(!existsSync(credentialsPath(home)));
  });
});

// On a terminal (util-linux `script` gives latch a pseudo-terminal) the token is prompted
// for with echo off: what the user sees never contains it.
function importOnTty(issuer, home, token) {
  const cmd = `'${LATCH_BIN}' login --with-token --issuer '${issuer}'`;
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LATCH_'))), LATCH_HOME: home };
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let typed = false;
  child.stdout.setEncoding('utf8').on('data', (d) => {
    out += d;
    if (!typed && /Paste the token \(input hidden\), then press Enter: $/.test(out)) {
      typed = true;
      child.stdin.write(`${token}\n`);
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => child.on('close', (code) => { clearTimeout(timer); resolve({ code, out, typed }); }));
}
const NO_SCRIPT = existsSync('/usr/bin/script') ? false : 'util-linux `script` is not installed';

describe('token import on a terminal', { skip: SKIP_WITHOUT_LATCH || NO_SCRIPT }, () => {
  let idp;
  before(async () => { idp = await startIdp(); });
  after(async () => { await idp?.close(); cleanupTempDirs(); });

  test('prompts with echo off; the typed token is stored, not shown', { timeout: TEST_TIMEOUT }, async () => {
    const { access_token: token } = await idpTokens(idp);
    const home = freshLatchHome();
    const r = await importOnTty(idp.issuer, home, token);
    assert.ok(r.typed, `no prompt:\n${r.out}`);
    assert.equal(r.code, 0, r.out);
    assert.ok(!r.out.includes(token), `the token was echoed:\n${r.out}`);
    assert.match(r.out, /as Alice \(context 'default', imported token/);
    assert.equal(readJson(credentialsPath(home)).tokens.access_token, token);
  });
});

// The gateway: verifies the posted ID token's issuer and audience (minimally: no signature
// check, that is the gateway's business) and answers a session token with a short expiry.
function startGateway(issuer) {
  const state = { mode: 'ok', ttl: 3600, issued: [] };
  return jsonServer((req, body) => {
    if (req.method !== 'POST' || req.url !== '/api/auth/login') return [404, { error: 'not found' }];
    if (state.mode === '401') return [401, { error: 'session expired' }];
    let claims;
    try { claims = jwtClaims(JSON.parse(body).id_token); } catch { return [400, { error: 'no id_token' }]; }
    if (claims.iss !== issuer || claims.aud !== 'latch-cli') return [401, { error: 'wrong issuer or audience' }];
    const token = `gw-session-${state.issued.length + 1}-${Math.random().toString(16).slice(2)}`;
    state.issued.push(token);
    return [200, { session_token: token, expires_at: new Date((epoch() + state.ttl) * 1000).toISOString(), user: { email: claims.email } }];
  }).then((server) => Object.assign(server, { state }));
}

describe('gateway sessions and token exchange', { skip: SKIP_WITHOUT_LATCH }, () => {
  let idp;
  let gw;
  before(async () => {
    idp = await startIdp();
    gw = await startGateway(idp.issuer);
  });
  after(async () => {
    await killAllLatch();
    await gw?.close();
    await idp?.close();
    cleanupTempDirs();
  });

  async function loginWithGateway(ctx = 'gw') {
    const home = freshLatchHome();
    const add = await latch(['context', 'add', ctx, '--issuer', idp.issuer, '--client-id', 'latch-cli',
      '--gateway', `${gw.url}/api/auth/login`], { home });
    assert.equal(add.code, 0, add.stderr);
    const login = await latch(['--context', ctx, 'login', '--password'], { home, env: userEnv });
    return { home, login };
  }

  test('login exchanges the ID token; token --gateway prints the cached session', { timeout: TEST_TIMEOUT }, async () => {
    gw.state.mode = 'ok';
    gw.state.ttl = 3600;
    const seen = gw.requests.length;
    const { home, login } = await loginWithGateway();
    assert.equal(login.code, 0, login.stderr);
    assert.equal(gw.requests.length, seen + 1, 'the gateway was not asked once');
    const posted = JSON.parse(gw.requests[seen].body);
    const creds = readJson(credentialsPath(home, 'gw'));
    assert.equal(posted.id_token, creds.tokens.id_token, 'the gateway did not get the ID token');
    assert.equal(creds.gateway.session_token, gw.state.issued.at(-1));
    assert.equal(creds.gateway.url, `${gw.url}/api/auth/login`);
    assert.ok(epochOf(creds.gateway.expires_at) > epoch() + 3000);
    assert.match(login.stderr, /Gateway session for context 'gw' from .*: gw-ses…\w{4} \(expires /);
    assert.ok(!login.stderr.includes(creds.gateway.session_token));

    const tok = await latch(['--context', 'gw', 'token', '--gateway'], { home });
    assert.equal(tok.code, 0, tok.stderr);
    assert.equal(tok.stdout, `${creds.gateway.session_token}\n`);
    assert.equal(gw.requests.length, seen + 1, 'a valid session was exchanged again');
    const status = await latch(['--context', 'gw', 'status'], { home });
    assert.match(status.stdout, /gateway: {2}gw-ses…\w{4} from /);

    const override = await latch(['--context', 'gw', 'token', '--gateway'], { home, env: { LATCH_SESSION_TOKEN: 'from-env' } });
    assert.equal(override.code, 0, override.stderr);
    assert.equal(override.stdout, 'from-env\n');
    assert.equal(gw.requests.length, seen + 1);
  });

  test('an expired session is exchanged again; a 401 exits 77 naming the context', { timeout: TEST_TIMEOUT }, async () => {
    gw.state.mode = 'ok';
    gw.state.ttl = 5;  // inside latch's 30 s margin: already expired for `token --gateway`
    const { home, login } = await loginWithGateway('short');
    assert.equal(login.code, 0, login.stderr);
    const first = readJson(credentialsPath(home, 'short')).gateway.session_token;
    const seen = gw.requests.length;
    gw.state.ttl = 3600;
    const again = await latch(['--context', 'short', 'token', '--gateway'], { home });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(gw.requests.length, seen + 1, 'the gateway did not see a second exchange');
    const second = again.stdout.trim();
    assert.notEqual(second, first);
    assert.equal(second, gw.state.issued.at(-1));
    assert.equal(readJson(credentialsPath(home, 'short')).gateway.session_token, second);

    // Expire it by hand, then let the gateway refuse: 77 and the seed's kind of message.
    const file = credentialsPath(home, 'short');
    const c = readJson(file);
    c.gateway.expires_at = '2020-01-01T00:00:00Z';
    (await import('node:fs')).writeFileSync(file, JSON.stringify(c), { mode: 0o600 });
    gw.state.mode = '401';
    const refused = await latch(['--context', 'short', 'token', '--gateway'], { home });
    assert.equal(refused.code, 77, refused.stderr);
    assert.match(refused.stderr, /^latch: gateway returned 401 \(session expired\) for context 'short'; log in again: latch login --context short$/m);
    assert.equal(refused.stdout, '');
    gw.state.mode = 'ok';
  });

  test('an expired ID token is refreshed before the session is exchanged again', { timeout: TEST_TIMEOUT }, async () => {
    idp.setOption('ttl.IdToken', 10);  // inside latch's 30 s margin
    gw.state.ttl = 5;
    try {
      const { home, login } = await loginWithGateway('idexp');
      assert.equal(login.code, 0, login.stderr);
      const before = readJson(credentialsPath(home, 'idexp')).tokens;
      idp.setOption('ttl.IdToken', 3600);
      gw.state.ttl = 3600;
      const seen = gw.requests.length;
      const r = await latch(['--context', 'idexp', 'token', '--gateway'], { home });
      assert.equal(r.code, 0, r.stderr);
      const refresh = await idp.waitForLog((e) => e.route === 'token' && e.grant_type === 'refresh_token'
        && e.params.refresh_token === before.refresh_token, 5_000);
      assert.equal(refresh.status, 200);
      const after = readJson(credentialsPath(home, 'idexp'));
      const posted = JSON.parse(gw.requests[seen].body).id_token;
      assert.notEqual(posted, before.id_token, 'the expired ID token was sent');
      assert.equal(posted, after.tokens.id_token);
      assert.equal(after.gateway.session_token, r.stdout.trim());
      assert.notEqual(after.tokens.refresh_token, before.refresh_token, 'the rotated refresh token was not kept');
    } finally {
      idp.setOption('ttl.IdToken', 3600);
      gw.state.ttl = 3600;
    }
  });

  test('a gateway failure after login keeps the login and exits 1', { timeout: TEST_TIMEOUT }, async () => {
    gw.state.mode = '401';
    try {
      const { home, login } = await loginWithGateway('kept');
      assert.equal(login.code, 1, login.stderr);
      assert.match(login.stderr, /warning: logged in, but there is no gateway session for context 'kept': .*401.*; the login is stored/);
      const creds = readJson(credentialsPath(home, 'kept'));
      assert.equal(creds.login_method, 'password');
      assert.equal(creds.gateway, undefined);
      assert.equal((await latch(['--context', 'kept', 'status'], { home })).code, 0);
      const noGateway = await latch(['token', '--gateway'], { home: freshLatchHome() });
      assert.equal(noGateway.code, 2);
      assert.match(noGateway.stderr, /has no gateway/);
    } finally {
      gw.state.mode = 'ok';
    }
  });

  test('token exchange (RFC 8693): a token for the audience, the grant in the IdP log', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const login = await latch(['login', '--password', '--issuer', idp.issuer, '--client-id', 'latch-cli'], { home, env: userEnv });
    assert.equal(login.code, 0, login.stderr);
    const subject = readJson(credentialsPath(home)).tokens.access_token;
    const r = await latch(['token', '--exchange', '--audience', 'https://api.example.com', '--scope', 'openid', '--scope', 'email'], { home });
    assert.equal(r.code, 0, r.stderr);
    const issued = r.stdout.trim();
    assert.ok(issued && issued !== subject, 'no new token printed');
    const entry = await idp.waitForLog((e) => e.route === 'token' && e.grant_type === 'urn:ietf:params:oauth:grant-type:token-exchange', 5_000);
    assert.equal(entry.status, 200);
    assert.equal(entry.params.subject_token, subject);
    assert.equal(entry.params.subject_token_type, 'urn:ietf:params:oauth:token-type:access_token');
    assert.equal(entry.params.audience, 'https://api.example.com');
    assert.equal(entry.params.scope, 'openid email');
    assert.equal(entry.client_id, 'latch-cli');
    const info = await idpIntrospect(idp, issued);
    assert.equal(info.active, true);
    assert.equal(info.gty, 'token_exchange');
    assert.equal(info.accountId, 'alice');
    // The IdP's own introspection (RFC 7662) shows the audience.
    const res = await fetch(`${idp.issuer}/token/introspection`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: issued, client_id: 'latch-cli' }),
    });
    const std = await res.json();
    assert.equal(std.active, true, JSON.stringify(std));
    assert.deepEqual([std.aud].flat(), ['https://api.example.com']);
    assert.equal(readJson(credentialsPath(home)).tokens.access_token, subject, 'the exchanged token was stored');

    // A scope beyond the subject token's: the IdP's error, escaped, exit 1.
    const wide = await latch(['token', '--exchange', '--audience', 'x', '--scope', 'offline_access admin'], { home });
    assert.equal(wide.code, 1, wide.stderr);
    assert.match(wide.stderr, /^latch: token exchange for audience 'x' failed: invalid_scope/m);
    const noAudience = await latch(['token', '--exchange'], { home });
    assert.equal(noAudience.code, 2);
  });
});
