// Issue 18, what a hostile IdP and hostile input can do to the CLI, asserted on the bytes
// latch writes: no raw ESC/BEL/CR/NUL reaches the terminal, the exit code says why, and
// nothing is stored. The "IdP" is a tiny server answering whatever the case needs.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTempDirs, freshLatchHome, latch, SKIP_WITHOUT_LATCH } from './lib.mjs';

const OSC52 = '\u001b]52;c;ZXZpbA==\u0007';
const SPOOF = '\r\nlatch: logged in as admin\r\n';

// No byte a terminal acts on: every C0 control except the line feeds latch writes, and DEL.
function assertTerminalSafe(text, what) {
  for (const ch of text) {
    const c = ch.codePointAt(0);
    assert.ok(!((c < 0x20 && c !== 0x0a) || c === 0x7f || (c >= 0x80 && c < 0xa0)),
      `${what} holds control character U+${c.toString(16).padStart(4, '0')}: ${JSON.stringify(text)}`);
  }
}

// An "IdP" on loopback whose discovery and device endpoints answer `device` / `overrides`.
async function hostileIdp({ device, overrides = {} }) {
  const server = http.createServer((req, res) => {
    const base = `http://127.0.0.1:${server.address().port}`;
    let body;
    if (req.url.startsWith('/.well-known/openid-configuration')) {
      body = {
        issuer: base,
        token_endpoint: `${base}/token`,
        device_authorization_endpoint: `${base}/device`,
        grant_types_supported: ['urn:ietf:params:oauth:grant-type:device_code'],
        ...overrides,
      };
    } else if (req.url.startsWith('/device')) {
      body = { device_code: 'd', expires_in: 600, interval: 1, ...device };
    } else {
      body = { error: 'authorization_pending' };
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  return { issuer, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

const deviceLogin = (issuer) => ['login', '--device', '--issuer', issuer, '--client-id', 'latch-cli',
  '--no-qr', '--timeout', '20'];

describe('hardening (issue 18)', { skip: SKIP_WITHOUT_LATCH }, () => {
  after(cleanupTempDirs);

  const hostilePrompts = [
    ['an OSC 52 user_code', { user_code: `AB${OSC52}CD`, verification_uri: 'https://idp.example/device' }],
    ['a CR-LF spoofing user_code', { user_code: `AB${SPOOF}`, verification_uri: 'https://idp.example/device' }],
    ['a NUL in the user_code', { user_code: 'AB\u0000CD', verification_uri: 'https://idp.example/device' }],
    ['a javascript: verification_uri', { user_code: 'BCDF-GHJK', verification_uri: 'javascript:alert(1)' }],
    ['an http verification_uri_complete off loopback',
      { user_code: 'BCDF-GHJK', verification_uri: 'https://idp.example/d', verification_uri_complete: 'http://evil.example/d' }],
  ];
  for (const [name, device] of hostilePrompts) {
    test(`#1 device prompt with ${name}: refused, escaped, nothing stored`, async () => {
      const idp = await hostileIdp({ device });
      try {
        const home = freshLatchHome();
        const r = await latch(deviceLogin(idp.issuer), { home, timeoutMs: 30_000 });
        assert.equal(r.code, 1, r.stderr);
        assertTerminalSafe(r.stderr, 'stderr');
        assertTerminalSafe(r.stdout, 'stdout');
        assert.match(r.stderr, /device authorization response from .* has (a `user_code`|an unusable `verification_uri)/);
        assert.doesNotMatch(r.stderr, /^latch: logged in as admin/m);
        assert.ok(!existsSync(join(home, 'credentials', 'default.json')));
      } finally { await idp.close(); }
    });
  }

  test('#1 discovery naming a javascript: endpoint fails discovery, escaped', async () => {
    const idp = await hostileIdp({ device: {}, overrides: { device_authorization_endpoint: `javascript:x${OSC52}` } });
    try {
      const r = await latch(deviceLogin(idp.issuer), { timeoutMs: 30_000 });
      assert.notEqual(r.code, 0);
      assertTerminalSafe(r.stderr, 'stderr');
      assert.match(r.stderr, /lists an unusable device_authorization_endpoint/);
    } finally { await idp.close(); }
  });

  test('#9 an imported token with CR/LF/ESC is refused before anything is sent or stored', async () => {
    const home = freshLatchHome();
    const r = await latch(['login', '--with-token', '--issuer', 'https://idp.example'],
      { home, stdin: 'abc\u001b[31mdef' });
    assert.equal(r.code, 2, r.stderr);
    assertTerminalSafe(r.stderr, 'stderr');
    assert.match(r.stderr, /the token on stdin cannot be used: .*nothing was stored/);
    assert.ok(!existsSync(join(home, 'credentials', 'default.json')));
  });

  test('#13 an invalid context name is escaped and exits 2 in every command', async () => {
    const bad = 'bad\u001b[31mname\u0007';
    const home = freshLatchHome();
    const cases = [
      [['status'], { LATCH_CONTEXT: bad }],
      [['token'], { LATCH_CONTEXT: bad }],
      [['refresh'], { LATCH_CONTEXT: bad }],
      [['--context', bad, 'status'], {}],
      [['context', 'use', bad], {}],
      [['context', 'delete', bad], {}],
      [['context', 'add', bad, '--issuer', 'https://idp.example', '--client-id', 'c'], {}],
    ];
    for (const [args, env] of cases) {
      const r = await latch(args, { home, env });
      assert.equal(r.code, 2, `${JSON.stringify(args)}: ${r.stderr}`);
      assertTerminalSafe(r.stderr, `stderr of ${JSON.stringify(args)}`);
      assert.match(r.stderr, /invalid context name 'bad\\x1b\[31mname\\x07'/);
    }
  });
});
