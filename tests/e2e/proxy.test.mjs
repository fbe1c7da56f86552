// HTTPS_PROXY / NO_PROXY (issue 17) through Debian's tinyproxy, started by the test with a
// config of its own. The IdP speaks https under a made-up name (https://idp.latch.test)
// that resolves nowhere: tinyproxy hands its CONNECTs to a small in-test proxy that maps
// that one name to the IdP's loopback port. So a login can only succeed through the proxy
// (loopback names are never proxied, hence the made-up name). Needs LATCH_BIN, tinyproxy.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  SKIP_WITHOUT_LATCH, cleanupTempDirs, freshLatchHome, killAllLatch, latch, makeTempDir,
  readJson, startIdp,
} from './lib.mjs';
import { TINYPROXY, makeCert, startNameMapper, startTinyproxy } from './integrations_lib.mjs';

const TEST_TIMEOUT = 60_000;
const NAME = 'idp.latch.test';
const PROXY_PASSWORD = 'proxy-pass-5ecret';
const userEnv = { LATCH_USERNAME: 'alice', LATCH_PASSWORD: 'correct horse' };
const SKIP = SKIP_WITHOUT_LATCH || (existsSync(TINYPROXY) ? false : `${TINYPROXY} is missing (apt-get install tinyproxy)`);

describe('proxies (HTTPS_PROXY, NO_PROXY) through tinyproxy', { skip: SKIP }, () => {
  let idp;
  let mapper;
  let proxy;
  let authProxy;
  let cert;
  before(async () => {
    const dir = makeTempDir();
    cert = makeCert(dir, [NAME]);
    idp = await startIdp({ tls: { key: cert.key, cert: cert.cert }, issuer: () => `https://${NAME}` });
    mapper = await startNameMapper([NAME], idp.port);
    proxy = await startTinyproxy(makeTempDir(), { upstream: `127.0.0.1:${mapper.port}` });
    authProxy = await startTinyproxy(makeTempDir(), { upstream: `127.0.0.1:${mapper.port}`,
      basicAuth: { user: 'bob', password: PROXY_PASSWORD } });
  });
  after(async () => {
    await killAllLatch();
    await proxy?.close();
    await authProxy?.close();
    await mapper?.close();
    await idp?.close();
    cleanupTempDirs();
  });

  const login = (home, env, extra = []) => latch([...extra, '--ca-file', cert.certPath, 'login', '--password',
    '--issuer', `https://${NAME}`, '--client-id', 'latch-cli'], { home, env: { ...userEnv, ...env } });

  test('HTTPS_PROXY: the login goes through tinyproxy (CONNECT in its log) and succeeds', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const r = await login(home, { HTTPS_PROXY: proxy.url });
    assert.equal(r.code, 0, r.stderr);
    assert.match(proxy.log(), new RegExp(`Request \\(file descriptor \\d+\\): CONNECT ${NAME.replace(/\./g, '\\.')}:443 HTTP/1\\.1`));
    assert.ok(mapper.seen.includes(`CONNECT ${NAME}:443`));
    assert.equal(readJson(join(home, 'credentials', 'default.json')).issuer, `https://${NAME}`);
    // Lower case works too; `latch refresh` goes the same way.
    const before = proxy.log().split('\n').length;
    const refresh = await latch(['--ca-file', cert.certPath, 'refresh'], { home, env: { https_proxy: proxy.url.replace('http://', '') } });
    assert.equal(refresh.code, 0, refresh.stderr);
    assert.ok(proxy.log().split('\n').length > before, 'the refresh did not go through the proxy');
  });

  test('NO_PROXY (name, suffix, *) goes direct: the made-up name does not resolve', { timeout: TEST_TIMEOUT }, async () => {
    for (const noProxy of [NAME, '.latch.test', 'latch.test', '*', `other.test, ${NAME}:443`]) {
      const lines = proxy.log().split('\n').length;
      const r = await login(freshLatchHome(), { HTTPS_PROXY: proxy.url, NO_PROXY: noProxy });
      assert.equal(r.code, 1, `NO_PROXY=${noProxy}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`cannot resolve ${NAME.replace(/\./g, '\\.')}`));
      assert.equal(proxy.log().split('\n').length, lines, `NO_PROXY=${noProxy} still used the proxy`);
    }
    // Entries that do not match keep the proxy.
    const r = await login(freshLatchHome(), { HTTPS_PROXY: proxy.url, no_proxy: `badlatch.test,${NAME}:8443,10.0.0.0/8` });
    assert.equal(r.code, 0, r.stderr);
  });

  test('proxy basic auth from the URL, never shown; missing or wrong credentials: a clear error', { timeout: TEST_TIMEOUT }, async () => {
    const url = (user, pass) => authProxy.url.replace('http://', `http://${user}:${pass}@`);
    const ok = await login(freshLatchHome(), { HTTPS_PROXY: url('bob', PROXY_PASSWORD) }, ['--debug']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /^> CONNECT idp\.latch\.test:443 HTTP\/1\.1$/m);
    assert.match(ok.stderr, /^> Proxy-Authorization: Basic \S*…/m);
    const b64 = Buffer.from(`bob:${PROXY_PASSWORD}`).toString('base64');
    for (const s of [PROXY_PASSWORD, b64]) assert.ok(!ok.stderr.includes(s) && !ok.stdout.includes(s), 'proxy credentials shown');
    const none = await login(freshLatchHome(), { HTTPS_PROXY: authProxy.url });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /the proxy http:\/\/127\.0\.0\.1:\d+ asks for credentials \(407/);
    const wrong = await login(freshLatchHome(), { HTTPS_PROXY: url('bob', 'nope-wrong-pw') });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /rejected the credentials in the proxy URL \(40[17]/);
    assert.ok(!wrong.stderr.includes('nope-wrong-pw'));
  });

  test('an unusable proxy setting is a clear error; loopback is never proxied', { timeout: TEST_TIMEOUT }, async () => {
    const socks = await login(freshLatchHome(), { HTTPS_PROXY: 'socks5://user:pw-hidden@127.0.0.1:1' });
    assert.equal(socks.code, 1);
    assert.match(socks.stderr, /only http:\/\/ proxies are supported/);
    assert.ok(!socks.stderr.includes('pw-hidden'));
    // The plain IdP on 127.0.0.1 with a dead proxy configured: loopback goes direct.
    const plain = await startIdp();
    try {
      const r = await latch(['login', '--password', '--issuer', plain.issuer, '--client-id', 'latch-cli'],
        { home: freshLatchHome(), env: { ...userEnv, HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9' } });
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await plain.close();
    }
  });
});
