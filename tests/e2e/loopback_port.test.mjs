// Issue 18 #11: an IdP that compares redirect URIs exactly, port included (against RFC
// 8252 §7.3). oidc-provider does so for a `web` client: one registered loopback port. The
// user is told the port changes every run and how to fix it (--port N); a login that
// worked on --port N is remembered in the context, the next login uses that port (what
// the IdP received), and a busy remembered port is a clear error. Needs LATCH_BIN.
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  SKIP_WITHOUT_LATCH, browserLogin, browserScript, cleanupTempDirs, closeBrowser, freshLatchHome,
  handedUrl, killAllLatch, readJson, runLatch, startIdp,
} from './lib.mjs';

const TEST_TIMEOUT = 120_000;
const CLIENT_ID = 'latch-exact-port';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

const browserArgs = (idp, extra = []) => ['login', '--browser', '--issuer', idp.issuer,
  '--client-id', CLIENT_ID, '--scope', 'openid', '--scope', 'profile', ...extra];

describe('loopback port hint and memory (issue 18 #11)', { skip: SKIP_WITHOUT_LATCH }, () => {
  let idp;
  let port;
  before(async () => {
    port = await freePort();
    idp = await startIdp({
      clients: [{
        client_id: CLIENT_ID,
        application_type: 'web',  // redirect URIs compared exactly, port included
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [`http://127.0.0.1:${port}/callback`],
      }],
    });
  });
  after(async () => {
    await killAllLatch();
    await closeBrowser();
    await idp?.close();
    cleanupTempDirs();
  });

  test('an OS-chosen port: the IdP refuses it; the notice and the timeout say why and what to do', { timeout: TEST_TIMEOUT }, async () => {
    const b = browserScript();
    const h = runLatch(browserArgs(idp, ['--timeout', '6']), { env: { BROWSER: b.script } });
    const url = await handedUrl(b.out);
    const redirect = new URL(new URL(url).searchParams.get('redirect_uri'));
    assert.notEqual(Number(redirect.port), port);
    // What the IdP does with it: an error page, never a redirect to latch.
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /redirect_uri/);
    const done = await h.exit;
    assert.equal(done.code, 1, done.stderr);
    assert.match(done.stderr, /Note: its port changes every run: if the identity provider compares redirect URIs exactly, port included, allow-list http:\/\/127\.0\.0\.1:N\/callback for a free port N and log in with --port N/);
    assert.match(done.stderr, /no sign-in response reached http:\/\/127\.0\.0\.1:\d+\/callback within 0:06; if the browser showed an error about the redirect URI, its port changes every run: .*log in with --port N/);
  });

  test('--port N that worked is remembered; the next login uses it; busy, it is a clear error', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const login = async (extra) => {
      const b = browserScript();
      const h = runLatch(browserArgs(idp, extra), { home, env: { BROWSER: b.script } });
      const url = await handedUrl(b.out);
      await browserLogin(url, { login: 'alice' });
      const done = await h.exit;
      assert.equal(done.code, 0, done.stderr);
      return new URL(url).searchParams.get('state');
    };
    const redirectSeen = (state) => {
      const auth = idp.log.find((e) => e.route === 'authorization' && e.params?.state === state);
      assert.ok(auth, 'the IdP logged the authorization request');
      return auth.params.redirect_uri;
    };

    const first = await login(['--port', String(port)]);
    assert.equal(redirectSeen(first), `http://127.0.0.1:${port}/callback`);
    const ctx = readJson(join(home, 'config.json')).contexts.default;
    assert.equal(ctx.loopback_port, String(port));

    // No --port: the remembered one, and the IdP accepted it.
    const second = await login([]);
    assert.equal(redirectSeen(second), `http://127.0.0.1:${port}/callback`);

    // Busy now: the user is told, and nothing is stored over the working login.
    const squatter = net.createServer();
    await new Promise((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      const h = runLatch(browserArgs(idp, ['--timeout', '10']), { home, env: { BROWSER: browserScript().script } });
      const done = await h.exit;
      assert.equal(done.code, 1, done.stderr);
      assert.match(done.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use; this context remembers it from a login that worked .*log in with --port N for another port`));
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });
});
