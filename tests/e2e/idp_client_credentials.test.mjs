// latch-idp end to end: the real `latch` logs in with client credentials against a
// latch-idp started on a free port in a temp data dir; what the server signed is checked
// against its own JWKS; admin commands; SIGTERM drains.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTempDirs, freshLatchHome, killAllLatch, latch, makeTempDir, readJson, SKIP_WITHOUT_LATCH } from './lib.mjs';
import { idpAdmin, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';

const skip = SKIP_WITHOUT_LATCH || SKIP_WITHOUT_IDP;
const credentialsPath = (home, ctx = 'default') => join(home, 'credentials', `${ctx}.json`);
const b64json = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));

function storedText(home) {
  const dir = join(home, 'credentials');
  const files = [join(home, 'config.json'), ...(existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : [])];
  return files.filter(existsSync).map((f) => readFileSync(f, 'utf8')).join('\n');
}

function assertNowhere(needle, home, ...outputs) {
  for (const o of outputs) {
    assert.ok(!o.stdout.includes(needle), `'${needle}' appeared on stdout`);
    assert.ok(!o.stderr.includes(needle), `'${needle}' appeared on stderr`);
  }
  assert.ok(!storedText(home).includes(needle), `'${needle}' was written to the store`);
}

// Verifies an ES256 JWT against the server's JWKS; returns its claims.
async function verifiedClaims(idp, jwt) {
  const [h, p, s] = jwt.split('.');
  const header = b64json(h);
  assert.equal(header.alg, 'ES256');
  const jwks = await (await fetch(`${idp.url}/.well-known/jwks.json`)).json();
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `kid ${header.kid} is not in the JWKS`);
  assert.equal(jwk.d, undefined, 'the JWKS leaks a private key');
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  assert.ok(verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url')),
    'the signature does not verify');
  return b64json(p);
}

