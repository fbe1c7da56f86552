// Acceptance tests for the non-interactive grants (`latch login --password`,
// `--client-credentials`) and named contexts (`latch context ...`, `--context`,
// LATCH_CONTEXT) against two instances of the test IdP.  Needs LATCH_BIN.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import {
  SKIP_WITHOUT_LATCH, cleanupTempDirs, fileMode, freshLatchHome, idpIntrospect, killAllLatch,
  latch, makeTempDir, readJson, runLatch, startIdp,
} from './lib.mjs';

const TEST_TIMEOUT = 60_000;
const PASSWORD = 'correct horse';
const userEnv = { LATCH_USERNAME: 'alice', LATCH_PASSWORD: PASSWORD };
const credentialsPath = (home, ctx = 'default') => join(home, 'credentials', `${ctx}.json`);

// Every file latch wrote under its home, as text.
function storedText(home) {
  const files = [join(home, 'config.json')];
  const dir = join(home, 'credentials');
  if (existsSync(dir)) files.push(...readdirSync(dir).map((f) => join(dir, f)));
  return files.filter(existsSync).map((f) => readFileSync(f, 'utf8')).join('\n');
}

function assertNowhere(needle, home, ...outputs) {
  for (const o of outputs) {
    assert.ok(!o.stdout.includes(needle), `'${needle}' appeared on stdout:\n${o.stdout}`);
    assert.ok(!o.stderr.includes(needle), `'${needle}' appeared on stderr:\n${o.stderr}`);
  }
  assert.ok(!storedText(home).includes(needle), `'${needle}' was written to the store`);
}

// Starts latch and reads its command line from /proc while it runs.  spawn() returns
// after the exec, and latch cannot finish before this test yields to the event loop
// (the IdP runs in this process), so the read sees latch itself.
// `latch` execs `latch-cli` for most commands: a read in the middle of that exec sees an
// empty command line, so read again (bounded) until it shows one.
function runAndReadCmdline(args, options) {
  const handle = runLatch(args, options);
  let cmdline = '';
  for (let i = 0; i < 10_000 && cmdline === ''; i += 1)
    cmdline = readFileSync(`/proc/${handle.child.pid}/cmdline`, 'utf8');
  return { handle, cmdline };
}

