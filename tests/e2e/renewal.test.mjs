// Renewal of contexts without a refresh token (machine: private_key_jwt; client
// credentials: a client secret) goes through token_source: single-flight across processes
// under the context lock, counted at the IdP. Confidential clients authenticate on refresh
// and revocation (RFC 6749 §6, RFC 7009 §2.1). A refresh refused with 400 and no body ends
// the session (exit 77). Needs LATCH_BIN.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  SKIP_WITHOUT_LATCH, cleanupTempDirs, freshLatchHome, idpIntrospect, killAllLatch, latch,
  makeTempDir, readJson, startIdp,
} from './lib.mjs';

const TEST_TIMEOUT = 120_000;
const PROCESSES = 32;
const userEnv = { LATCH_USERNAME: 'alice', LATCH_PASSWORD: 'correct horse' };
const credentialsPath = (home) => join(home, 'credentials', 'default.json');

// Makes the stored access token expired, as if it had been issued long ago.
function expireStoredToken(home) {
  const creds = readJson(credentialsPath(home));
  writeFileSync(credentialsPath(home), JSON.stringify({
    ...creds, tokens: { ...creds.tokens, expires_at: '2020-01-01T00:00:00Z' },
  }));
  return creds;
}

// PROCESSES concurrent `latch token`; all must succeed and print one token.
async function concurrentTokens(home, env) {
  const runs = await Promise.all(Array.from({ length: PROCESSES }, () => latch(['token'], { home, env })));
  assert.deepEqual(runs.map((r) => r.code), Array(PROCESSES).fill(0), runs.map((r) => r.stderr).join('\n'));
  const printed = new Set(runs.map((r) => r.stdout.trim()));
  assert.equal(printed.size, 1, `all ${PROCESSES} print the same token`);
  return [...printed][0];
}

