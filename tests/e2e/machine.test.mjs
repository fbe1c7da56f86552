// Acceptance tests for machine identities (`latch machine add|list|rm|rotate`) and silent
// login (`latch login --machine`, `latch token` in a machine context) against the test
// IdP: Dynamic Client Registration (RFC 7591/7592) and private_key_jwt (RFC 7523).
// Needs LATCH_BIN.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  SKIP_WITHOUT_LATCH, cleanupTempDirs, fileMode, freshLatchHome, idpIntrospect, killAllLatch,
  latch, makeTempDir, readJson, startIdp,
} from './lib.mjs';
import { INITIAL_ACCESS_TOKEN } from '../idp/idp.mjs';

const TEST_TIMEOUT = 60_000;
const userEnv = { LATCH_USERNAME: 'alice', LATCH_PASSWORD: 'correct horse' };
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

function decodeJwt(jwt) {
  const [header, payload] = jwt.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8')));
  return { header, payload };
}

function ecKeyPem() {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
    .export({ type: 'pkcs8', format: 'pem' });
}

describe('machine identity and silent login', { skip: SKIP_WITHOUT_LATCH }, () => {
  let idp;
  let userHome;  // alice logged in (password grant): her access token registers machines
  const tokenUrl = () => `${idp.issuer}/token`;
  const tokenRequests = (id) => idp.log.filter((e) => e.route === 'token' && e.client_id === id);
  const silentEnv = (id, key) => ({ LATCH_ISSUER: idp.issuer, LATCH_CLIENT_ID: id, LATCH_MACHINE_KEY: key });

  async function addMachine(name, extra = [], options = {}) {
    const keyOut = join(makeTempDir(), `${name}.pem`);
    const r = await latch(['machine', 'add', '--name', name, '--key-out', keyOut, ...extra],
      { home: userHome, ...options });
    assert.equal(r.code, 0, `machine add failed:\n${r.stderr}`);
    const id = r.stdout.trim();
    assert.match(id, /^\S+$/);
    return { id, keyOut, key: readFileSync(keyOut, 'utf8'), add: r };
  }

  before(async () => {
    idp = await startIdp();
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

  test('add -> silent login on another home: token active, the IdP saw a client assertion and no secret', { timeout: TEST_TIMEOUT }, async () => {
    const { id, keyOut, key, add } = await addMachine('ci-runner');
    assert.match(add.stderr, new RegExp(`Registered machine 'ci-runner' at ${idp.issuer}: machine id ${id} \\(EC P-256 key, private_key_jwt\\)`));
    assert.match(add.stderr, /Key copy for transfer: .* store it as a CI secret \(LATCH_MACHINE_KEY\)/);
    assert.match(add.stderr, /Silent login: LATCH_ISSUER=\S+ LATCH_CLIENT_ID=\S+ LATCH_MACHINE_KEY=/);
    assert.ok(!add.stderr.includes('PRIVATE KEY'), 'the private key was printed');
    // Key and registration at 0600 in a 0700 directory; the key copy 0600 too.
    const dir = join(userHome, 'machines');
    assert.equal(fileMode(dir), 0o700);
    assert.equal(fileMode(join(dir, `${id}.pem`)), 0o600);
    assert.equal(fileMode(join(dir, `${id}.json`)), 0o600);
    assert.equal(fileMode(keyOut), 0o600);
    assert.equal(readFileSync(join(dir, `${id}.pem`), 'utf8'), key);
    const record = readJson(join(dir, `${id}.json`));
    assert.equal(record.machine_id, id);
    assert.equal(record.issuer, idp.issuer);
    assert.match(record.registration_client_uri, new RegExp(`/reg/${id}$`));
    assert.ok(record.registration_access_token);

    // The IdP's view of the registration: alice's token, private_key_jwt, only a public key.
    const reg = idp.log.find((e) => e.route === 'registration' && e.status === 201 && e.params.client_name === 'ci-runner');
    assert.equal(reg.registration_auth, 'user_access_token:alice');
    assert.equal(reg.params.token_endpoint_auth_method, 'private_key_jwt');
    assert.deepEqual(reg.params.grant_types, ['client_credentials']);
    assert.equal(reg.params.jwks.keys.length, 1);
    assert.equal(reg.params.jwks.keys[0].d, undefined);
    assert.equal(reg.params.client_secret, undefined);

    // The CI runner: a fresh home, the key only in LATCH_MACHINE_KEY.
    const ciHome = freshLatchHome();
    const login = await latch(['login', '--machine'], { home: ciHome, env: silentEnv(id, key) });
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stderr, new RegExp(`Logged in to ${idp.issuer} as ${id} \\(context 'default', machine key\\)`));
    const [req] = tokenRequests(id);
    assert.equal(req.status, 200);
    assert.equal(req.grant_type, 'client_credentials');
    assert.equal(req.client_auth, 'assertion');
    assert.equal(req.params.client_assertion_type, JWT_BEARER);
    assert.equal(req.params.client_secret, undefined);
    const { header, payload } = decodeJwt(req.params.client_assertion);
    assert.equal(header.alg, 'ES256');
    assert.equal(header.kid, reg.params.jwks.keys[0].kid);
    assert.equal(payload.iss, id);
    assert.equal(payload.sub, id);
    assert.equal(payload.aud, tokenUrl());
    assert.ok(payload.exp - payload.iat <= 60, 'a short-lived assertion');

    const creds = readJson(join(ciHome, 'credentials', 'default.json'));
    assert.equal(creds.login_method, 'machine');
    assert.equal(readJson(join(ciHome, 'config.json')).contexts.default.machine, 'true');
    const token = await latch(['token'], { home: ciHome, env: silentEnv(id, key) });
    assert.equal(token.code, 0, token.stderr);
    const seen = await idpIntrospect(idp, token.stdout.trim());
    assert.equal(seen.active, true);
    assert.equal(seen.clientId, id);
    const status = await latch(['status'], { home: ciHome });
    assert.match(status.stdout, /login: {4}machine key \(client credentials, private_key_jwt\)/);

    // Near expiry `latch token` signs a new assertion instead of refreshing.
    const path = join(ciHome, 'credentials', 'default.json');
    writeFileSync(path, JSON.stringify({ ...creds, tokens: { ...creds.tokens, expires_at: '2020-01-01T00:00:00Z' } }));
    const again = await latch(['token'], { home: ciHome, env: { LATCH_MACHINE_KEY: key } });
    assert.equal(again.code, 0, again.stderr);
    assert.notEqual(again.stdout.trim(), token.stdout.trim());
    assert.equal((await idpIntrospect(idp, again.stdout.trim())).active, true);
    assert.equal(tokenRequests(id).length, 2);
    assert.equal(tokenRequests(id)[1].client_auth, 'assertion');
  });

  test('our jti never repeats; a replayed assertion is refused by the IdP', { timeout: TEST_TIMEOUT }, async () => {
    const { id, key } = await addMachine('jti-check');
    const ciHome = freshLatchHome();
    for (let i = 0; i < 6; i += 1) {
      const r = await latch(['login', '--machine'], { home: ciHome, env: silentEnv(id, key) });
      assert.equal(r.code, 0, r.stderr);
    }
    const jtis = tokenRequests(id).map((e) => decodeJwt(e.params.client_assertion).payload.jti);
    assert.equal(jtis.length, 6);
    assert.equal(new Set(jtis).size, 6, `a jti repeated: ${jtis}`);

    // Replay the last assertion ourselves: the IdP must refuse it.
    const captured = tokenRequests(id).at(-1).params.client_assertion;
    const res = await fetch(tokenUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials', client_id: id,
        client_assertion_type: JWT_BEARER, client_assertion: captured,
      }),
    });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error, 'invalid_client');
  });

  test('registration token from the environment or a file; none: not logged in; a bad one: refused', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const none = await latch(['machine', 'add', '--issuer', idp.issuer], { home });
    assert.equal(none.code, 77, none.stderr);
    assert.match(none.stderr, /^latch: not logged in \(context 'default'\); `latch machine add` registers the machine with your access token: run `latch login` first, or give an initial access token in LATCH_REGISTRATION_TOKEN or --registration-token-file FILE\n$/);

    const viaEnv = await latch(['machine', 'add', '--issuer', idp.issuer, '--name', 'from-env'],
      { home, env: { LATCH_REGISTRATION_TOKEN: INITIAL_ACCESS_TOKEN } });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const tokenFile = join(makeTempDir(), 'iat');
    writeFileSync(tokenFile, `${INITIAL_ACCESS_TOKEN}\n`, { mode: 0o600 });
    const viaFile = await latch(['machine', 'add', '--issuer', idp.issuer, '--name', 'from-file',
      '--registration-token-file', tokenFile], { home });
    assert.equal(viaFile.code, 0, viaFile.stderr);
    const regs = idp.log.filter((e) => e.route === 'registration' && ['from-env', 'from-file'].includes(e.params.client_name));
    assert.deepEqual(regs.map((e) => [e.status, e.registration_auth]),
      [[201, 'initial_access_token'], [201, 'initial_access_token']]);

    const bad = await latch(['machine', 'add', '--issuer', idp.issuer],
      { home, env: { LATCH_REGISTRATION_TOKEN: 'not-the-token' } });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^latch: registration refused: the identity provider refused the registration request \(HTTP 401, .*\).*initial access token from the IdP's admin goes in LATCH_REGISTRATION_TOKEN/);
    assert.ok(!bad.stderr.includes('not-the-token'), 'the token was printed');

    const list = await latch(['machine', 'list', '--remote'], { home });
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trim().split('\n').map((l) => l.split('\t'));
    assert.deepEqual(lines.map((l) => [l[1], l[2], l[3], l[5]]),
      [['from-env', idp.issuer, 'ec-p256', 'registered'], ['from-file', idp.issuer, 'ec-p256', 'registered']]);
  });

  test('rotate: the new key works, the old one does not', { timeout: TEST_TIMEOUT }, async () => {
    const { id, key: oldKey } = await addMachine('rotating', ['--key-type', 'rsa-2048']);
    const newOut = join(makeTempDir(), 'new.pem');
    const rot = await latch(['machine', 'rotate', 'rotating', '--key-out', newOut], { home: userHome });
    assert.equal(rot.code, 0, rot.stderr);
    assert.match(rot.stderr, new RegExp(`Rotated the key of machine 'rotating' \\(${id}\\): the identity provider accepted the new RSA key; the old key no longer works and was removed`));
    const newKey = readFileSync(newOut, 'utf8');
    const local = join(userHome, 'machines', `${id}.pem`);
    assert.equal(readFileSync(local, 'utf8'), newKey);
    assert.equal(fileMode(local), 0o600);
    assert.deepEqual(readdirSync(join(userHome, 'machines')).filter((f) => f.startsWith(id)).sort(),
      [`${id}.json`, `${id}.pem`]);
    const put = idp.log.find((e) => e.route === 'registration_management' && e.method === 'PUT' && e.path.endsWith(id));
    assert.equal(put.status, 200);

    const withNew = await latch(['login', '--machine'], { home: freshLatchHome(), env: silentEnv(id, newKey) });
    assert.equal(withNew.code, 0, withNew.stderr);
    // The stored key (no LATCH_MACHINE_KEY) is the new one too.
    const withLocal = await latch(['--context', 'robot', 'login', '--machine', '--issuer', idp.issuer, `--client-id=${id}`], { home: userHome });
    assert.equal(withLocal.code, 0, withLocal.stderr);
    const withOld = await latch(['--context', 'robot', 'login', '--machine'], { home: userHome, env: { LATCH_MACHINE_KEY: oldKey } });
    assert.equal(withOld.code, 1, withOld.stderr);
    assert.match(withOld.stderr, new RegExp(`latch: the identity provider refused the key in LATCH_MACHINE_KEY for machine ${id} \\(invalid_client\\): it is not the machine's registered key`));
    assert.equal(tokenRequests(id).at(-1).status, 401);
  });

  test('rm deletes at the IdP, then locally; silent login then says "machine not registered"', { timeout: TEST_TIMEOUT }, async () => {
    const { id, key } = await addMachine('doomed');
    const rm = await latch(['machine', 'rm', '--', id], { home: userHome });  // ids may start with '-'
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stderr, new RegExp(`Removed machine 'doomed' \\(${id}\\): deleted it at ${idp.issuer}`));
    const del = idp.log.find((e) => e.route === 'registration_management' && e.method === 'DELETE' && e.path.endsWith(id));
    assert.equal(del.status, 204);
    assert.ok(!existsSync(join(userHome, 'machines', `${id}.pem`)));
    assert.ok(!existsSync(join(userHome, 'machines', `${id}.json`)));

    const started = Date.now();
    const login = await latch(['login', '--machine'], { home: freshLatchHome(), env: silentEnv(id, key) });
    assert.equal(login.code, 1);
    assert.match(login.stderr, new RegExp(`^latch: machine not registered: the identity provider at ${idp.issuer} refused machine ${id} \\(invalid_client\\)`));
    assert.ok(Date.now() - started < 10_000);
  });

  test('a failed remote delete keeps the local key and says so', { timeout: TEST_TIMEOUT }, async () => {
    const { id } = await addMachine('stubborn');
    const recordPath = join(userHome, 'machines', `${id}.json`);
    writeFileSync(recordPath, JSON.stringify({ ...readJson(recordPath), registration_access_token: 'revoked' }), { mode: 0o600 });
    const rm = await latch(['machine', 'rm', 'stubborn'], { home: userHome });
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, new RegExp(`machine ${id} was not deleted at ${idp.issuer}: .*HTTP 401.*; the local key \\S+${id}.pem was kept`));
    assert.ok(existsSync(join(userHome, 'machines', `${id}.pem`)));
    const local = await latch(['machine', 'rm', '--local-only', '--', id], { home: userHome });
    assert.equal(local.code, 0, local.stderr);
    assert.ok(!existsSync(join(userHome, 'machines', `${id}.pem`)));
  });

  test('key files: mode 0644 refused, corrupt PEM and missing file explained, nothing sent', { timeout: TEST_TIMEOUT }, async () => {
    const { id, key } = await addMachine('strict');
    const dir = makeTempDir();
    const env = { LATCH_ISSUER: idp.issuer, LATCH_CLIENT_ID: id };
    const loose = join(dir, 'loose.pem');
    writeFileSync(loose, key);
    chmodSync(loose, 0o644);
    const before = tokenRequests(id).length;
    const r1 = await latch(['login', '--machine', '--key-file', loose], { home: freshLatchHome(), env });
    assert.equal(r1.code, 1);
    assert.equal(r1.stderr, `latch: the machine key file ${loose} has mode 0644: other users can read or change it; run \`chmod 600 ${loose}\` (latch refuses keys with looser modes)\n`);

    const corrupt = join(dir, 'corrupt.pem');
    writeFileSync(corrupt, 'this is not a key\n', { mode: 0o600 });
    const r2 = await latch(['login', '--machine', '--key-file', corrupt], { home: freshLatchHome(), env });
    assert.equal(r2.code, 1);
    assert.equal(r2.stderr, `latch: the machine key file ${corrupt} is not a usable private key: private key is not PEM (no '-----BEGIN' line)\n`);

    const truncated = key.slice(0, 80);
    const r3 = await latch(['login', '--machine'], { home: freshLatchHome(), env: { ...env, LATCH_MACHINE_KEY: truncated } });
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /^latch: the key in LATCH_MACHINE_KEY is not a usable private key: /);

    const missing = join(dir, 'absent.pem');
    const r4 = await latch(['login', '--machine', '--key-file', missing], { home: freshLatchHome(), env });
    assert.equal(r4.stderr, `latch: the machine key file ${missing} does not exist\n`);
    const r5 = await latch(['login', '--machine'], { home: freshLatchHome(), env });
    assert.match(r5.stderr, new RegExp(`^latch: no key for machine ${id} here: pass --key-file FILE, or set LATCH_MACHINE_KEY`));
    assert.equal(tokenRequests(id).length, before, 'a token request was sent with a refused key');
  });

  test('registration refused: the IdP\'s reason is shown', { timeout: TEST_TIMEOUT }, async () => {
    // An IdP that does not allow private_key_jwt refuses the metadata with its reason.
    const strict = await startIdp({ config: { clientAuthMethods: ['client_secret_basic', 'none'] } });
    try {
      const r = await latch(['machine', 'add', '--issuer', strict.issuer],
        { home: freshLatchHome(), env: { LATCH_REGISTRATION_TOKEN: INITIAL_ACCESS_TOKEN } });
      assert.equal(r.code, 1);
      const reg = strict.log.find((e) => e.route === 'registration');
      assert.equal(reg.error, 'invalid_client_metadata');
      assert.equal(r.stderr, `latch: registration refused: the identity provider refused the registration request (HTTP 400, invalid_client_metadata): "${reg.error_description}"\n`);
    } finally {
      await strict.close();
    }
  });

  test('clock skew: an invalid_client from an IdP whose Date is 10 minutes ahead says so', { timeout: TEST_TIMEOUT }, async () => {
    // The real clock cannot be moved in a test: a minimal peer answers as an IdP would to
    // an assertion from a machine whose clock is 10 minutes behind.
    const seen = [];
    const peer = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        seen.push({ path: req.url, body: Buffer.concat(chunks).toString('utf8') });
        const { port } = peer.address();
        res.setHeader('date', new Date(Date.now() + 600_000).toUTCString());
        res.setHeader('content-type', 'application/json');
        if (req.url === '/.well-known/openid-configuration') {
          res.end(JSON.stringify({ issuer: `http://127.0.0.1:${port}`, token_endpoint: `http://127.0.0.1:${port}/token` }));
        } else {
          res.statusCode = 401;
          res.end(JSON.stringify({ error: 'invalid_client', error_description: 'client authentication failed' }));
        }
      });
    });
    await new Promise((resolve) => peer.listen(0, '127.0.0.1', resolve));
    try {
      const issuer = `http://127.0.0.1:${peer.address().port}`;
      const r = await latch(['login', '--machine'], { home: freshLatchHome(),
        env: { LATCH_ISSUER: issuer, LATCH_CLIENT_ID: 'skewed', LATCH_MACHINE_KEY: ecKeyPem() } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^latch: clock skew too large: this machine's clock is (9m 5\ds|10m \ds) behind the identity provider's \(by its Date header\), so the signed assertion looks expired or not yet valid \(invalid_client\); set the clock right \(NTP\) and try again: "client authentication failed"\n$/);
      assert.ok(seen.some((e) => e.path === '/token' && e.body.includes('client_assertion=')));
    } finally {
      await new Promise((resolve) => peer.close(resolve));
    }
  });

  test('IdP down: a server that never answers times out within the bound; a closed port fails fast', { timeout: TEST_TIMEOUT }, async () => {
    const sockets = new Set();
    const silent = net.createServer((s) => { sockets.add(s); s.on('error', () => {}); });
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const issuer = `http://127.0.0.1:${silent.address().port}`;
      const env = { LATCH_ISSUER: issuer, LATCH_CLIENT_ID: 'some-machine', LATCH_MACHINE_KEY: ecKeyPem() };
      const started = Date.now();
      const r = await latch(['login', '--machine', '--timeout', '2'], { home: freshLatchHome(), env });
      const took = Date.now() - started;
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, `latch: silent login timed out after 2 s: the identity provider at ${issuer} did not answer; check that it is up and reachable from here (--timeout SECONDS changes the bound)\n`);
      assert.ok(took >= 1900 && took < 6000, `took ${took} ms`);
      assert.ok(sockets.size >= 1, 'latch never connected');

      const closed = net.createServer();
      await new Promise((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = closed.address().port;
      await new Promise((resolve) => closed.close(resolve));
      const t0 = Date.now();
      const r2 = await latch(['login', '--machine'], { home: freshLatchHome(), env: { ...env, LATCH_ISSUER: `http://127.0.0.1:${port}` } });
      assert.equal(r2.code, 1);
      assert.match(r2.stderr, /^latch: cannot reach the identity provider: /);
      assert.ok(Date.now() - t0 < 10_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
