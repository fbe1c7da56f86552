// latch under another name (issue 17): installed as the symlink docker-credential-latch
// (what docker runs for "credsStore": "latch"), latch speaks the docker credential helper
// protocol without the `docker-credential` argument; `get` hands out the logged-in token.
// Needs LATCH_BIN.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  LATCH_BIN, SKIP_WITHOUT_LATCH, cleanupTempDirs, freshLatchHome, killAllLatch, latch, makeTempDir, startIdp,
} from './lib.mjs';

const TEST_TIMEOUT = 60_000;

// Runs `program` with LATCH_HOME=home and stdin; bounded.
async function run(program, args, { home, stdin = '', timeoutMs = 30_000 }) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LATCH_')));
  const child = spawn(program, args, { env: { ...env, LATCH_HOME: home }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdin.on('error', () => {});  // EPIPE: `list` exits without reading stdin
  child.stdin.end(stdin);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = await once(child, 'close');
  clearTimeout(timer);
  return { code, stdout, stderr };
}

describe('docker-credential-latch: latch by its helper name', { skip: SKIP_WITHOUT_LATCH }, () => {
  let idp;
  let helper;
  before(async () => {
    idp = await startIdp();
    helper = join(makeTempDir(), 'docker-credential-latch');
    symlinkSync(LATCH_BIN, helper);
  });
  after(async () => {
    await killAllLatch();
    await idp?.close();
    cleanupTempDirs();
  });

  test('get prints the logged-in token for the registry; list; store and erase refused', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const login = await latch(['login', '--password', '--issuer', idp.issuer, '--client-id', 'latch-cli'],
      { home, env: { LATCH_USERNAME: 'alice', LATCH_PASSWORD: 'correct horse' } });
    assert.equal(login.code, 0, login.stderr);
    const token = (await latch(['token'], { home })).stdout.trim();

    const get = await run(helper, ['get'], { home, stdin: 'registry.example:5000\n' });
    assert.equal(get.code, 0, get.stderr);
    const answer = JSON.parse(get.stdout);
    assert.equal(answer.ServerURL, 'registry.example:5000');
    assert.equal(answer.Secret, token);

    const list = await run(helper, ['list'], { home });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout), {});
    const store = await run(helper, ['store'], { home, stdin: '{"ServerURL":"x","Username":"u","Secret":"s"}' });
    assert.equal(store.code, 1);
    assert.match(store.stderr, /does not store credentials/);
  });

  test('not logged in: exit 77, and no protocol action is a usage error', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const get = await run(helper, ['get'], { home, stdin: 'registry.example\n' });
    assert.equal(get.code, 77, get.stderr);
    const none = await run(helper, [], { home });
    assert.equal(none.code, 2, none.stderr);
  });
});
