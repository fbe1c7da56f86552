// latch-idp end to end, issue 15's machine journey with the real `latch` (unchanged): a user
// registers a machine (RFC 7591, her access token), a CI runner logs in silently with the key
// (client_credentials + private_key_jwt), latch-idp's introspection says the token is active,
// a replayed client assertion is refused, `latch machine rotate` makes the old key useless,
// `latch machine rm` deletes the client so the key is refused; what the database holds is
// checked with sqlite3 (a public key only, the management token hashed).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cleanupTempDirs, freshLatchHome, idpIntrospect, killAllLatch, latch, makeTempDir, SKIP_WITHOUT_LATCH,
} from './lib.mjs';
import { SKIP_WITHOUT_IDP } from './idp_lib.mjs';
import { LATCH_IDP_PASSWORD, startLatchIdpAsTestIdp } from './latch_idp_test_idp.mjs';

const HAVE_SQLITE = spawnSync('sqlite3', ['--version']).status === 0;
const SKIP = SKIP_WITHOUT_LATCH || SKIP_WITHOUT_IDP || (HAVE_SQLITE ? false : 'needs sqlite3 (scripts/install-deps.sh)');
const userEnv = { LATCH_USERNAME: 'alice', LATCH_PASSWORD: LATCH_IDP_PASSWORD };

