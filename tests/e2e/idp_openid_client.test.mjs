// latch-idp end to end with a client no one here wrote: openid-client (npm) completes
// discovery, authorization code + PKCE (chromium signing in on latch-idp's page), userinfo,
// the device flow, refresh, introspection and revocation against latch-idp.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { browser, cleanupTempDirs, closeBrowser, makeTempDir } from './lib.mjs';
import { idpAdmin, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';

const PASSWORD = 'correct horse battery staple';
const RS_SECRET = 'resource-server-secret-0123456789';
const insecure = { execute: [oidc.allowInsecureRequests] };  // plain http on 127.0.0.1 only

function admin(args, env) {
  const r = idpAdmin(args, { env });
  assert.equal(r.code, 0, r.stderr);
}

// Approves a device code on latch-idp's page with plain HTTP (CSRF cookie + field).
async function approveOnPage(idp, userCode) {
  const page = await fetch(`${idp.url}/device`);
  const html = await page.text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)[1];
  const cookie = page.headers.get('set-cookie').split(';')[0];
  const r = await fetch(`${idp.url}/device`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({ csrf, user_code: userCode, username: 'alice', password: PASSWORD, action: 'approve' }),
  });
  assert.equal(r.status, 200, await r.clone().text());
}

describe('latch-idp with openid-client', { skip: SKIP_WITHOUT_IDP }, () => {
  let idp;
  let rp;   // the public client (openid-client Configuration)
  let rs;   // a confidential resource server: introspection
  before(async () => {
    const dir = makeTempDir('latch-idp-oc-');
    const data = join(dir, 'data');
    admin(['client', 'add', 'rp', '--public', '--data', data, '--redirect-uri', 'http://127.0.0.1/callback',
      '--grant', 'authorization_code', '--grant', 'refresh_token', '--grant', 'urn:ietf:params:oauth:grant-type:device_code',
      '--scope', 'openid profile email offline_access', '--skip-consent']);
    const secretFile = join(dir, 'rs.secret');
    writeFileSync(secretFile, `${RS_SECRET}\n`, { mode: 0o600 });
    admin(['client', 'add', 'rs', '--confidential', '--data', data, '--secret-file', secretFile, '--scope', 'api']);
    admin(['user', 'add', 'alice', '--data', data, '--email', 'alice@example.com', '--name', 'Alice'],
      { LATCH_IDP_PASSWORD: PASSWORD });
    idp = await startLatchIdp({ data, extraArgs: ['--device-interval', '1'] });
    rp = await oidc.discovery(new URL(idp.issuer), 'rp', undefined, oidc.None(), insecure);
    rs = await oidc.discovery(new URL(idp.issuer), 'rs', RS_SECRET, oidc.ClientSecretBasic(RS_SECRET), insecure);
  });
  after(async () => {
    await closeBrowser();
    if (idp) await idp.stop();
    cleanupTempDirs();
  });

  test('discovery: the metadata openid-client reads', () => {
    const m = rp.serverMetadata();
    assert.equal(m.issuer, idp.issuer);
    assert.equal(m.authorization_response_iss_parameter_supported, true);
    assert.ok(m.code_challenge_methods_supported.includes('S256'));
    assert.ok(m.introspection_endpoint && m.revocation_endpoint && m.device_authorization_endpoint);
  });

  let refreshToken;
  test('authorization code + PKCE: chromium signs in on our page; openid-client checks iss, state, nonce, the ID token', { timeout: 120_000 }, async (t) => {
    // The relying party's redirect target: a loopback listener that records what arrives.
    let callback;
    const listener = http.createServer((req, res) => {
      if (req.url.startsWith('/callback')) callback = `http://127.0.0.1:${listener.address().port}${req.url}`;
      res.end('ok');
    });
    await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const CALLBACK = `http://127.0.0.1:${listener.address().port}/callback`;
    t.after(() => listener.close());
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: CALLBACK, scope: 'openid profile email offline_access', state, nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const context = await (await browser()).newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      await page.goto(url.href);
      assert.equal(await page.title(), 'Sign in');
      await page.fill('input[name=username]', 'alice');
      await page.fill('input[name=password]', PASSWORD);
      await Promise.all([page.waitForURL(`${CALLBACK}**`), page.click('button')]);
    } finally {
      await context.close();
    }
    assert.ok(callback, 'the browser was sent to the callback');
    const tokens = await oidc.authorizationCodeGrant(rp, new URL(callback), {
      pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
    });
    const claims = tokens.claims();
    assert.equal(claims.iss, idp.issuer);
    assert.equal(claims.aud, 'rp');
    assert.equal(claims.email, 'alice@example.com');
    assert.equal(claims.name, 'Alice');
    assert.ok(tokens.access_token && tokens.refresh_token);
    refreshToken = tokens.refresh_token;
    // userinfo with the access token, the subject checked by openid-client.
    const info = await oidc.fetchUserInfo(rp, tokens.access_token, claims.sub);
    // `role`: the platform role (issue 14), released with scope profile.
    assert.deepEqual(info, { sub: claims.sub, email: 'alice@example.com', name: 'Alice', preferred_username: 'alice', role: 'user' });
  });

  test('refresh: a rotated pair and a new ID token for the same subject', async (t) => {
    if (!refreshToken) { t.skip('the code flow did not get as far'); return; }
    const before = refreshToken;
    const tokens = await oidc.refreshTokenGrant(rp, before);
    assert.ok(tokens.access_token);
    assert.notEqual(tokens.refresh_token, before);
    assert.equal(tokens.claims().email, 'alice@example.com');
    await assert.rejects(oidc.refreshTokenGrant(rp, before), (e) => e.error === 'invalid_grant');
  });

  test('device flow: openid-client polls while alice approves on our page', { timeout: 60_000 }, async () => {
    const auth = await oidc.initiateDeviceAuthorization(rp, { scope: 'openid email offline_access' });
    assert.match(auth.user_code, /^[A-Z]{4}(-[A-Z]{4})+$/);
    const polled = oidc.pollDeviceAuthorizationGrant(rp, auth);
    await approveOnPage(idp, auth.user_code);
    const tokens = await polled;
    assert.equal(tokens.claims().email, 'alice@example.com');
    assert.ok(tokens.refresh_token);
    refreshToken = tokens.refresh_token;
  });

  test('introspection (confidential caller) and revocation', async () => {
    const tokens = await oidc.refreshTokenGrant(rp, refreshToken);
    const access = await oidc.tokenIntrospection(rs, tokens.access_token);
    assert.equal(access.active, true);
    assert.equal(access.client_id, 'rp');
    assert.ok(access.scope.split(' ').includes('email'));
    const rt = await oidc.tokenIntrospection(rs, tokens.refresh_token);
    assert.equal(rt.active, true);
    assert.equal(rt.token_type, 'refresh_token');
    assert.equal((await oidc.tokenIntrospection(rs, refreshToken)).active, false, 'the rotated-out token');
    assert.equal((await oidc.tokenIntrospection(rs, 'not-a-token')).active, false);
    // A public client may not introspect.
    await assert.rejects(oidc.tokenIntrospection(rp, tokens.access_token), (e) => e.status === 401 || e.error === 'invalid_client');

    await oidc.tokenRevocation(rp, tokens.refresh_token);
    assert.equal((await oidc.tokenIntrospection(rs, tokens.refresh_token)).active, false);
    await assert.rejects(oidc.refreshTokenGrant(rp, tokens.refresh_token), (e) => e.error === 'invalid_grant');
  });
});