describe('password and client credentials grants', { skip: SKIP_WITHOUT_LATCH }, () => {
  let idp;
  before(async () => { idp = await startIdp(); });
  after(async () => {
    await killAllLatch();
    await idp?.close();
    cleanupTempDirs();
  });

  test('password grant from the environment: stored, usable, the password nowhere', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const args = ['login', '--password', '--issuer', idp.issuer, '--client-id', 'latch-cli'];
    const { handle, cmdline } = runAndReadCmdline(args, { home, env: userEnv });
    assert.ok(cmdline.includes('--password'), `read the wrong process: ${cmdline}`);
    assert.ok(!cmdline.includes(PASSWORD), 'the password is on the command line');
    const login = await handle.exit;
    assert.equal(login.code, 0, `latch login --password failed:\n${login.stderr}`);
    assert.match(login.stderr, /warning: the password grant sends your password to the identity provider and bypasses MFA; prefer `latch login`/);
    assert.equal(login.stderr.match(/bypasses MFA/g).length, 1, 'the warning is printed once');
    assert.match(login.stderr, new RegExp(`Logged in to ${idp.issuer} as Alice \\(context 'default', password grant\\)\\.`));

    const creds = readJson(credentialsPath(home));
    assert.equal(creds.login_method, 'password');
    assert.equal(creds.client_id, 'latch-cli');
    assert.equal(creds.identity?.sub, 'alice');
    assert.equal(fileMode(credentialsPath(home)), 0o600);
    assert.equal(readJson(join(home, 'config.json')).contexts.default.issuer, idp.issuer);

    const token = await latch(['token'], { home });
    assert.equal(token.code, 0, token.stderr);
    assert.equal((await idpIntrospect(idp, token.stdout.trim())).active, true);
    const status = await latch(['status'], { home });
    assert.equal(status.code, 0, status.stderr);
    assertNowhere(PASSWORD, home, login, token, status);
  });

  test('a wrong password: exit 1 with the IdP\'s error, nothing stored', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const wrong = 'battery staple';
    const r = await latch(['login', '--password', '--issuer', idp.issuer, '--client-id', 'latch-cli'],
      { home, env: { LATCH_USERNAME: 'alice', LATCH_PASSWORD: wrong } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^latch: .*(invalid_grant|grant request is invalid|invalid resource owner credentials)/m);
    assert.ok(!existsSync(credentialsPath(home)), 'credentials were stored');
    assertNowhere(wrong, home, r);
  });

  test('password grant without LATCH_USERNAME/LATCH_PASSWORD asks for them', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const r = await latch(['login', '--password', '--issuer', idp.issuer, '--client-id', 'latch-cli'], { home });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /LATCH_USERNAME and LATCH_PASSWORD/);
    assert.ok(!existsSync(credentialsPath(home)));
  });

  test('password grant for a confidential client with LATCH_CLIENT_SECRET', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const secret = 'confidential-secret';
    const r = await latch(['login', '--password', '--issuer', idp.issuer, '--client-id', 'latch-confidential'],
      { home, env: { ...userEnv, LATCH_CLIENT_SECRET: secret } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readJson(credentialsPath(home)).login_method, 'password');
    assertNowhere(secret, home, r);
    assertNowhere(PASSWORD, home, r);
  });

  test('client credentials with --client-secret-file: an active token', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const secretFile = join(makeTempDir(), 'secret');
    writeFileSync(secretFile, 'service-secret\n', { mode: 0o600 });
    const login = await latch(['login', '--client-credentials', '--issuer', idp.issuer,
      '--client-id', 'latch-service', '--client-secret-file', secretFile], { home });
    assert.equal(login.code, 0, `latch login --client-credentials failed:\n${login.stderr}`);
    assert.match(login.stderr, /\(context 'default', client credentials\)/);
    const creds = readJson(credentialsPath(home));
    assert.equal(creds.login_method, 'client_credentials');
    assert.equal(creds.client_id, 'latch-service');

    const token = await latch(['token'], { home });
    assert.equal(token.code, 0, token.stderr);
    const info = await idpIntrospect(idp, token.stdout.trim());
    assert.equal(info.active, true);
    assertNowhere('service-secret', home, login, token);
  });

  test('latch token re-obtains a client-credentials token near expiry (no refresh token)', { timeout: TEST_TIMEOUT }, async () => {
    // A 60 s token with 25 s left, under half its life: `latch token` re-obtains it. (Before
    // issue 17 #6 any token under 5 minutes was re-obtained at every use, fresh or not.)
    idp.setOption('ttl.ClientCredentials', 60);
    try {
      const home = freshLatchHome();
      const env = { LATCH_CLIENT_SECRET: 'service-secret' };
      const login = await latch(['login', '--client-credentials', '--issuer', idp.issuer,
        '--client-id', 'latch-service'], { home, env });
      assert.equal(login.code, 0, login.stderr);
      const first = readJson(credentialsPath(home)).tokens;
      assert.equal(first.refresh_token, undefined);
      const isoAt = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
      const age = () => {
        const aged = readJson(credentialsPath(home));
        aged.tokens.issued_at = isoAt(Date.now() - 35_000);
        aged.tokens.expires_at = isoAt(Date.now() + 25_000);
        writeFileSync(credentialsPath(home), JSON.stringify(aged));
      };
      age();

      const token = await latch(['token'], { home, env });
      assert.equal(token.code, 0, token.stderr);
      const fresh = token.stdout.trim();
      assert.notEqual(fresh, first.access_token, 'the token was not re-obtained');
      assert.equal((await idpIntrospect(idp, fresh)).active, true);
      assert.equal(readJson(credentialsPath(home)).tokens.access_token, fresh, 'the new token was not stored');
      assert.equal(readJson(credentialsPath(home)).login_method, 'client_credentials');

      // Without the secret it cannot: log in again (77), and says how.
      age();
      const noSecret = await latch(['token'], { home });
      assert.equal(noSecret.code, 77, noSecret.stderr);
      assert.match(noSecret.stderr, /LATCH_CLIENT_SECRET/);
      assertNowhere('service-secret', home, login, token, noSecret);
    } finally {
      idp.setOption('ttl.ClientCredentials', 3600);
    }
  });

  test('client credentials without a secret: a clear error', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const r = await latch(['login', '--client-credentials', '--issuer', idp.issuer,
      '--client-id', 'latch-service'], { home });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /LATCH_CLIENT_SECRET or pass --client-secret-file/);
    assert.ok(!existsSync(credentialsPath(home)));
  });
});