describe('renewal through token_source', { skip: SKIP_WITHOUT_LATCH }, () => {
  let idp;
  const tokenRequests = (id) => idp.log.filter((e) => e.route === 'token' && e.client_id === id);

  before(async () => { idp = await startIdp(); });
  after(async () => {
    await killAllLatch();
    await idp?.close();
    cleanupTempDirs();
  });

  test(`${PROCESSES} concurrent \`latch token\` in an expired machine context: 1 grant at the IdP`, { timeout: TEST_TIMEOUT }, async () => {
    const userHome = freshLatchHome();
    const login = await latch(['login', '--password', '--issuer', idp.issuer, '--client-id', 'latch-cli'],
      { home: userHome, env: userEnv });
    assert.equal(login.code, 0, login.stderr);
    const keyOut = join(makeTempDir(), 'm.pem');
    const add = await latch(['machine', 'add', '--name', 'renewal', '--key-out', keyOut], { home: userHome });
    assert.equal(add.code, 0, add.stderr);
    const id = add.stdout.trim();
    const env = { LATCH_ISSUER: idp.issuer, LATCH_CLIENT_ID: id, LATCH_MACHINE_KEY: readFileSync(keyOut, 'utf8') };
    const home = freshLatchHome();
    const machineLogin = await latch(['login', '--machine'], { home, env });
    assert.equal(machineLogin.code, 0, machineLogin.stderr);

    const before = expireStoredToken(home);
    idp.clearLog();
    const printed = await concurrentTokens(home, { LATCH_MACHINE_KEY: env.LATCH_MACHINE_KEY });
    const grants = tokenRequests(id);
    console.log(`# machine context: token requests at the IdP for ${PROCESSES} processes: ${grants.length}`);
    assert.equal(grants.length, 1, 'the IdP saw exactly one token request');
    assert.equal(grants[0].grant_type, 'client_credentials');
    assert.equal(grants[0].client_auth, 'assertion');
    assert.notEqual(printed, before.tokens.access_token);
    assert.equal(readJson(credentialsPath(home)).tokens.access_token, printed);
    assert.equal((await idpIntrospect(idp, printed)).active, true);

    // Failures leave the store untouched: no key or a key the IdP refuses -> 77 (and why);
    // the IdP down -> 1.
    expireStoredToken(home);
    const stored = readFileSync(credentialsPath(home), 'utf8');
    const noKey = await latch(['token'], { home });
    assert.equal(noKey.code, 77, noKey.stderr);
    assert.match(noKey.stderr, /^latch: the machine token of context 'default' expired and cannot be re-obtained: no key for machine /);
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    const refused = await latch(['token'], { home, env: { LATCH_MACHINE_KEY: otherKey } });
    assert.equal(refused.code, 77, refused.stderr);
    assert.match(refused.stderr, /^latch: the machine token of context 'default' could not be re-obtained: machine not registered: .*the key in LATCH_MACHINE_KEY is not its key/);
    assert.equal(readFileSync(credentialsPath(home), 'utf8'), stored, 'store untouched');
    const down = JSON.parse(stored);
    writeFileSync(credentialsPath(home), JSON.stringify({ ...down, issuer: 'http://127.0.0.1:9' }));
    const unreachable = await latch(['token'], { home, env: { LATCH_MACHINE_KEY: env.LATCH_MACHINE_KEY } });
    assert.equal(unreachable.code, 1, unreachable.stderr);
    assert.match(unreachable.stderr, /^latch: the machine token of context 'default' could not be re-obtained: .*127\.0\.0\.1:9/);

    // Logout revokes with a signed assertion too (RFC 7009 §2.1, private_key_jwt).
    writeFileSync(credentialsPath(home), stored);
    idp.clearLog();
    const out = await latch(['logout'], { home, env: { LATCH_MACHINE_KEY: env.LATCH_MACHINE_KEY } });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /revoked the access token at the identity provider/);
    assert.equal(idp.log.find((e) => e.route === 'revocation')?.client_auth, 'assertion');
    assert.equal((await idpIntrospect(idp, printed)).active, false, 'the machine token is revoked');
  });

  test(`${PROCESSES} concurrent \`latch token\` in an expired client-credentials context: 1 grant`, { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const secretFile = join(makeTempDir(), 'secret');
    writeFileSync(secretFile, 'service-secret\n', { mode: 0o600 });
    const login = await latch(['login', '--client-credentials', '--issuer', idp.issuer,
      '--client-id', 'latch-service', '--client-secret-file', secretFile], { home });
    assert.equal(login.code, 0, login.stderr);
    // The context remembers where the secret is, never the secret.
    assert.equal(readJson(join(home, 'config.json')).contexts.default.client_secret, `file ${secretFile}`);

    const before = expireStoredToken(home);
    idp.clearLog();
    const printed = await concurrentTokens(home, {});  // the remembered file, no env needed
    const grants = tokenRequests('latch-service');
    console.log(`# client-credentials context: token requests at the IdP for ${PROCESSES} processes: ${grants.length}`);
    assert.equal(grants.length, 1, 'the IdP saw exactly one token request');
    assert.equal(grants[0].client_auth, 'basic');
    assert.notEqual(printed, before.tokens.access_token);
    assert.equal((await idpIntrospect(idp, printed)).active, true);
    // `latch refresh` re-makes the grant too (under the same lock).
    const refreshed = await latch(['refresh'], { home });
    assert.equal(refreshed.code, 0, refreshed.stderr);
    assert.match(refreshed.stderr, /^Refreshed context 'default'/);
    assert.equal(tokenRequests('latch-service').length, 2);
    for (const f of [credentialsPath(home), join(home, 'config.json')])
      assert.ok(!readFileSync(f, 'utf8').includes('service-secret'), `${f} holds the secret`);
  });

  test('a confidential client authenticates its refresh and its revocation', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const secretFile = join(makeTempDir(), 'secret');
    writeFileSync(secretFile, 'confidential-secret\n', { mode: 0o600 });
    const login = await latch(['login', '--password', '--issuer', idp.issuer, '--client-id', 'latch-confidential',
      '--client-secret-file', secretFile], { home, env: userEnv });
    assert.equal(login.code, 0, login.stderr);
    const first = readJson(credentialsPath(home)).tokens;
    assert.ok(first.refresh_token, 'a refresh token was issued');

    idp.clearLog();
    const refreshed = await latch(['refresh'], { home });
    assert.equal(refreshed.code, 0, refreshed.stderr);
    const [req] = idp.log.filter((e) => e.route === 'token' && e.grant_type === 'refresh_token');
    assert.equal(req.client_auth, 'basic');
    assert.equal(req.status, 200);
    const now = readJson(credentialsPath(home)).tokens;
    assert.notEqual(now.access_token, first.access_token);
    assert.equal((await idpIntrospect(idp, now.refresh_token)).active, true);

    const out = await latch(['logout'], { home });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /revoked the refresh token at the identity provider/);
    const [revoke] = idp.log.filter((e) => e.route === 'revocation');
    assert.equal(revoke?.client_auth, 'basic');
    assert.equal((await idpIntrospect(idp, now.refresh_token)).active, false, 'the refresh token is revoked');
  });
});

// An IdP that refuses every refresh with a bare 400 (no OAuth error body).
describe('a refresh refused with 400 and no body', { skip: SKIP_WITHOUT_LATCH }, () => {
  let server;
  let issuer;
  let refreshes = 0;
  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/.well-known/openid-configuration') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ issuer, token_endpoint: `${issuer}/token` }));
      } else {
        if (req.url === '/token') refreshes += 1;
        res.writeHead(400);
        res.end();
      }
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${server.address().port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    cleanupTempDirs();
  });

  test('ends the session: exit 77, says so, and status no longer offers a refresh', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const creds = {
      version: 1, context: 'default', issuer, client_id: 'latch-cli', login_method: 'device',
      obtained_at: '2020-01-01T00:00:00Z', identity: { sub: 'alice' },
      tokens: { access_token: 'old-access', refresh_token: 'dead-refresh', token_type: 'Bearer',
        expires_at: '2020-01-01T01:00:00Z' },
    };
    await latch(['context', 'add', 'default', '--issuer', issuer, '--client-id', 'latch-cli'], { home });
    writeFileSync(credentialsPath(home), JSON.stringify(creds), { mode: 0o600 });
    const t = await latch(['token'], { home });
    assert.equal(t.code, 77, t.stderr);
    assert.equal(t.stdout, '');
    assert.match(t.stderr, /^latch: session expired \(context 'default'\); run `latch login`/m);
    assert.equal(refreshes, 1, 'one refresh, not retried');
    assert.equal(readJson(credentialsPath(home)).status, 'expired');
    const s = await latch(['status'], { home });
    assert.equal(s.code, 77);
    assert.match(s.stdout, /refresh: {2}no/);
    assert.equal(refreshes, 1);
  });
});
