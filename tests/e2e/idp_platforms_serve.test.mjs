// latch-idp platforms served by one process, the serving side: a platform reached by its
// Host header (any case and port; not under /p/), rate limiters per platform, and platforms
// added and removed while serving (SIGHUP), and platforms over TLS. The isolation of tokens, codes, cookies and
// users is idp_platforms.test.mjs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTempDirs, freshLatchHome, latch, makeTempDir, readJson, SKIP_WITHOUT_LATCH } from './lib.mjs';
import { httpsRequest, idpAdmin, rawGet, selfSigned, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';
import { clearOfWindowEdge } from './idp_attacks_lib.mjs';

function admin(args, env) {
  const r = idpAdmin(args, { env });
  assert.equal(r.code, 0, r.stderr);
  return r;
}

describe('latch-idp: a platform by host name; platforms added and removed at SIGHUP', { skip: SKIP_WITHOUT_IDP }, () => {
  let idp;
  let data;
  before(async () => {
    data = join(makeTempDir('latch-idp-platforms-'), 'data');
    admin(['platform', 'add', 'c', '--data', data, '--host', 'Auth.C.Example']);
    admin(['platform', 'add', 'd', '--data', data]);
    admin(['platform', 'add', 'f', '--data', data]);
    const dup = idpAdmin(['platform', 'add', 'x', '--data', data, '--host', 'auth.c.example:8443']);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /platform 'c' already has the host auth\.c\.example/);
    idp = await startLatchIdp({ data, extraArgs: ['--sign-in-limit', '3'] });
  });
  after(async () => {
    if (idp) await idp.stop();
    cleanupTempDirs();
  });
  const discovery = async (path, host) => {
    const r = await rawGet(idp.url, path, host ? { host } : {});
    return r.status === 200 ? JSON.parse(r.body) : r.status;
  };

  test('the Host header picks the platform (any case and port); its paths are its own, not under /p/', async () => {
    const port = new URL(idp.url).port;
    const c = await discovery('/.well-known/openid-configuration', `auth.c.example:${port}`);
    assert.equal(c.issuer, `http://auth.c.example:${port}`);
    assert.equal(c.token_endpoint, `http://auth.c.example:${port}/oauth2/token`);
    assert.equal((await discovery('/.well-known/openid-configuration', 'AUTH.C.EXAMPLE')).issuer, c.issuer);
    assert.equal(await discovery('/p/c/.well-known/openid-configuration'), 404, 'a host platform is not under /p/');
    assert.equal(await discovery('/.well-known/openid-configuration', 'auth.d.example'), 404);
    assert.equal(await discovery('/.well-known/openid-configuration', 'evil.auth.c.example'), 404);
    const d = await discovery('/p/d/.well-known/openid-configuration');
    assert.equal(d.issuer, `${idp.url}/p/d`);
    const jwks = async (path, host) => JSON.parse((await rawGet(idp.url, path, host ? { host } : {})).body).keys.map((k) => k.kid);
    const kc = await jwks('/.well-known/jwks.json', 'auth.c.example');
    const kd = await jwks('/p/d/.well-known/jwks.json');
    assert.deepEqual(kc.filter((k) => kd.includes(k)), []);
  });

  test('rate limits are per platform: d\'s sign-in limit spent, f still answers', async () => {
    const signIn = (p) => fetch(`${idp.url}/p/${p}/api/auth/sign-in/email`, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: idp.url },
      body: JSON.stringify({ email: 'nobody@example.com', password: 'wrong password' }),
    }).then((r) => r.status);
    // The limits count in fixed one-minute windows: keep the burst inside one.
    await clearOfWindowEdge(10);
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push(await signIn('d'));
    assert.deepEqual(statuses, [401, 401, 401, 429]);
    assert.equal(await signIn('f'), 401, 'f has its own limiter');
  });

  test('SIGHUP: a platform added while serving is served, one removed is not', { timeout: 60_000 }, async () => {
    const path = (p) => `/p/${p}/.well-known/openid-configuration`;
    assert.equal(await discovery(path('e')), 404);
    admin(['platform', 'add', 'e', '--data', data]);
    admin(['platform', 'rm', 'd', '--data', data, '--yes']);
    assert.equal(await discovery(path('e')), 404, 'not before the signal');
    idp.child.kill('SIGHUP');
    const deadline = Date.now() + 15_000;
    while ((await discovery(path('e'))) === 404 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await discovery(path('e'))).issuer, `${idp.url}/p/e`);
    assert.equal(await discovery(path('d')), 404);
    assert.match(idp.stderr(), /platform d: removed, no longer served/);
    assert.equal(idp.child.exitCode, null, 'still running');
  });
});

