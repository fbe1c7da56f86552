// Acceptance tests for `latch login --device` against the test IdP, with a user in
// chromium approving (or denying) on the IdP's own pages.  Needs LATCH_BIN.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  SKIP_WITHOUT_LATCH, approveDevice, cleanupTempDirs, closeBrowser, devicePolls, devicePrompt,
  fileMode, freshLatchHome, idpIntrospect, killAllLatch, latch, latchIdpLacks, readJson, runLatch, startIdp,
} from './lib.mjs';

const TEST_TIMEOUT = 90_000;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

function loginArgs(idp) {
  return ['login', '--device', '--issuer', idp.issuer, '--client-id', 'latch-cli', '--no-qr',
    '--timeout', '120'];
}

const credentialsPath = (home) => join(home, 'credentials', 'default.json');

describe('latch login --device', { skip: SKIP_WITHOUT_LATCH }, () => {
  let idp;
  let afterLogin; // the IdP's log right after the happy-path login, for (d)

  before(async () => { idp = await startIdp({ interval: 2 }); });
  after(async () => {
    await killAllLatch();
    await closeBrowser();
    await idp?.close();
    cleanupTempDirs();
  });

  test('(a) alice approves in the browser; status, token, logout', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const login = runLatch(loginArgs(idp), { home });
    const prompt = await devicePrompt(login);
    await login.waitForStderr(/Waiting for approval \(code expires in \d+:\d\d[^)]*\)\.\.\./);
    await approveDevice({ url: prompt.url, userCode: prompt.userCode, login: 'alice' });
    const done = await login.exit;
    assert.equal(done.code, 0, `latch login failed:\n${done.stderr}`);
    assert.match(done.stderr, new RegExp(`Logged in to ${idp.issuer} as Alice \\(context 'default', device flow\\)\\.`));
    afterLogin = { log: [...idp.log], userCode: prompt.userCode };

    // The stored credentials.
    const file = credentialsPath(home);
    const creds = readJson(file);
    assert.equal(creds.version, 1);
    assert.equal(creds.context, 'default');
    assert.equal(creds.issuer, idp.issuer);
    assert.equal(creds.client_id, 'latch-cli');
    assert.equal(creds.login_method, 'device');
    assert.equal(creds.status, 'active');
    assert.match(creds.obtained_at, ISO);
    assert.deepEqual(
      { sub: creds.identity?.sub, email: creds.identity?.email, name: creds.identity?.name },
      { sub: 'alice', email: 'alice@example.com', name: 'Alice' },
    );
    const { tokens } = creds;
    assert.ok(tokens?.access_token, 'access_token stored');
    assert.ok(tokens.refresh_token, 'refresh_token stored (offline_access is a default scope)');
    assert.ok(tokens.id_token, 'id_token stored');
    assert.equal(tokens.token_type, 'Bearer');
    assert.match(tokens.expires_at, ISO);
    const expiresIn = (Date.parse(tokens.expires_at) - Date.now()) / 1000;
    assert.ok(expiresIn > 3000 && expiresIn <= 3600, `expires_at is about an hour away (${expiresIn} s)`);
    assert.ok(tokens.scope.split(' ').includes('openid'));

    // Modes: the file 0600, the directories 0700.
    assert.equal(fileMode(file).toString(8), '600');
    assert.equal(fileMode(join(home, 'credentials')).toString(8), '700');
    assert.equal(fileMode(home).toString(8), '700');
    if (existsSync(join(home, 'config.json'))) assert.equal(fileMode(join(home, 'config.json')).toString(8), '600');
    // Nothing secret on stdout/stderr.
    for (const secret of [tokens.access_token, tokens.refresh_token]) {
      assert.ok(!done.stdout.includes(secret) && !done.stderr.includes(secret), 'login printed a token');
    }

    // latch status
    const status = await latch(['status'], { home });
    assert.equal(status.code, 0, status.stderr);
    const statusText = status.stdout + status.stderr;
    assert.match(statusText, /Alice|alice@example\.com/);
    assert.ok(statusText.includes(idp.issuer), 'status names the issuer');
    assert.ok(!statusText.includes(tokens.access_token), 'status printed the whole access token');

    // latch status --json
    const statusJson = await latch(['status', '--json'], { home });
    assert.equal(statusJson.code, 0, statusJson.stderr);
    const s = JSON.parse(statusJson.stdout);
    assert.equal(s.context, 'default');
    assert.equal(s.logged_in, true);
    assert.equal(s.issuer, idp.issuer);
    assert.equal(s.client_id, 'latch-cli');
    assert.equal(s.subject, 'alice');
    assert.equal(s.email, 'alice@example.com');
    assert.equal(s.name, 'Alice');
    assert.ok(Array.isArray(s.scopes) && s.scopes.includes('openid'));
    assert.equal(s.expires_at, tokens.expires_at);
    assert.equal(s.login_method, 'device');
    assert.notEqual(s.access_token, tokens.access_token, 'access token must be redacted');
    assert.ok(s.access_token.includes('…'), `redacted like 69dd6f…2bc6: ${s.access_token}`);
    assert.ok(tokens.access_token.startsWith(s.access_token.split('…')[0]));

    // latch token: the access token, which the IdP says is active.
    const token = await latch(['token'], { home });
    assert.equal(token.code, 0, token.stderr);
    assert.equal(token.stdout, `${tokens.access_token}\n`);
    const seen = await idpIntrospect(idp, token.stdout.trim());
    assert.equal(seen.active, true);
    assert.equal(seen.accountId, 'alice');
    assert.equal(seen.clientId, 'latch-cli');

    // latch logout, then not logged in.
    const logout = await latch(['logout'], { home });
    assert.equal(logout.code, 0, logout.stderr);
    assert.match(logout.stdout + logout.stderr, /Logged out of context 'default'/);
    assert.equal(existsSync(file), false, 'credentials file removed');
    const statusAfter = await latch(['status'], { home });
    assert.equal(statusAfter.code, 77, statusAfter.stderr);
    assert.match(statusAfter.stderr, /latch: not logged in \(context 'default'\)/);
    const tokenAfter = await latch(['token'], { home });
    assert.equal(tokenAfter.code, 77);
    assert.equal(tokenAfter.stdout, '');
  });

  test('(b) a denied login exits non-zero with the reason and stores nothing', { timeout: TEST_TIMEOUT }, async (t) => {
    const lacks = latchIdpLacks(idp, "oidc-provider's consent page and its denial text ('End-User aborted interaction')");
    if (lacks) { t.skip(lacks); return; }
    const home = freshLatchHome();
    const login = runLatch(loginArgs(idp), { home });
    const prompt = await devicePrompt(login);
    await approveDevice({ url: prompt.completeUrl, login: 'alice', deny: 'consent' });
    const done = await login.exit;
    assert.equal(done.code, 1, `expected exit 1:\n${done.stderr}`);
    assert.match(done.stderr, /^latch: login denied at the identity provider: .*End-User aborted interaction/m);
    assert.equal(existsSync(credentialsPath(home)), false, 'no credentials stored');
    const credDir = join(home, 'credentials');
    if (existsSync(credDir)) {
      assert.deepEqual(readdirSync(credDir).filter((f) => f.endsWith('.json')), []);
    }
    const status = await latch(['status'], { home });
    assert.equal(status.code, 77);
  });

  test('(c) slow_down adds 5 s to the polling interval', { timeout: TEST_TIMEOUT }, async (t) => {
    const lacks = latchIdpLacks(idp, 'forcing slow_down on a chosen poll (a hook of the oidc-provider harness)');
    if (lacks) { t.skip(lacks); return; }
    const interval = 1;
    idp.setOption('interval', interval);
    idp.setOption('forceSlowDownOnPoll', 2);
    try {
      const home = freshLatchHome();
      const login = runLatch(loginArgs(idp), { home });
      const prompt = await devicePrompt(login);
      // Approve only after the slow_down, so that poll 3 exists.
      const auth = await idp.waitForLog((e) => e.route === 'device_authorization'
        && e.response?.user_code === prompt.userCode, 5_000);
      await idp.waitForLog((e) => e.params?.device_code === auth.response.device_code
        && e.poll === 2, 15_000);
      await approveDevice({ url: prompt.completeUrl, login: 'alice' });
      // A client that ignores slow_down keeps polling early and keeps being told to
      // slow down: fail at the second slow_down instead of waiting for a timeout.
      const stopWatching = new AbortController();
      const ignored = idp.waitForLog((e) => e.params?.device_code === auth.response.device_code
        && e.error === 'slow_down' && e.poll > 2, TEST_TIMEOUT, { signal: stopWatching.signal });
      ignored.catch(() => {});
      const done = await Promise.race([login.exit, ignored.then(() => undefined)]);
      stopWatching.abort();
      if (!done) {
        const seen = devicePolls(idp, prompt.userCode).map((p) => `poll ${p.poll} +${p.t - auth.t} ms: ${p.error ?? p.status}`);
        assert.fail(`latch kept polling after slow_down:\n${seen.join('\n')}`);
      }
      assert.equal(done.code, 0, `latch login failed:\n${done.stderr}`);

      const polls = devicePolls(idp, prompt.userCode);
      assert.ok(polls.length >= 3, `at least 3 polls, got ${polls.length}`);
      assert.equal(polls[0].error, 'authorization_pending');
      assert.equal(polls[1].error, 'slow_down');
      const gap12 = (polls[1].t - polls[0].t) / 1000;
      const gap23 = (polls[2].t - polls[1].t) / 1000;
      assert.ok(gap12 >= interval - 0.25, `poll 1 -> 2 after ${gap12} s, interval ${interval} s`);
      assert.ok(gap23 >= interval + 5 - 0.25, `poll 2 -> 3 after ${gap23} s, expected >= ${interval + 5} s`);
      assert.equal(polls.at(-1).status, 200, 'the last poll got the tokens');
      assert.equal(polls.filter((p) => p.error === 'slow_down').length, 1, 'only the forced slow_down');
    } finally {
      idp.setOption('forceSlowDownOnPoll', undefined);
      idp.setOption('interval', 2);
    }
  });

  test('(d) latch respects the interval: the IdP never had to answer slow_down in (a)', (t) => {
    if (!afterLogin) { t.skip('(a) did not get as far as logging in'); return; }
    const auth = afterLogin.log.find((e) => e.route === 'device_authorization'
      && e.response?.user_code === afterLogin.userCode);
    assert.ok(auth, 'device authorization request logged');
    assert.equal(auth.params.client_id, 'latch-cli');
    const polls = afterLogin.log.filter((e) => e.params?.device_code === auth.response.device_code);
    assert.ok(polls.length >= 1);
    assert.deepEqual(polls.filter((p) => p.error === 'slow_down').map((p) => p.poll), []);
    assert.equal(polls.at(-1).status, 200);
    assert.equal(polls.filter((p) => p.status === 200).length, 1, 'no poll after the tokens came');
  });
});
