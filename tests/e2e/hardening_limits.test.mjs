// Issue 18 #2 and #13, what the user sees when a hostile IdP makes latch work or wait:
// a JWKS built to burn CPU, answers dripped a byte a second, a Ctrl-C in the middle; and a
// credentials file latch cannot parse. Each case asserts the exit code, the message, the
// time to give up (a generous bound, not a benchmark) and what the file system holds.
// The "IdP" is a tiny server (password grant: discovery, token endpoint, JWKS) whose
// token and JWKS answers each case chooses; the ID token is signed with a real key.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTempDirs, freshLatchHome, latch, runLatch, SKIP_WITHOUT_LATCH } from './lib.mjs';

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const realJwk = { ...publicKey.export({ format: 'jwk' }), kid: 'real', use: 'sig', alg: 'RS256' };

// A random odd modulus of `bits` bits under `kid`: plausible JSON, never a key.
function fakeRsa(bits, kid) {
  const n = randomBytes(bits / 8);
  n[0] |= 0x80;
  n[n.length - 1] |= 1;
  return { kty: 'RSA', kid, e: 'AQAB', n: b64url(n) };
}

function idToken(issuer, kid) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
  const payload = b64url(JSON.stringify({
    iss: issuer, aud: 'latch-cli', sub: 'alice', name: 'Alice', iat: now, exp: now + 3600,
  }));
  const signer = createSign('RSA-SHA256');
  signer.update(`${header}.${payload}`);
  return `${header}.${payload}.${b64url(signer.sign(privateKey))}`;
}

// Sends `body` one byte a second (a dripping IdP) until the client goes away.
function drip(res, body) {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  let i = 0;
  const timer = setInterval(() => {
    if (res.destroyed || i >= body.length) { clearInterval(timer); return; }
    res.write(body[i++]);
  }, 1000);
  res.on('close', () => clearInterval(timer));
}

