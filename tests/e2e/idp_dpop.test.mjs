// latch-idp end to end, issue 15's DPoP (RFC 9449) with the real `latch`: a machine logs in
// silently and its token comes back bound to the machine's key. latch-idp answers the first
// token request with the nonce challenge (400 use_dpop_nonce + DPoP-Nonce, §8) and latch
// retries once with the nonce; the token introspects with cnf.jkt = the key's RFC 7638
// thumbprint; at userinfo the token alone (Bearer) is refused and a proof from
// `latch token --dpop-proof` is needed; a proof is good once; rotation and rm end the key.
// Then, with proofs made here: a public client's bound token and refresh token, hostile
// proofs (400 invalid_dpop_proof, nothing stored), and dpop_bound_access_tokens (§5.2).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, randomUUID, sign as cryptoSign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cleanupTempDirs, freshLatchHome, idpIntrospect, killAllLatch, latch, makeTempDir, SKIP_WITHOUT_LATCH,
} from './lib.mjs';
import { SKIP_WITHOUT_IDP } from './idp_lib.mjs';
import { LATCH_IDP_PASSWORD, startLatchIdpAsTestIdp } from './latch_idp_test_idp.mjs';

const HAVE_SQLITE = spawnSync('sqlite3', ['--version']).status === 0;
const SKIP = SKIP_WITHOUT_LATCH || SKIP_WITHOUT_IDP || (HAVE_SQLITE ? false : 'needs sqlite3 (scripts/install-deps.sh)');
const userEnv = { LATCH_USERNAME: 'alice', LATCH_PASSWORD: LATCH_IDP_PASSWORD };
const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function sql(idp, query) {
  const r = spawnSync('sqlite3', ['-readonly', join(idp.data, 'idp.db'), query], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

// A key as a JWK (PEM text or a KeyObject); with its private `d`.
const jwkOf = (key) => (typeof key === 'string' ? createPrivateKey(key) : key).export({ format: 'jwk' });

// RFC 7638 thumbprint of an EC P-256 key.
function thumbprint(key) {
  const { crv, kty, x, y } = jwkOf(key);
  return createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
}

function es256(header, claims, key) {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

// A DPoP proof made here; `over` replaces header members, `claims` claim members.
function proof(key, htm, htu, { nonce, ath, over = {}, claims = {} } = {}) {
  const { kty, crv, x, y } = jwkOf(key);
  const body = { jti: randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000), ...claims };
  if (nonce) body.nonce = nonce;
  if (ath) body.ath = createHash('sha256').update(ath).digest('base64url');
  return es256({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y }, ...over }, body, key);
}

describe('latch-idp: DPoP (RFC 9449) with latch', { skip: SKIP }, () => {
  let idp;
  let userHome;
  const silentEnv = (id, key) => ({ LATCH_ISSUER: idp.issuer, LATCH_CLIENT_ID: id, LATCH_MACHINE_KEY: key });
  const tokenRequests = (id) => idp.log.filter((e) => e.route === 'token' && e.client_id === id);
  const tokenUrl = () => `${idp.issuer}/oauth2/token`;
  const userinfoUrl = () => `${idp.issuer}/oauth2/userinfo`;
  const form = (url, params, headers = {}) => fetch(url, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
  // A token request with a proof by `key`: the first answer is the nonce challenge, the
  // second uses its nonce. Returns [challenge, answer].
  async function withNonce(params, key) {
    const first = await form(tokenUrl(), params, { dpop: proof(key, 'POST', tokenUrl()) });
    const nonce = first.headers.get('dpop-nonce');
    return [first, await form(tokenUrl(), params, { dpop: proof(key, 'POST', tokenUrl(), { nonce }) })];
  }

  before(async () => {
    idp = await startLatchIdpAsTestIdp();
    userHome = freshLatchHome();
    const login = await latch(['login', '--password', '--issuer', idp.issuer, '--client-id', 'latch-cli'],
      { home: userHome, env: userEnv });
    assert.equal(login.code, 0, login.stderr);
  });
  after(async () => {
    await killAllLatch();
    await idp?.close();
    cleanupTempDirs();
  });

  test('machine: nonce challenge, cnf.jkt, proof needed at userinfo, replay refused, rotate, rm', async () => {
    const disc = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json();
    assert.deepEqual(disc.dpop_signing_alg_values_supported, ['ES256', 'RS256']);
    const keyOut = join(makeTempDir(), 'ci.pem');
    const add = await latch(['machine', 'add', '--name', 'dpop-runner', '--key-out', keyOut], { home: userHome });
    assert.equal(add.code, 0, add.stderr);
    const id = add.stdout.trim();
    const key = readFileSync(keyOut, 'utf8');
    const jkt = thumbprint(key);

    const ciHome = freshLatchHome();
    const login = await latch(['login', '--machine'], { home: ciHome, env: silentEnv(id, key) });
    assert.equal(login.code, 0, login.stderr);
    // What latch-idp received: a proof without a nonce, the challenge, then a proof with it.
    const [challenge, granted] = tokenRequests(id);
    assert.equal(challenge.status, 400);
    assert.equal(challenge.error, 'use_dpop_nonce');
    assert.ok(challenge.dpop && challenge.dpop_nonce);
    assert.equal(granted.status, 200);
    assert.equal(granted.token_type, 'DPoP');
    assert.equal(JSON.parse(Buffer.from(granted.dpop.split('.')[1], 'base64url')).nonce, challenge.dpop_nonce);
    assert.notEqual(granted.params.client_assertion, challenge.params.client_assertion, 'a new assertion for the retry');

    const status = await latch(['status'], { home: ciHome, env: silentEnv(id, key) });
    assert.match(status.stdout, new RegExp(`binding: +DPoP-bound \\(jkt ${jkt}\\)`));
    const json = JSON.parse((await latch(['status', '--json'], { home: ciHome, env: silentEnv(id, key) })).stdout);
    assert.equal(json.token_type, 'DPoP');
    const creds = JSON.parse(readFileSync(join(ciHome, 'credentials', 'default.json'), 'utf8'));
    assert.equal(JSON.stringify(creds).includes('"token_type":"DPoP"'), true, 'the credentials file says DPoP');

    const token = (await latch(['token'], { home: ciHome, env: silentEnv(id, key) })).stdout.trim();
    const seen = await idpIntrospect(idp, token);
    assert.equal(seen.active, true);
    assert.deepEqual(seen.cnf, { jkt });

    // The token alone is refused; with a proof by the machine's key it passes the binding
    // (a machine token has no openid scope: userinfo then says so).
    const asBearer = await fetch(userinfoUrl(), { headers: { authorization: `Bearer ${token}` } });
    assert.equal(asBearer.status, 401);
    assert.match(asBearer.headers.get('www-authenticate'), /^DPoP error="invalid_token"/);
    const mint = await latch(['token', '--dpop-proof', 'GET', userinfoUrl()], { home: ciHome, env: silentEnv(id, key) });
    assert.equal(mint.code, 0, mint.stderr);
    const p = mint.stdout.trim();
    const withProof = await fetch(userinfoUrl(), { headers: { authorization: `DPoP ${token}`, dpop: p } });
    assert.equal(withProof.status, 401);
    assert.equal((await withProof.json()).error_description, 'the access token was not issued for openid');
    const replayed = await fetch(userinfoUrl(), { headers: { authorization: `DPoP ${token}`, dpop: p } });
    assert.equal(replayed.status, 401);
    assert.match(replayed.headers.get('www-authenticate'), /^DPoP error="invalid_dpop_proof"/);
    assert.equal((await replayed.json()).error_description, 'the DPoP proof was already used (jti)');
    // A proof by another key, or one without the token's hash, does not do.
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const stranger = await fetch(userinfoUrl(), { headers: { authorization: `DPoP ${token}`, dpop: proof(other, 'GET', userinfoUrl(), { ath: token }) } });
    assert.equal((await stranger.json()).error, 'invalid_dpop_proof');

    // A rotation the IdP refuses (a wrong management token) changes nothing: the old key
    // still logs in (issue 15: the old key stays valid until the update is confirmed).
    const recordFile = join(userHome, 'machines', `${id}.json`);
    const record = readFileSync(recordFile, 'utf8');
    const tampered = JSON.parse(record);
    tampered.registration_access_token = 'wrong';
    writeFileSync(recordFile, JSON.stringify(tampered), { mode: 0o600 });
    const refused = await latch(['machine', 'rotate', 'dpop-runner'], { home: userHome });
    assert.notEqual(refused.code, 0);
    writeFileSync(recordFile, record, { mode: 0o600 });
    const stillOld = await latch(['login', '--machine'], { home: freshLatchHome(), env: silentEnv(id, key) });
    assert.equal(stillOld.code, 0, stillOld.stderr);

    // Rotation: the new key logs in (bound to it), the old one is refused.
    const newOut = join(makeTempDir(), 'new.pem');
    const rot = await latch(['machine', 'rotate', 'dpop-runner', '--key-out', newOut], { home: userHome });
    assert.equal(rot.code, 0, rot.stderr);
    const newKey = readFileSync(newOut, 'utf8');
    const newHome = freshLatchHome();
    const withNew = await latch(['login', '--machine'], { home: newHome, env: silentEnv(id, newKey) });
    assert.equal(withNew.code, 0, withNew.stderr);
    const newToken = (await latch(['token'], { home: newHome, env: silentEnv(id, newKey) })).stdout.trim();
    assert.deepEqual((await idpIntrospect(idp, newToken)).cnf, { jkt: thumbprint(newKey) });
    const withOld = await latch(['login', '--machine'], { home: freshLatchHome(), env: silentEnv(id, key) });
    assert.notEqual(withOld.code, 0);
    assert.match(withOld.stderr, /invalid_client/);
    const rm = await latch(['machine', 'rm', 'dpop-runner'], { home: userHome });
    assert.equal(rm.code, 0, rm.stderr);
    const gone = await latch(['login', '--machine'], { home: freshLatchHome(), env: silentEnv(id, newKey) });
    assert.notEqual(gone.code, 0);
    assert.equal(tokenRequests(id).at(-1).status, 401);
  });

  test('a public client: bound access and refresh tokens; userinfo with the proof; replay refused', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const jkt = thumbprint(key);
    const params = { grant_type: 'password', client_id: 'latch-cli', username: 'alice', password: LATCH_IDP_PASSWORD,
      scope: 'openid offline_access' };
    const [challenge, answer] = await withNonce(params, key);
    assert.equal(challenge.status, 400);
    assert.deepEqual(await challenge.json(), { error: 'use_dpop_nonce', error_description: 'the DPoP proof needs a current nonce from this server' });
    assert.equal(answer.status, 200);
    assert.ok(answer.headers.get('dpop-nonce'), 'every token answer carries a fresh nonce');
    const tokens = await answer.json();
    assert.equal(tokens.token_type, 'DPoP');
    assert.equal(sql(idp, `SELECT COUNT(*) FROM refresh_tokens WHERE jkt = '${jkt}'`), '1');

    const bearer = await fetch(userinfoUrl(), { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(bearer.status, 401);
    const p = proof(key, 'GET', userinfoUrl(), { ath: tokens.access_token });
    const ok = await fetch(userinfoUrl(), { headers: { authorization: `DPoP ${tokens.access_token}`, dpop: p } });
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).sub, 'alice');
    const again = await fetch(userinfoUrl(), { headers: { authorization: `DPoP ${tokens.access_token}`, dpop: p } });
    assert.equal(again.status, 401);
    // The same proof at the token endpoint twice: refused the second time.
    const nonce = answer.headers.get('dpop-nonce');
    const once = proof(key, 'POST', tokenUrl(), { nonce });
    const refresh = { grant_type: 'refresh_token', client_id: 'latch-cli', refresh_token: tokens.refresh_token };
    // Without a proof, or with another key's, the bound refresh token does nothing (not spent).
    const none = await form(tokenUrl(), refresh);
    assert.equal((await none.json()).error, 'invalid_dpop_proof');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const wrong = await form(tokenUrl(), refresh, { dpop: proof(other, 'POST', tokenUrl(), { nonce }) });
    assert.equal((await wrong.json()).error, 'invalid_grant');
    const right = await form(tokenUrl(), refresh, { dpop: once });
    assert.equal(right.status, 200);
    assert.equal((await right.json()).token_type, 'DPoP');
    const replay = await form(tokenUrl(), refresh, { dpop: once });
    assert.equal(replay.status, 400);
    assert.deepEqual(await replay.json(), { error: 'invalid_dpop_proof', error_description: 'the DPoP proof was already used (jti)' });
  });

  test('hostile proofs: 400 invalid_dpop_proof with a one-line reason, nothing stored', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const params = { grant_type: 'password', client_id: 'latch-cli', username: 'alice', password: LATCH_IDP_PASSWORD };
    const nonce = (await form(tokenUrl(), params, { dpop: proof(key, 'POST', tokenUrl()) })).headers.get('dpop-nonce');
    const now = Math.floor(Date.now() / 1000);
    const jwk = jwkOf(key);  // with its private `d`
    const good = proof(key, 'POST', tokenUrl(), { nonce });
    const [h, c] = good.split('.');
    const cases = {
      'bad base64': '!!!.@@@.###',
      'wrong typ': proof(key, 'POST', tokenUrl(), { nonce, over: { typ: 'JWT' } }),
      'alg none': `${b64({ typ: 'dpop+jwt', alg: 'none', jwk: JSON.parse(Buffer.from(h, 'base64url')).jwk })}.${c}.`,
      HS256: `${b64({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: 'c2VjcmV0' } })}.${c}.c2ln`,
      'private key in jwk': proof(key, 'POST', tokenUrl(), { nonce, over: { jwk } }),
      'huge header': proof(key, 'POST', tokenUrl(), { nonce, over: { pad: 'x'.repeat(9000) } }),
      'wrong htu': proof(key, 'POST', `${idp.issuer}/oauth2/revoke`, { nonce }),
      'wrong htm': proof(key, 'GET', tokenUrl(), { nonce }),
      'stale iat': proof(key, 'POST', tokenUrl(), { nonce, claims: { iat: now - 3600 } }),
      'future iat': proof(key, 'POST', tokenUrl(), { nonce, claims: { iat: now + 3600 } }),
      'signed by another key': proof(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'POST', tokenUrl(),
        { nonce, over: { jwk: JSON.parse(Buffer.from(h, 'base64url')).jwk } }),
    };
    const jtis = sql(idp, 'SELECT COUNT(*) FROM assertion_jtis');
    const refreshTokens = sql(idp, 'SELECT COUNT(*) FROM refresh_tokens');
    for (const [name, dpop] of Object.entries(cases)) {
      const r = await form(tokenUrl(), params, { dpop });
      assert.equal(r.status, 400, name);
      const body = await r.json();
      assert.equal(body.error, 'invalid_dpop_proof', name);
      assert.match(body.error_description, /^the DPoP proof[^\n]*$/, name);
    }
    assert.equal(sql(idp, 'SELECT COUNT(*) FROM assertion_jtis'), jtis, 'no jti recorded');
    assert.equal(sql(idp, 'SELECT COUNT(*) FROM refresh_tokens'), refreshTokens, 'no token issued');
    // Two DPoP headers are refused too.
    const two = await fetch(tokenUrl(), { method: 'POST', body: new URLSearchParams(params).toString(),
      headers: [['content-type', 'application/x-www-form-urlencoded'], ['dpop', good], ['dpop', good]] });
    assert.equal((await two.json()).error, 'invalid_dpop_proof');
  });

  test('dpop_bound_access_tokens (§5.2): the machine gets no token without a proof', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const { kty, crv, x, y } = jwkOf(key);
    const userToken = (await latch(['token'], { home: userHome })).stdout.trim();
    const reg = await fetch(`${idp.issuer}/oauth2/register`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${userToken}` },
      body: JSON.stringify({ token_endpoint_auth_method: 'private_key_jwt', grant_types: ['client_credentials'],
        dpop_bound_access_tokens: true, jwks: { keys: [{ kty, crv, x, y }] } }),
    });
    assert.equal(reg.status, 201);
    const { client_id: id, dpop_bound_access_tokens: bound } = await reg.json();
    assert.equal(bound, true);
    const now = Math.floor(Date.now() / 1000);
    const assertion = () => es256({ typ: 'JWT', alg: 'ES256' },
      { iss: id, sub: id, aud: tokenUrl(), iat: now, exp: now + 60, jti: randomUUID() }, key);
    const params = () => ({ grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion() });
    const bare = await form(tokenUrl(), params());
    assert.equal(bare.status, 400);
    assert.equal((await bare.json()).error, 'invalid_dpop_proof');
    const first = await form(tokenUrl(), params(), { dpop: proof(key, 'POST', tokenUrl()) });
    const nonce = first.headers.get('dpop-nonce');
    const ok = await form(tokenUrl(), params(), { dpop: proof(key, 'POST', tokenUrl(), { nonce }) });
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).token_type, 'DPoP');
  });

  test('a machine token renewed by `latch refresh` stays DPoP-bound (nonce challenge answered)', async () => {
    const keyOut = join(makeTempDir(), 'renew.pem');
    const add = await latch(['machine', 'add', '--name', 'dpop-renew', '--key-out', keyOut], { home: userHome });
    assert.equal(add.code, 0, add.stderr);
    const id = add.stdout.trim();
    const key = readFileSync(keyOut, 'utf8');
    const home = freshLatchHome();
    const login = await latch(['login', '--machine'], { home, env: silentEnv(id, key) });
    assert.equal(login.code, 0, login.stderr);
    const before = tokenRequests(id).length;
    const refresh = await latch(['refresh'], { home, env: silentEnv(id, key) });
    assert.equal(refresh.code, 0, refresh.stderr);
    const renewal = tokenRequests(id).slice(before);
    const token = await latch(['token'], { home, env: silentEnv(id, key) });
    assert.deepEqual(renewal.map((e) => [e.status, e.error ?? e.token_type]), [[400, 'use_dpop_nonce'], [200, 'DPoP']]);
    assert.deepEqual((await idpIntrospect(idp, token.stdout.trim())).cnf, { jkt: thumbprint(key) });
    const status = await latch(['status'], { home, env: silentEnv(id, key) });
    assert.match(status.stdout, /binding: +DPoP-bound/);
  });
});
