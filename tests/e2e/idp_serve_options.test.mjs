// latch-idp end to end: what `serve` can be told. TLS (`--tls-cert/--tls-key`: https issuer,
// Secure cookies, `latch login` trusting the test's own CA; plain HTTP to the TLS port fails
// cleanly), RS256 signing keys (`keys rotate --alg RS256`, `--signing-alg`), a config file
// (`--config`, flags override it), and SIGTERM draining requests in flight.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { cleanupTempDirs, freshLatchHome, killAllLatch, latch, makeTempDir, readJson, SKIP_WITHOUT_LATCH } from './lib.mjs';
import { httpsRequest, IDP_BIN, idpAdmin, selfSigned, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';

const skip = SKIP_WITHOUT_LATCH || SKIP_WITHOUT_IDP;
const PASSWORD = 'correct horse battery staple';
const b64json = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));

function admin(args, env) {
  const r = idpAdmin(args, { env });
  assert.equal(r.code, 0, r.stderr);
  return r;
}

// Sends plain HTTP to `port` and resolves with what came back before the server closed.
function plainHttp(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.setTimeout(10_000, () => { s.destroy(); reject(new Error('the TLS port neither answered nor closed')); });
    s.on('data', (d) => { got += d.toString('latin1'); });
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
    s.write('GET /.well-known/openid-configuration HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  });
}

function verifyJwt(jwt, jwks) {
  const [h, p, s] = jwt.split('.');
  const header = b64json(h);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `kid ${header.kid} is not in the JWKS`);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const opts = header.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key;
  assert.ok(verify('sha256', Buffer.from(`${h}.${p}`), opts, Buffer.from(s, 'base64url')), 'the signature does not verify');
  return { header, claims: b64json(p) };
}