// Runs latch on a pseudo-terminal (util-linux `script`), answering its prompts:
// answers maps a prompt regexp to what is typed once it appears.  Resolves with
// { code, out } (the terminal's output: what the user would see).
function latchOnTty(args, home, answers) {
  const cmd = [LATCH_BIN_Q(), ...args].join(' ');
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], {
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LATCH_'))), LATCH_HOME: home },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  const pending = [...answers];
  child.stdout.setEncoding('utf8').on('data', (d) => {
    out += d;
    while (pending.length && pending[0][0].test(out)) child.stdin.write(pending.shift()[1]);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => child.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); }));
}
const LATCH_BIN_Q = () => `'${process.env.LATCH_BIN}'`;
const NO_SCRIPT = existsSync('/usr/bin/script') ? false : 'util-linux `script` is not installed';

describe('password grant prompted on a terminal', { skip: SKIP_WITHOUT_LATCH || NO_SCRIPT }, () => {
  let idp;
  before(async () => { idp = await startIdp(); });
  after(async () => { await idp?.close(); cleanupTempDirs(); });

  test('asks for the user name (echoed) and the password (not echoed)', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const r = await latchOnTty(['login', '--password', '--issuer', idp.issuer, '--client-id', 'latch-cli'], home,
      [[/Username: $/, 'alice\n'], [/Password: $/, `${PASSWORD}\n`]]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Username: alice/);
    assert.ok(!r.out.includes(PASSWORD), `the password was echoed:\n${r.out}`);
    assert.match(r.out, /as Alice \(context 'default', password grant\)/);
    assert.equal(readJson(credentialsPath(home)).login_method, 'password');
    assertNowhere(PASSWORD, home);
  });

  test('Ctrl-C at the password prompt: exit 130, nothing stored', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const r = await latchOnTty(['login', '--password', '--issuer', idp.issuer, '--client-id', 'latch-cli'], home,
      [[/Username: $/, 'alice\n'], [/Password: $/, '\x03']]);
    assert.equal(r.code, 130, r.out);
    assert.ok(!existsSync(credentialsPath(home)));
  });
});