function sql(idp, query) {
  const r = spawnSync('sqlite3', ['-readonly', join(idp.data, 'idp.db'), query], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

describe('latch-idp: machines (RFC 7591/7592, private_key_jwt) with latch', { skip: SKIP }, () => {
  let idp;
  let userHome;
  const silentEnv = (id, key) => ({ LATCH_ISSUER: idp.issuer, LATCH_CLIENT_ID: id, LATCH_MACHINE_KEY: key });
  const tokenRequests = (id) => idp.log.filter((e) => e.route === 'token' && e.client_id === id);

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

  test('add -> silent login -> introspects active; replay refused; rotate; rm', async () => {
    const keyOut = join(makeTempDir(), 'ci.pem');
    const add = await latch(['machine', 'add', '--name', 'ci-runner', '--key-out', keyOut], { home: userHome });
    assert.equal(add.code, 0, add.stderr);
    const id = add.stdout.trim();
    assert.match(add.stderr, new RegExp(`Registered machine 'ci-runner' at ${idp.issuer}: machine id ${id} \\(EC P-256 key, private_key_jwt\\)`));
    const key = readFileSync(keyOut, 'utf8');

    // The server's record: alice's machine, a public key only, the management token hashed.
    const row = sql(idp, `SELECT auth_method || '|' || owner || '|' || grant_types || '|' || jwks || '|' || registration_token_hash FROM clients WHERE client_id = '${id}'`).split('|');
    assert.deepEqual(row.slice(0, 3), ['private_key_jwt', 'alice', 'client_credentials']);
    const jwks = JSON.parse(row[3]);
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0].d, undefined, 'no private key at the server');
    const record = JSON.parse(readFileSync(join(userHome, 'machines', `${id}.json`), 'utf8'));
    assert.notEqual(row[4], record.registration_access_token, 'the management token is stored hashed');
    assert.match(record.registration_client_uri, new RegExp(`/oauth2/register/${id}$`));

    const ciHome = freshLatchHome();
    const login = await latch(['login', '--machine'], { home: ciHome, env: silentEnv(id, key) });
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stderr, new RegExp(`Logged in to ${idp.issuer} as ${id} \\(context 'default', machine key\\)`));
    // latch-idp offers DPoP, so latch's first request gets the nonce challenge (400
    // use_dpop_nonce, tests/e2e/idp_dpop.test.mjs) and the retry the token.
    const req = tokenRequests(id).find((e) => e.status === 200);
    assert.equal(req.status, 200);
    assert.equal(req.client_auth, 'assertion');
    assert.equal(req.params.client_secret, undefined);
    const token = await latch(['token'], { home: ciHome, env: silentEnv(id, key) });
    assert.equal(token.code, 0, token.stderr);
    const seen = await idpIntrospect(idp, token.stdout.trim());
    assert.equal(seen.active, true);
    assert.equal(seen.client_id, id);

    // The same assertion again, as an attacker who captured the request would send it.
    const replay = await fetch(`${idp.issuer}/oauth2/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: req.params.client_assertion_type,
        client_assertion: req.params.client_assertion }).toString(),
    });
    assert.equal(replay.status, 401);
    assert.deepEqual(await replay.json(), { error: 'invalid_client', error_description: 'the client assertion was already used' });

    // Rotation: the new key works, the old one is refused.
    const newOut = join(makeTempDir(), 'new.pem');
    const rot = await latch(['machine', 'rotate', 'ci-runner', '--key-out', newOut], { home: userHome });
    assert.equal(rot.code, 0, rot.stderr);
    const withNew = await latch(['login', '--machine'], { home: freshLatchHome(), env: silentEnv(id, readFileSync(newOut, 'utf8')) });
    assert.equal(withNew.code, 0, withNew.stderr);
    const withOld = await latch(['login', '--machine'], { home: freshLatchHome(), env: silentEnv(id, key) });
    assert.notEqual(withOld.code, 0);
    assert.match(withOld.stderr, /invalid_client/);
    assert.equal(tokenRequests(id).at(-1).status, 401);

    // rm: deleted at the IdP; the key is refused from then on.
    const rm = await latch(['machine', 'rm', 'ci-runner'], { home: userHome });
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(sql(idp, `SELECT COUNT(*) FROM clients WHERE client_id = '${id}'`), '0');
    const after = await latch(['login', '--machine'], { home: freshLatchHome(), env: silentEnv(id, readFileSync(newOut, 'utf8')) });
    assert.notEqual(after.code, 0);
    assert.equal(tokenRequests(id).at(-1).status, 401);
  });

  test('registration needs a user token or the initial access token; metadata is checked', async () => {
    const register = (auth, body) => fetch(`${idp.issuer}/oauth2/register`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
      body: JSON.stringify(body),
    });
    const body = { token_endpoint_auth_method: 'private_key_jwt', grant_types: ['client_credentials'],
      jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }] } };
    assert.equal((await register(undefined, body)).status, 401);
    assert.equal((await register('not-a-token', body)).status, 401);
    // A client's own token (client_credentials) registers nothing.
    const cc = await fetch(`${idp.issuer}/oauth2/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('latch-service:service-secret').toString('base64')}` },
      body: 'grant_type=client_credentials',
    });
    const ccToken = (await cc.json()).access_token;
    assert.equal((await register(ccToken, body)).status, 401);
    const userToken = (await latch(['token'], { home: userHome })).stdout.trim();
    const secretClient = await register(userToken, { ...body, token_endpoint_auth_method: 'client_secret_basic' });
    assert.equal(secretClient.status, 400);
    assert.equal((await secretClient.json()).error, 'invalid_client_metadata');
    const withPrivate = await register(userToken, { ...body, jwks: { keys: [{ ...body.jwks.keys[0], d: 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI' }] } });
    assert.equal(withPrivate.status, 400);
    const ok = await register(userToken, body);
    assert.equal(ok.status, 201);
    const reg = await ok.json();
    assert.equal(reg.token_endpoint_auth_method, 'private_key_jwt');
    assert.ok(reg.registration_access_token);
    // RFC 7592: a wrong management token and an unknown client get the same 401.
    const read = (uri, tok) => fetch(uri, { headers: { authorization: `Bearer ${tok}` } });
    assert.equal((await read(reg.registration_client_uri, reg.registration_access_token)).status, 200);
    assert.equal((await read(reg.registration_client_uri, 'wrong')).status, 401);
    assert.equal((await read(`${idp.issuer}/oauth2/register/nope`, reg.registration_access_token)).status, 401);
  });
});