// jwks(res): answers the JWKS GET; token(res, issuer, reply): the token POST (reply(json)
// answers at once with tokens whose ID token names `kid`).
async function hostileIdp({ kid = 'real', jwks, token }) {
  const server = http.createServer((req, res) => {
    const issuer = `http://127.0.0.1:${server.address().port}`;
    const json = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const tokens = () => json(200, {
      access_token: 'at-0123456789abcdef', token_type: 'Bearer', expires_in: 3600,
      id_token: idToken(issuer, kid),
    });
    if (req.url.startsWith('/.well-known/openid-configuration')) {
      json(200, {
        issuer, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`,
        grant_types_supported: ['password'],
      });
    } else if (req.url.startsWith('/token')) {
      req.resume();
      req.on('end', () => (token ? token(res, tokens) : tokens()));
    } else if (req.url.startsWith('/jwks')) {
      jwks(res);
    } else {
      json(404, {});
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  return { issuer, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

const serveJwks = (keys) => {
  const body = JSON.stringify({ keys });
  return (res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(body); };
};

const passwordLogin = (issuer, timeout) => ['login', '--password', '--issuer', issuer,
  '--client-id', 'latch-cli', '--timeout', String(timeout)];
const PASSWORD_ENV = { LATCH_USERNAME: 'alice', LATCH_PASSWORD: 'correct horse' };
const credentialsPath = (home) => join(home, 'credentials', 'default.json');

async function timed(args, options) {
  const started = Date.now();
  const r = await latch(args, { env: PASSWORD_ENV, timeoutMs: 120_000, ...options });
  return { ...r, seconds: (Date.now() - started) / 1000 };
}

describe('hardening limits (issue 18 #2, #13)', { skip: SKIP_WITHOUT_LATCH }, () => {
  after(cleanupTempDirs);

  test('#2 the audit\'s JWKS (350 random 16384-bit keys, ~1 MiB) is refused at once; nothing stored', async () => {
    const keys = Array.from({ length: 350 }, (_, i) => fakeRsa(16384, `big${i}`));
    const idp = await hostileIdp({ kid: 'big7', jwks: serveJwks(keys) });
    try {
      const home = freshLatchHome();
      const r = await timed(passwordLogin(idp.issuer, 5), { home });
      console.log(`# 350 x 16384-bit JWKS: exit ${r.code} after ${r.seconds.toFixed(1)} s`);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /JWKS is larger than 512 KiB; refusing to read it; nothing was stored/);
      assert.ok(r.seconds < 5 + 5, `took ${r.seconds} s`);
      assert.ok(!existsSync(credentialsPath(home)));
    } finally { await idp.close(); }
  });

  test('#2 350 keys, 300 of them 8192-bit, under the size cap: the named key verifies, in bounded time', async () => {
    const keys = [...Array.from({ length: 300 }, (_, i) => fakeRsa(8192, `big${i}`)), realJwk];
    keys.push(...Array.from({ length: 49 }, (_, i) => ({ ...realJwk, kid: `copy${i}` })));
    // `real` is past the first 100 entries: latch reads no further, and says so.
    const late = await hostileIdp({ kid: 'real', jwks: serveJwks(keys) });
    const first = await hostileIdp({ kid: 'real', jwks: serveJwks([realJwk, ...keys.slice(0, 300)]) });
    try {
      const r = await timed(passwordLogin(late.issuer, 5), {});
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /signing key 'real' in the provider's JWKS is refused: past the first 100 keys/);
      assert.ok(r.seconds < 10, `took ${r.seconds} s`);

      const home = freshLatchHome();
      const ok = await timed(passwordLogin(first.issuer, 5), { home });
      console.log(`# 301-key JWKS, 300 x 8192-bit: exit ${ok.code} after ${ok.seconds.toFixed(1)} s`);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stderr, /Logged in to .* as Alice/);
      assert.ok(ok.seconds < 10, `took ${ok.seconds} s`);
      assert.ok(existsSync(credentialsPath(home)));
    } finally { await late.close(); await first.close(); }
  });

  test('#2 a token naming a 16384-bit key: refused with the reason, no refetch loop', async () => {
    let fetches = 0;
    const keys = [realJwk, fakeRsa(16384, 'huge')];
    const body = JSON.stringify({ keys });
    const idp = await hostileIdp({
      kid: 'huge',
      jwks: (res) => { fetches++; res.writeHead(200, { 'content-type': 'application/json' }); res.end(body); },
    });
    try {
      const home = freshLatchHome();
      const r = await timed(passwordLogin(idp.issuer, 5), { home });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /signing key 'huge' in the provider's JWKS is refused: a 16384-bit RSA key; latch accepts 2048 to 8192 bits/);
      assert.equal(fetches, 1);
      assert.ok(!existsSync(credentialsPath(home)));
    } finally { await idp.close(); }
  });

  test('#2/#13 a JWKS dripped a byte a second: --timeout holds; Ctrl-C exits 130', async () => {
    const body = JSON.stringify({ keys: [realJwk] });
    const idp = await hostileIdp({ jwks: (res) => drip(res, body) });
    try {
      const home = freshLatchHome();
      const r = await timed(passwordLogin(idp.issuer, 4), { home });
      console.log(`# dripping JWKS, --timeout 4: exit ${r.code} after ${r.seconds.toFixed(1)} s`);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /login timed out after 4 s: the identity provider at .* did not finish answering/);
      assert.ok(r.seconds < 4 + 5, `took ${r.seconds} s`);
      assert.ok(!existsSync(credentialsPath(home)));

      // Ctrl-C while the JWKS drips: the login holds tokens, so the first one lets it try
      // to finish for a moment (5 s) before stopping; the second stops it at once.
      for (const signals of [1, 2]) {
        const h = runLatch(passwordLogin(idp.issuer, 60), { env: PASSWORD_ENV });
        await h.waitForStderr(/password grant/);
        await new Promise((res) => setTimeout(res, 500));
        const started = Date.now();
        for (let i = 0; i < signals; i++) {
          if (i) await new Promise((res) => setTimeout(res, 200));  // two signals, not one merged
          h.kill('SIGINT');
        }
        const done = await h.exit;
        const seconds = (Date.now() - started) / 1000;
        console.log(`# dripping JWKS, ${signals} Ctrl-C: exit ${done.code} after ${seconds.toFixed(1)} s`);
        assert.equal(done.code, 130, done.stderr);
        assert.ok(seconds < (signals === 1 ? 5 + 3 : 3), `took ${seconds} s`);
        assert.ok(!existsSync(credentialsPath(h.home)));
      }
    } finally { await idp.close(); }
  });

  test('#13 a token endpoint dripping its answer: --timeout is the bound for the whole login', async () => {
    const idp = await hostileIdp({
      jwks: serveJwks([realJwk]),
      token: (res) => drip(res, JSON.stringify({ access_token: 'x'.repeat(64), token_type: 'Bearer' })),
    });
    try {
      const r = await timed(passwordLogin(idp.issuer, 5), {});
      console.log(`# dripping token endpoint, --timeout 5: exit ${r.code} after ${r.seconds.toFixed(1)} s`);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^latch: login timed out after 5 s: the identity provider at http:\/\/127\.0\.0\.1:\d+ did not finish answering \(--timeout SECONDS changes the bound\)$/m);
      assert.ok(r.seconds < 5 + 5, `took ${r.seconds} s`);
    } finally { await idp.close(); }
  });

  test('#13 login over an unparsable credentials file keeps it aside and says where', async () => {
    const idp = await hostileIdp({ jwks: serveJwks([realJwk]) });
    try {
      const home = freshLatchHome();
      mkdirSync(join(home, 'credentials'), { recursive: true, mode: 0o700 });
      writeFileSync(credentialsPath(home), '{"version": 1, "tokens": {"access_token": "trunc', { mode: 0o600 });
      const r = await timed(passwordLogin(idp.issuer, 10), { home });
      assert.equal(r.code, 0, r.stderr);
      const kept = readdirSync(join(home, 'credentials')).filter((f) => f.startsWith('default.json.corrupt-'));
      assert.equal(kept.length, 1, readdirSync(join(home, 'credentials')).join(' '));
      assert.match(kept[0], /^default\.json\.corrupt-\d{8}T\d{6}Z$/);
      assert.equal(readFileSync(join(home, 'credentials', kept[0]), 'utf8'),
        '{"version": 1, "tokens": {"access_token": "trunc');
      assert.match(r.stderr, new RegExp(`^latch: warning: .*default\\.json: .*; it was kept as .*${kept[0]}$`, 'm'));
      assert.equal(JSON.parse(readFileSync(credentialsPath(home), 'utf8')).tokens.access_token, 'at-0123456789abcdef');
    } finally { await idp.close(); }
  });
});