describe('latch-idp: serve options', { skip }, () => {
  after(async () => {
    await killAllLatch();
    cleanupTempDirs();
  });

  test('TLS: https issuer, Secure cookies, latch logs in trusting our CA; plain HTTP to the port fails cleanly', { timeout: 90_000 }, async () => {
    const dir = makeTempDir('latch-idp-tls-');
    const { cert, key } = selfSigned(dir);
    const data = join(dir, 'data');
    const secretFile = join(dir, 'svc.secret');
    writeFileSync(secretFile, 'service-secret-0123456789\n', { mode: 0o600 });
    admin(['client', 'add', 'svc', '--confidential', '--data', data, '--secret-file', secretFile, '--scope', 'api']);
    admin(['user', 'add', 'alice@example.com', '--data', data], { LATCH_IDP_PASSWORD: PASSWORD });
    const idp = await startLatchIdp({ data, extraArgs: ['--tls-cert', cert, '--tls-key', key] });
    try {
      assert.match(idp.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = readFileSync(cert);
      const doc = JSON.parse((await httpsRequest(`${idp.url}/.well-known/openid-configuration`, { ca })).body);
      assert.equal(doc.issuer, idp.url);
      assert.equal(doc.token_endpoint, `${idp.url}/oauth2/token`);

      const port = Number(new URL(idp.url).port);
      const answer = await plainHttp(port);
      assert.doesNotMatch(answer, /openid-configuration|"issuer"/, 'nothing is served over plain HTTP');
      const untrusted = await fetch(`${idp.url}/.well-known/jwks.json`).then(() => 'answered', (e) => String(e.cause?.code ?? e));
      assert.notEqual(untrusted, 'answered', 'a client not trusting the CA is refused');

      const home = freshLatchHome();
      const login = await latch(['login', '--client-credentials', '--issuer', idp.url, '--client-id', 'svc',
        '--client-secret-file', secretFile, '--ca-file', cert], { home });
      assert.equal(login.code, 0, `${login.stderr}\nserver:\n${idp.stderr()}`);
      const creds = readJson(join(home, 'credentials', 'default.json'));
      assert.equal(creds.login_method, 'client_credentials');
      assert.ok(creds.tokens.access_token);

      const signIn = await httpsRequest(`${idp.url}/api/auth/sign-in/email`, {
        ca, method: 'POST', headers: { 'content-type': 'application/json', origin: idp.url },
        body: JSON.stringify({ email: 'alice@example.com', password: PASSWORD }),
      });
      assert.equal(signIn.status, 200, signIn.body);
      const session = signIn.headers['set-cookie'].find((c) => c.startsWith('__Secure-better-auth.session_token='));
      assert.ok(session, signIn.headers['set-cookie'].join('\n'));
      assert.match(session, /; Secure/);
      const form = await httpsRequest(`${idp.url}/device`, { ca });
      assert.match(form.headers['set-cookie'][0], /^__Secure-latch_idp_csrf=.*; Secure/);
      assert.equal(idp.child.exitCode, null, 'the server is still running');
    } finally {
      const r = await idp.stop();
      assert.equal(r.code, 0, idp.stderr());
    }
  });

  test('RS256: keys rotate --alg RS256 publishes an RSA key and signs with it; latch verifies the ID token', { timeout: 90_000 }, async () => {
    const dir = makeTempDir('latch-idp-rs-');
    const data = join(dir, 'data');
    admin(['client', 'add', 'pw', '--public', '--data', data, '--grant', 'password', '--scope', 'openid profile']);
    admin(['user', 'add', 'alice', '--data', data], { LATCH_IDP_PASSWORD: PASSWORD });
    const first = await startLatchIdp({ data });
    const es = await (await fetch(`${first.url}/.well-known/jwks.json`)).json();
    await first.stop();
    assert.equal(es.keys[0].kty, 'EC', 'ES256 stays the default');
    const rotated = admin(['keys', 'rotate', '--alg', 'RS256', '--data', data]);
    const kid = rotated.stdout.trim();

    const idp = await startLatchIdp({ data });
    try {
      const jwks = await (await fetch(`${idp.url}/.well-known/jwks.json`)).json();
      const rsa = jwks.keys.find((k) => k.kid === kid);
      assert.deepEqual([rsa.kty, rsa.alg, rsa.use, typeof rsa.n, rsa.e], ['RSA', 'RS256', 'sig', 'string', 'AQAB']);
      assert.equal(rsa.d, undefined, 'no private parts');
      assert.ok(jwks.keys.some((k) => k.kid === es.keys[0].kid), 'the old ES256 key stays published');
      const doc = await (await fetch(`${idp.url}/.well-known/openid-configuration`)).json();
      assert.deepEqual(doc.id_token_signing_alg_values_supported, ['RS256', 'ES256']);

      const home = freshLatchHome();
      const login = await latch(['login', '--password', '--issuer', idp.url, '--client-id', 'pw', '--scope', 'openid', '--scope', 'profile'],
        { home, env: { LATCH_USERNAME: 'alice', LATCH_PASSWORD: PASSWORD } });
      assert.equal(login.code, 0, `${login.stderr}\nserver:\n${idp.stderr()}`);
      const creds = readJson(join(home, 'credentials', 'default.json'));
      const id = verifyJwt(creds.tokens.id_token, jwks);
      assert.equal(id.header.alg, 'RS256');
      assert.equal(id.header.kid, kid);
      assert.equal(id.claims.aud, 'pw');
      assert.equal(verifyJwt(creds.tokens.access_token, jwks).header.alg, 'RS256', 'access tokens too');
    } finally {
      await idp.stop();
    }
    // --signing-alg ES256 signs with the older EC key again (published first in discovery).
    const back = await startLatchIdp({ data, extraArgs: ['--signing-alg', 'ES256'] });
    try {
      const doc = await (await fetch(`${back.url}/.well-known/openid-configuration`)).json();
      assert.deepEqual(doc.id_token_signing_alg_values_supported, ['ES256', 'RS256']);
    } finally {
      await back.stop();
    }
  });

  test('--config: the file sets listen, issuer and the access-token lifetime; a flag overrides it', { timeout: 60_000 }, async () => {
    const dir = makeTempDir('latch-idp-conf-');
    const data = join(dir, 'data');
    const secretFile = join(dir, 'svc.secret');
    writeFileSync(secretFile, 'service-secret-0123456789\n', { mode: 0o600 });
    admin(['client', 'add', 'svc', '--confidential', '--data', data, '--secret-file', secretFile, '--scope', 'api']);
    const free = await new Promise((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); }); });
    const config = join(dir, 'idp.toml');
    writeFileSync(config, [
      `data = "${data}"`, `listen = "127.0.0.1:${free}"`, `issuer = "http://127.0.0.1:${free}/"`,
      'access-token-ttl = 120', 'device-interval = 7', '',
    ].join('\n'));
    const token = async (url) => {
      const r = await fetch(`${url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from('svc:service-secret-0123456789').toString('base64')}` },
        body: 'grant_type=client_credentials',
      });
      assert.equal(r.status, 200);
      return r.json();
    };
    // startLatchIdp adds --data and --listen 127.0.0.1:0 itself, which override the file's:
    // spawn with the file alone first.
    const child = spawn(IDP_BIN, ['serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const url = await new Promise((resolve, reject) => {
        let out = '';
        let err = '';
        const timer = setTimeout(() => reject(new Error(`no URL:\n${err}`)), 15_000);
        child.stderr.on('data', (d) => { err += d; });
        child.stdout.on('data', (d) => { out += d; if (out.includes('\n')) { clearTimeout(timer); resolve(out.trim()); } });
        exited.then((code) => { clearTimeout(timer); reject(new Error(`exited ${code}:\n${err}`)); });
      });
      assert.equal(url, `http://127.0.0.1:${free}`, 'listen from the file');
      const doc = await (await fetch(`${url}/.well-known/openid-configuration`)).json();
      assert.equal(doc.issuer, `http://127.0.0.1:${free}`, 'issuer from the file (trailing slash dropped)');
      const t = await token(url);
      assert.equal(t.expires_in, 120);
      assert.equal(b64json(t.access_token.split('.')[1]).exp - b64json(t.access_token.split('.')[1]).iat, 120);
    } finally {
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
    // A flag beats the file.
    const idp = await startLatchIdp({ data, extraArgs: ['--config', config, '--access-token-ttl', '300'] });
    try {
      assert.notEqual(idp.url, `http://127.0.0.1:${free}`, '--listen on the command line beats the file');
      assert.equal((await token(idp.url)).expires_in, 300);
    } finally {
      await idp.stop();
    }
    const bad = join(dir, 'bad.toml');
    writeFileSync(bad, `data = "${data}"\nno-such-option = 1\n`);
    const r = idpAdmin(['serve', '--config', bad]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no-such-option/);
  });

  test('SIGTERM drains: sign-ups being hashed when the signal arrives still get their answers; exit 0', { timeout: 60_000 }, async () => {
    const idp = await startLatchIdp();
    const n = 12;
    const pending = Array.from({ length: n }, (_, i) => fetch(`${idp.url}/api/auth/sign-up/email`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `user${i}@example.com`, password: PASSWORD, name: `User ${i}` }),
    }).then(async (r) => ({ status: r.status, body: await r.json() }), (e) => ({ error: String(e) })));
    // The first answer means every request has been sent; argon2id (19 MiB, ~30 ms CPU each)
    // keeps most of the others in flight on this machine's cores.
    await Promise.race(pending);
    idp.child.kill('SIGTERM');
    const results = await Promise.all(pending);
    const r = await idp.stop();
    assert.equal(r.code, 0, idp.stderr());
    assert.match(idp.stderr(), /draining \(\d+ connections open\)/);
    for (const res of results) {
      assert.equal(res.error, undefined, res.error);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(res.body.user?.email);
    }
    const open = Number(/draining \((\d+) connections open\)/.exec(idp.stderr())[1]);
    assert.ok(open > 0, 'some requests were still in flight when SIGTERM arrived');
  });
});