describe('named contexts against two IdPs', { skip: SKIP_WITHOUT_LATCH }, () => {
  let idpA;
  let idpB;
  let home;
  before(async () => {
    [idpA, idpB] = await Promise.all([startIdp(), startIdp()]);
    home = freshLatchHome();
  });
  after(async () => {
    await killAllLatch();
    await idpA?.close();
    await idpB?.close();
    cleanupTempDirs();
  });

  const currentInConfig = () => readJson(join(home, 'config.json')).current_context;
  async function tokenOf(args, env = {}) {
    const r = await latch([...args, 'token'], { home, env });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  }

  test('add, list, and logins to each used alternately', { timeout: TEST_TIMEOUT }, async () => {
    let r = await latch(['context', 'add', 'a', '--issuer', idpA.issuer, '--client-id', 'latch-cli'], { home });
    assert.equal(r.code, 0, r.stderr);
    r = await latch(['context', 'add', 'b', '--issuer', idpB.issuer, '--client-id', 'latch-cli',
      '--scope', 'openid', '--scope', 'email', '--scope', 'offline_access'], { home });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(currentInConfig(), 'a', 'the first context added becomes current');
    assert.equal(fileMode(join(home, 'config.json')), 0o600);

    r = await latch(['context', 'list'], { home });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^\\* a\\s+${idpA.issuer}\\s+latch-cli`, 'm'));
    assert.match(r.stdout, new RegExp(`^  b\\s+${idpB.issuer}\\s+latch-cli\\s+openid email offline_access`, 'm'));

    // Logins with no --issuer: each context supplies its own.
    r = await latch(['--context', 'b', 'login', '--password'], { home, env: userEnv });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /context 'b'/);
    r = await latch(['login', '--password', '--context', 'a'], { home, env: userEnv });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readJson(credentialsPath(home, 'a')).issuer, idpA.issuer);
    const credsB = readJson(credentialsPath(home, 'b'));
    assert.equal(credsB.issuer, idpB.issuer);
    assert.equal(credsB.tokens.scope.split(' ').sort().join(' '), 'email offline_access openid');
    assert.equal(currentInConfig(), 'a', '--context changed the current context');

    // Alternately, by flag and by `context use`; each token belongs to its own IdP.
    for (const [args, own, other] of [[['--context', 'b'], idpB, idpA], [['--context', 'a'], idpA, idpB]]) {
      const t = await tokenOf(args);
      assert.equal((await idpIntrospect(own, t)).active, true);
      assert.equal((await idpIntrospect(other, t)).active, false);
    }
    r = await latch(['context', 'use', 'b'], { home });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(currentInConfig(), 'b');
    assert.equal((await idpIntrospect(idpB, await tokenOf([]))).active, true);
    r = await latch(['context', 'use', 'a'], { home });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await idpIntrospect(idpA, await tokenOf([]))).active, true);
    assertNowhere(PASSWORD, home);
  });

  test('precedence: --context > LATCH_CONTEXT > current, without changing the current one', { timeout: TEST_TIMEOUT }, async () => {
    let r = await latch(['context', 'add', 'c', '--issuer', idpA.issuer, '--client-id', 'latch-cli'], { home });
    assert.equal(r.code, 0, r.stderr);
    r = await latch(['context', 'use', 'a'], { home });
    assert.equal(r.code, 0, r.stderr);
    const cases = [
      { args: [], env: {}, want: 'a' },
      { args: [], env: { LATCH_CONTEXT: 'b' }, want: 'b' },
      { args: ['--context', 'c'], env: { LATCH_CONTEXT: 'b' }, want: 'c' },
      { args: ['--context', 'a'], env: { LATCH_CONTEXT: 'b' }, want: 'a' },
    ];
    for (const { args, env, want } of cases) {
      r = await latch([...args, 'context', 'current'], { home, env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), want, `context current with ${JSON.stringify({ args, env })}`);
      const st = await latch([...args, 'status', '--json'], { home, env });
      const s = JSON.parse(st.stdout);
      assert.equal(s.context, want);
      if (want === 'c') {
        assert.equal(st.code, 77, 'c has no login');
      } else {
        assert.equal(st.code, 0, st.stderr);
        assert.equal(s.issuer, want === 'b' ? idpB.issuer : idpA.issuer);
      }
      assert.equal(currentInConfig(), 'a', 'choosing a context for one command changed the current one');
    }
  });

  test('use/delete of unknown contexts fail; delete removes the credentials', { timeout: TEST_TIMEOUT }, async () => {
    let r = await latch(['context', 'use', 'nope'], { home });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no context named 'nope'/);
    r = await latch(['context', 'delete', 'nope'], { home });
    assert.equal(r.code, 1);

    assert.ok(existsSync(credentialsPath(home, 'b')));
    r = await latch(['context', 'delete', 'b'], { home });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(credentialsPath(home, 'b')), 'credentials of the deleted context remain');
    assert.ok(!('b' in readJson(join(home, 'config.json')).contexts));
    r = await latch(['context', 'list'], { home });
    assert.doesNotMatch(r.stdout, /^\s*\*?\s*b\s/m);
    assert.equal(currentInConfig(), 'a');
  });
});
