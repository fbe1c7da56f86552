// latch-idp behind reverse proxies (issue 15): X-Forwarded-For decides the client address
// (here: the sign-in rate-limit bucket) only when the request comes from a --trusted-proxy;
// `--behind-proxy` without the list refuses to start rather than put every client in the
// proxy's one bucket.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cleanupTempDirs, makeTempDir } from './lib.mjs';
import { idpAdmin, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';
import { clearOfWindowEdge, request } from './idp_attacks_lib.mjs';

describe('latch-idp --trusted-proxy', { skip: SKIP_WITHOUT_IDP }, () => {
  after(() => cleanupTempDirs());

  test('--behind-proxy without --trusted-proxy refuses to start, saying why', () => {
    const r = idpAdmin(['serve', '--data', join(makeTempDir('latch-idp-proxy-'), 'data'), '--behind-proxy']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--behind-proxy needs the proxies' addresses \(--trusted-proxy CIDR/);
    const bad = idpAdmin(['serve', '--data', join(makeTempDir('latch-idp-proxy-'), 'data'), '--trusted-proxy', '10.0.0.1/8']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--trusted-proxy wants an address or a network/);
  });

  test('X-Forwarded-For from the trusted proxy: one bucket per client; from anyone else: ignored', { timeout: 60_000 }, async () => {
    const idp = await startLatchIdp({ extraArgs: ['--behind-proxy', '--trusted-proxy', '127.0.0.1', '--sign-in-limit', '2'] });
    try {
      await clearOfWindowEdge(10);
      const signIn = (from, xff) => request(`${idp.url}/api/auth/sign-in/email`, {
        method: 'POST', body: { email: 'nobody@example.com', password: 'wrong password' },
        headers: { origin: idp.url, ...(xff ? { 'x-forwarded-for': xff } : {}) }, from,
      }).then((r) => r.status);
      // Through the proxy (127.0.0.1): two clients, two buckets of 2; a forged left part is skipped.
      assert.deepEqual([await signIn('127.0.0.1', '198.51.100.1'), await signIn('127.0.0.1', '6.6.6.6, 198.51.100.1')], [401, 401]);
      assert.equal(await signIn('127.0.0.1', '198.51.100.1'), 429);
      assert.equal(await signIn('127.0.0.1', '198.51.100.2'), 401, 'another client behind the proxy');
      // Not from the proxy: the header is ignored, the socket's address is the bucket.
      assert.deepEqual([await signIn('127.0.0.9', '198.51.100.3'), await signIn('127.0.0.9', '198.51.100.4')], [401, 401]);
      assert.equal(await signIn('127.0.0.9', '198.51.100.5'), 429);
    } finally {
      await idp.stop();
    }
  });
});
