// Issue 16 (P3): `latch token` with a valid cached token takes a fast path (apps/latch/
// token_fast.cpp) that must print exactly what the normal path prints, and step aside for
// everything else. Stores are written by hand; no IdP is needed (nothing may be sent).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTempDirs, latch, makeTempDir, SKIP_WITHOUT_LATCH } from './lib.mjs';

const iso = (msFromNow) => new Date(Date.now() + msFromNow).toISOString().replace(/\.\d+Z$/, 'Z');

function record(context, access, { expiresInMs = 24 * 3600_000, status = 'active', refresh = true } = {}) {
  const tokens = { access_token: access, token_type: 'Bearer', expires_at: iso(expiresInMs) };
  if (refresh) tokens.refresh_token = `refresh-${context}`;
  return JSON.stringify({
    version: 1, context, issuer: 'http://127.0.0.1:9', client_id: 'latch-cli',
    login_method: refresh ? 'device' : 'token', status, obtained_at: iso(0), identity: { sub: 'u' }, tokens,
  });
}

// A store with contexts `default` and `other` (and whatever `extra` adds).
function store(extra = {}) {
  const home = join(makeTempDir(), 'latch');
  mkdirSync(join(home, 'credentials'), { recursive: true, mode: 0o700 });
  const files = { default: record('default', 'access-default'), other: record('other', 'access-other'), ...extra };
  for (const [name, text] of Object.entries(files))
    writeFileSync(join(home, 'credentials', `${name}.json`), text, { mode: 0o600 });
  return home;
}

describe('latch token with a cached token', { skip: SKIP_WITHOUT_LATCH }, () => {
  after(cleanupTempDirs);

  test('prints the valid token of the context, however the context is named', async () => {
    const home = store();
    const cases = [
      [['token'], {}, 'access-default'],
      [['token', '--context', 'other'], {}, 'access-other'],
      [['token', '--context=other'], {}, 'access-other'],
      [['--context', 'other', 'token'], {}, 'access-other'],
      [['token'], { LATCH_CONTEXT: 'other' }, 'access-other'],
    ];
    for (const [args, env, token] of cases) {
      const r = await latch(args, { home, env });
      assert.deepEqual([r.code, r.stdout, r.stderr], [0, `${token}\n`, ''], args.join(' '));
    }
  });

  test('a token inside the refresh window that cannot be refreshed is still printed', async () => {
    const home = store({ soon: record('soon', 'access-soon', { expiresInMs: 120_000, refresh: false }) });
    const r = await latch(['token', '--context', 'soon'], { home });
    assert.deepEqual([r.code, r.stdout], [0, 'access-soon\n']);
  });

  test('a session marked expired is reported, not printed', async () => {
    const home = store({ ended: record('ended', 'access-ended', { status: 'expired' }) });
    const r = await latch(['token', '--context', 'ended'], { home });
    assert.equal(r.code, 77);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /session expired/);
  });

  test('a store others can write to is refused before anything is read', async () => {
    const home = store();
    chmodSync(join(home, 'credentials'), 0o777);
    const r = await latch(['token'], { home });
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
  });

  test('unknown arguments still get the usage error', async () => {
    const r = await latch(['token', '--bogus'], { home: store() });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
  });
});