describe('latch-idp: client credentials', { skip }, () => {
  let idp;
  let secret;
  before(async () => {
    idp = await startLatchIdp();
    const add = idpAdmin(['client', 'add', 'svc', '--confidential', '--data', idp.data, '--scope', 'api openid']);
    assert.equal(add.code, 0, add.stderr);
    secret = add.stdout.trim();
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/, 'the secret is printed once, alone on stdout');
  });
  after(async () => {
    await killAllLatch();
    if (idp) await idp.stop();
    cleanupTempDirs();
  });

  test('discovery names the issuer and the token endpoint', async () => {
    const doc = await (await fetch(`${idp.url}/.well-known/openid-configuration`)).json();
    assert.equal(doc.issuer, idp.issuer);
    assert.equal(doc.token_endpoint, `${idp.issuer}/oauth2/token`);
    assert.equal(doc.jwks_uri, `${idp.issuer}/.well-known/jwks.json`);
  });

  test('latch login --client-credentials, then latch token: a JWT the server signed', async () => {
    const home = freshLatchHome();
    const secretFile = join(makeTempDir(), 'secret');
    writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
    const login = await latch(['login', '--client-credentials', '--issuer', idp.issuer, '--client-id', 'svc',
      '--client-secret-file', secretFile], { home });
    assert.equal(login.code, 0, `latch login failed:\n${login.stderr}\nserver:\n${idp.stderr()}`);
    assert.match(login.stderr, /\(context 'default', client credentials\)/);
    const creds = readJson(credentialsPath(home));
    assert.equal(creds.login_method, 'client_credentials');
    assert.equal(creds.client_id, 'svc');

    const token = await latch(['token'], { home });
    assert.equal(token.code, 0, token.stderr);
    const claims = await verifiedClaims(idp, token.stdout.trim());
    const now = Math.floor(Date.now() / 1000);
    assert.equal(claims.iss, idp.issuer);
    assert.equal(claims.sub, 'svc');
    assert.equal(claims.client_id, 'svc');
    assert.equal(claims.scope, 'api openid');
    assert.ok(claims.exp > now + 3000 && claims.exp <= now + 3700, `exp ${claims.exp - now} s from now`);
    assert.ok(claims.jti.length >= 16);
    assertNowhere(secret, home, login, token);
  });

  test('a wrong secret is refused (401 invalid_client) and nothing is stored', async () => {
    const home = freshLatchHome();
    const r = await latch(['login', '--client-credentials', '--issuer', idp.issuer, '--client-id', 'svc'],
      { home, env: { LATCH_CLIENT_SECRET: 'not-the-secret' } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /invalid_client/);
    assert.ok(!existsSync(credentialsPath(home)));

    const raw = await fetch(`${idp.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('svc:wrong').toString('base64')}` },
      body: 'grant_type=client_credentials',
    });
    assert.equal(raw.status, 401);
    assert.match(raw.headers.get('www-authenticate') ?? '', /^Basic/);
    assert.equal((await raw.json()).error, 'invalid_client');
  });

  test('client_secret_post works; a scope the client lacks is invalid_scope; unknown grants are refused', async () => {
    const post = (body) => fetch(`${idp.url}/oauth2/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body,
    });
    const ok = await post(`grant_type=client_credentials&client_id=svc&client_secret=${encodeURIComponent(secret)}&scope=api`);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('cache-control'), 'no-store');
    const body = await ok.json();
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope, 'api');
    assert.equal((await verifiedClaims(idp, body.access_token)).scope, 'api');

    const bad = await post(`grant_type=client_credentials&client_id=svc&client_secret=${encodeURIComponent(secret)}&scope=admin`);
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error, 'invalid_scope');
    // The password grant is off unless the client was registered with --grant password.
    const pw = await post(`grant_type=password&client_id=svc&client_secret=${encodeURIComponent(secret)}&username=alice&password=x`);
    assert.equal((await pw.json()).error, 'unauthorized_client');
    const unknown = await post(`grant_type=urn:example:magic&client_id=svc&client_secret=${encodeURIComponent(secret)}`);
    assert.equal((await unknown.json()).error, 'unsupported_grant_type');
  });

  test('client list shows no secret; client rm removes it', () => {
    const add = idpAdmin(['client', 'add', 'tmp-client', '--confidential', '--data', idp.data]);
    assert.equal(add.code, 0, add.stderr);
    const list = idpAdmin(['client', 'list', '--data', idp.data]);
    assert.match(list.stdout, /^svc\tconfidential\tgrants: client_credentials/m);
    assert.ok(!list.stdout.includes(secret) && !list.stdout.includes(add.stdout.trim()));
    assert.equal(idpAdmin(['client', 'rm', 'tmp-client', '--data', idp.data]).code, 0);
    const again = idpAdmin(['client', 'rm', 'tmp-client', '--data', idp.data]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no client 'tmp-client'/);
  });
});

describe('latch-idp: users and shutdown', { skip }, () => {
  after(() => cleanupTempDirs());

  test('user add takes the password from the environment or a file, never argv', async () => {
    const data = join(makeTempDir('latch-idp-'), 'data');
    const pw = 'a long enough password';
    const add = idpAdmin(['user', 'add', 'alice', '--data', data], { env: { LATCH_IDP_PASSWORD: pw } });
    assert.equal(add.code, 0, add.stderr);
    const file = join(makeTempDir(), 'pw');
    writeFileSync(file, `${pw}\n`, { mode: 0o600 });
    assert.equal(idpAdmin(['user', 'add', 'bob', '--data', data, '--password-file', file]).code, 0);
    const none = idpAdmin(['user', 'add', 'carol', '--data', data], { env: { LATCH_IDP_PASSWORD: '' } });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /LATCH_IDP_PASSWORD or pass --password-file/);
    const dup = idpAdmin(['user', 'add', 'alice', '--data', data], { env: { LATCH_IDP_PASSWORD: pw } });
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /user 'alice' already exists/);
    const list = idpAdmin(['user', 'list', '--data', data]);
    assert.deepEqual(list.stdout.trim().split('\n').map((l) => l.split('\t')[0]), ['alice', 'bob']);
    assert.ok(!readFileSync(join(data, 'idp.db')).includes(pw), 'the password is stored in clear');
    assert.equal(idpAdmin(['user', 'rm', 'bob', '--data', data]).code, 0);
    assert.deepEqual(idpAdmin(['user', 'list', '--data', data]).stdout.trim().split('\n').map((l) => l.split('\t')[0]), ['alice']);
  });

  test('SIGTERM: the server drains and exits 0; the signing key survives a restart', async () => {
    const idp = await startLatchIdp();
    const jwks1 = await (await fetch(`${idp.url}/.well-known/jwks.json`)).json();
    const r = await idp.stop('SIGTERM');
    assert.equal(r.code, 0, idp.stderr());
    assert.match(idp.stderr(), /draining/);
    const again = await startLatchIdp({ data: idp.data });
    const other = await startLatchIdp();
    try {
      const jwks2 = await (await fetch(`${again.url}/.well-known/jwks.json`)).json();
      assert.deepEqual(jwks2, jwks1, 'the same data dir serves the same key after a restart');
      const jwks3 = await (await fetch(`${other.url}/.well-known/jwks.json`)).json();
      assert.notEqual(jwks3.keys[0].kid, jwks1.keys[0].kid, 'each data dir has its own key');
    } finally {
      await again.stop();
      await other.stop();
    }
  });
});