describe('latch-idp: platforms over TLS', { skip: SKIP_WITHOUT_IDP || SKIP_WITHOUT_LATCH }, () => {
  const PASSWORD = 'correct horse battery staple';
  test('https issuers by prefix and by host; __Secure- cookies with the platform\'s name and Path; latch logs in', { timeout: 90_000 }, async () => {
    const dir = makeTempDir('latch-idp-platforms-tls-');
    const { cert, key } = selfSigned(dir, ['auth.h.example']);
    const ca = readFileSync(cert);
    const data = join(dir, 'data');
    const secretFile = join(dir, 'svc.secret');
    writeFileSync(secretFile, 'service-secret-0123456789\n', { mode: 0o600 });
    admin(['platform', 'add', 'p', '--data', data]);
    admin(['platform', 'add', 'h', '--data', data, '--host', 'auth.h.example']);
    admin(['user', 'add', 'alice', '--data', data, '--platform', 'p'], { LATCH_IDP_PASSWORD: PASSWORD });
    admin(['client', 'add', 'svc', '--confidential', '--data', data, '--platform', 'p', '--secret-file', secretFile, '--scope', 'api']);
    const idp = await startLatchIdp({ data, extraArgs: ['--tls-cert', cert, '--tls-key', key] });
    try {
      const issuer = `${idp.url}/p/p`;
      assert.match(issuer, /^https:\/\/127\.0\.0\.1:\d+\/p\/p$/);
      const doc = JSON.parse((await httpsRequest(`${issuer}/.well-known/openid-configuration`, { ca })).body);
      assert.equal(doc.issuer, issuer);
      const byHost = await httpsRequest(`${idp.url}/.well-known/openid-configuration`, { ca, headers: { host: 'auth.h.example' } });
      assert.equal(JSON.parse(byHost.body).issuer, 'https://auth.h.example', 'https: no port in a host platform\'s issuer');

      const signIn = await httpsRequest(`${issuer}/api/auth/sign-in/email`, {
        ca, method: 'POST', headers: { 'content-type': 'application/json', origin: idp.url },
        body: JSON.stringify({ email: 'alice', password: PASSWORD }),
      });
      assert.equal(signIn.status, 200, signIn.body);
      const session = signIn.headers['set-cookie'].find((c) => c.startsWith('__Secure-p-p.session_token='));
      assert.match(session ?? '', /; Path=\/p\/p\/; HttpOnly; SameSite=Lax; Secure$/, signIn.headers['set-cookie'].join('\n'));
      const form = await httpsRequest(`${issuer}/device`, { ca });
      assert.match(form.headers['set-cookie'][0], /^__Secure-p-p\.latch_idp_csrf=[^;]+; Path=\/p\/p\/device; HttpOnly; SameSite=Strict; Secure$/);

      const home = freshLatchHome();
      const login = await latch(['login', '--client-credentials', '--issuer', issuer, '--client-id', 'svc',
        '--client-secret-file', secretFile, '--ca-file', cert], { home });
      assert.equal(login.code, 0, `${login.stderr}\nserver:\n${idp.stderr()}`);
      assert.equal(readJson(join(home, 'credentials', 'default.json')).issuer, issuer);
    } finally {
      const r = await idp.stop();
      assert.equal(r.code, 0, idp.stderr());
      cleanupTempDirs();
    }
  });
});
