// latch where tokens are used (issue 17): argument errors that never repeat a value, the
// --debug trace with every secret redacted, `latch exec` / `latch env`, the docker
// credential helper protocol, real `git clone` through `latch git-credential`, and real
// kubectl through `latch kubectl-credential`. Needs LATCH_BIN.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  SKIP_WITHOUT_LATCH, approveDevice, browserLogin, browserScript, cleanupTempDirs, closeBrowser, devicePrompt,
  freshLatchHome, handedUrl, idpIntrospect, killAllLatch, latch, loginArgs, makeTempDir, readJson, runLatch, startIdp,
} from './lib.mjs';
import { makeCert, startGitServer, startKubeStub } from './integrations_lib.mjs';

const TEST_TIMEOUT = 60_000;
const PASSWORD = 'correct horse';
const userEnv = { LATCH_USERNAME: 'alice', LATCH_PASSWORD: PASSWORD };
const credentialsPath = (home, ctx = 'default') => join(home, 'credentials', `${ctx}.json`);
const SECRET_ARG = 'eyJhbGciOiJub25lIn0.c2VjcmV0LXBheWxvYWQ.s3cr3t-arg-value-0123456789';

function assertAbsent(needle, r, what = 'the secret') {
  assert.ok(!r.stdout.includes(needle), `${what} appeared on stdout:\n${r.stdout}`);
  assert.ok(!r.stderr.includes(needle), `${what} appeared on stderr:\n${r.stderr}`);
}

// Runs a program other than latch with LATCH_HOME set; bounded.
async function run(cmd, args, { env = {}, stdin, timeoutMs = 30_000 } = {}) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdin.end(stdin ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = await once(child, 'close');
  clearTimeout(timer);
  return { code, stdout, stderr };
}

async function passwordLogin(idp, home, extra = []) {
  const r = await latch([...extra, 'login', '--password', '--issuer', idp.issuer, '--client-id', 'latch-cli'],
    { home, env: userEnv });
  assert.equal(r.code, 0, r.stderr);
  return r;
}

const tokenRequests = (idp) => idp.log.filter((e) => e.route === 'token').length;
const isActive = (idp) => async (token) => (await idpIntrospect(idp, token)).active === true;

describe('argument errors never repeat a value (issue 17, defect 1)', { skip: SKIP_WITHOUT_LATCH }, () => {
  after(cleanupTempDirs);

  for (const args of [
    ['login', '--token', SECRET_ARG],
    ['login', '--with-token', SECRET_ARG, '--issuer', 'https://idp.example'],
    ['login', `--token=${SECRET_ARG}`],
    ['login', `--with-token=${SECRET_ARG}`],
  ]) {
    test(`latch ${args[0]} ${args[1].slice(0, 13)}…: exit 2, the stdin form, the token nowhere`, async () => {
      const r = await latch(args);
      assert.equal(r.code, 2, r.stderr);
      assertAbsent(SECRET_ARG, r);
      assertAbsent('s3cr3t', r, 'part of the secret');
      assert.match(r.stderr, /tokens are read from stdin.*printf %s "\$TOK" \| latch login --with-token/);
    });
  }

  test('other bad arguments: values masked, option names kept', async () => {
    const typo = await latch(['login', '--timeout', SECRET_ARG]);
    assert.equal(typo.code, 2, typo.stderr);
    assertAbsent(SECRET_ARG, typo);
    assert.match(typo.stderr, /--timeout/);
    const extra = await latch(['status', SECRET_ARG]);
    assert.equal(extra.code, 2, extra.stderr);
    assertAbsent(SECRET_ARG, extra);
    assert.match(extra.stderr, /<value>.*values are not repeated/);
  });
});

describe('integrations against the test IdP', { skip: SKIP_WITHOUT_LATCH }, () => {
  let idp;
  before(async () => { idp = await startIdp(); });
  after(async () => {
    await killAllLatch();
    await closeBrowser();
    await idp?.close();
    cleanupTempDirs();
  });

  test('--debug / LATCH_DEBUG=1: requests, responses and timing; no secret whole', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const login = await passwordLogin(idp, home, ['--debug']);
    const creds = readJson(credentialsPath(home));
    const refresh = await latch(['refresh'], { home, env: { LATCH_DEBUG: '1' } });
    assert.equal(refresh.code, 0, refresh.stderr);
    const after = readJson(credentialsPath(home));
    for (const r of [login, refresh]) {
      assert.match(r.stderr, /^> POST \/token HTTP\/1\.1$|^> POST \S*token\S* HTTP\/1\.1$/m);
      assert.match(r.stderr, /^< HTTP\/1\.1 200 \(\d+ ms(, reused connection)?\)$/m);
      assert.match(r.stderr, /^> Content-Type: application\/x-www-form-urlencoded$/m);
      const secrets = [PASSWORD, encodeURIComponent(PASSWORD), creds.tokens.access_token,
        creds.tokens.refresh_token, creds.tokens.id_token, after.tokens.access_token,
        after.tokens.refresh_token, after.tokens.id_token];
      assert.equal(secrets.filter(Boolean).length, secrets.length, 'a secret to look for is missing');
      for (const secret of secrets) assertAbsent(secret, r, `a secret (${secret.slice(0, 6)}…)`);
    }
    assert.match(login.stderr, /password=…|password=\S+…/);
    assert.match(refresh.stderr, /refresh_token=\S{6}…\S{4}/);
    assert.match(login.stderr, /"access_token":"\S{6}…\S{4}"/);
    // Without the flag: no trace.
    const quiet = await latch(['token'], { home });
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /^[<>] /m);
  });

  test('--debug on a browser login: the authorization code and PKCE verifier never appear whole', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const b = browserScript();
    const h = runLatch(['--debug', ...loginArgs(idp), '--browser'], { home, env: { BROWSER: b.script } });
    await browserLogin(await handedUrl(b.out), { login: 'alice' });
    const done = await h.exit;
    assert.equal(done.code, 0, done.stderr);
    const grant = idp.log.filter((e) => e.route === 'token' && e.params?.grant_type === 'authorization_code').at(-1);
    const creds = readJson(credentialsPath(home));
    const secrets = [grant?.params?.code, grant?.params?.code_verifier, creds.tokens.access_token,
      creds.tokens.refresh_token, creds.tokens.id_token];
    assert.equal(secrets.filter(Boolean).length, secrets.length, 'a secret to look for is missing');
    for (const secret of secrets) assertAbsent(secret, done, `a secret (${secret.slice(0, 6)}…)`);
    assert.match(done.stderr, /^> grant_type=authorization_code&code=\S*…\S*&/m);
    assert.match(done.stderr, /code_verifier=\S{6}…\S{4}/);
  });

  test('latch exec puts the token in the environment, never on argv; latch env prints export', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    await passwordLogin(idp, home);
    const token = (await latch(['token'], { home })).stdout.trim();
    const r = await latch(['exec', '--', 'sh', '-c', 'printf %s "$LATCH_ACCESS_TOKEN"; tr "\\0" " " < /proc/$$/cmdline >&2'], { home });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, token);
    assert.ok(!r.stderr.includes(token), 'the token is on the child\'s argv');
    const named = await latch(['exec', '--env-name', 'API_TOKEN', '--', 'sh', '-c', 'printf %s "$API_TOKEN"'], { home });
    assert.equal(named.stdout, token);
    const missing = await latch(['exec', '--', 'no-such-command-latch'], { home });
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /cannot run no-such-command-latch/);
    const env = await latch(['env'], { home });
    assert.equal(env.code, 0, env.stderr);
    assert.equal(env.stdout, `export LATCH_ACCESS_TOKEN='${token}'\n`);
    const notLoggedIn = await latch(['exec', '--', 'true'], { home: freshLatchHome() });
    assert.equal(notLoggedIn.code, 77);
  });

  test('docker credential helper protocol: get, list; store and erase refused', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    await passwordLogin(idp, home);
    const token = (await latch(['token'], { home })).stdout.trim();
    const get = await latch(['docker-credential', 'get'], { home, stdin: 'registry.example:5000\n' });
    assert.equal(get.code, 0, get.stderr);
    const answer = JSON.parse(get.stdout);
    assert.equal(answer.ServerURL, 'registry.example:5000');
    assert.equal(answer.Secret, token);
    assert.ok(answer.Username.length > 0);
    const list = await latch(['docker-credential', 'list'], { home });
    assert.deepEqual(JSON.parse(list.stdout), {});
    for (const action of ['store', 'erase']) {
      const r = await latch(['docker-credential', action], { home, stdin: '{"ServerURL":"x","Username":"u","Secret":"s"}' });
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`does not ${action} credentials`));
    }
    const out = await latch(['docker-credential', 'get'], { home: freshLatchHome(), stdin: 'registry.example\n' });
    assert.equal(out.code, 77);
  });

  test('git clone over HTTP with latch as the credential helper (latch setup-git)', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    await passwordLogin(idp, home);
    const dir = makeTempDir();
    const gitEnv = { HOME: dir, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', LATCH_HOME: home,
      GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' };
    const src = join(dir, 'src');
    mkdirSync(src);
    execFileSync('git', ['init', '-q', '-b', 'main', src], { env: { ...process.env, ...gitEnv } });
    writeFileSync(join(src, 'README'), 'hello from the server\n');
    execFileSync('git', ['-C', src, 'add', 'README'], { env: { ...process.env, ...gitEnv } });
    execFileSync('git', ['-C', src, 'commit', '-q', '-m', 'first'], { env: { ...process.env, ...gitEnv } });
    execFileSync('git', ['clone', '-q', '--bare', src, join(dir, 'repos', 'app.git')], { env: { ...process.env, ...gitEnv } });
    const server = await startGitServer(join(dir, 'repos'), isActive(idp));
    try {
      // Without the helper: refused.
      const denied = await run('git', ['clone', '-q', `${server.url}/app.git`, join(dir, 'denied')], { env: gitEnv });
      assert.notEqual(denied.code, 0);
      const setup = await latch(['setup-git', '--url', server.url], { home, env: { HOME: dir, GIT_CONFIG_NOSYSTEM: '1' } });
      assert.equal(setup.code, 0, setup.stderr);
      assert.match(readFileSync(join(dir, '.gitconfig'), 'utf8'), /git-credential/);
      const clone = await run('git', ['clone', '-q', `${server.url}/app.git`, join(dir, 'clone')], { env: gitEnv });
      assert.equal(clone.code, 0, clone.stderr);
      assert.equal(readFileSync(join(dir, 'clone', 'README'), 'utf8'), 'hello from the server\n');
      assert.ok(server.attempts.some((a) => a.ok), 'the server never saw a valid token');
      // The token is not stored by git (store is accepted and ignored).
      assert.ok(!existsSync(join(dir, '.git-credentials')));
    } finally {
      await server.close();
    }
    const protocol = await latch(['git-credential', 'get'], { home, stdin: 'protocol=https\nhost=git.example\n\n' });
    assert.equal(protocol.code, 0, protocol.stderr);
    assert.match(protocol.stdout, /^username=.+\npassword=.+\npassword_expiry_utc=\d+\n$/);
  });

  test('kubectl get --raw /api through latch kubectl-credential; no login while the token lives', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    await passwordLogin(idp, home);
    const dir = makeTempDir();
    const tls = makeCert(dir, ['127.0.0.1']);
    const stub = await startKubeStub(tls, isActive(idp));
    const kubeconfig = join(dir, 'kubeconfig');
    const kenv = { HOME: dir, LATCH_HOME: home, KUBECONFIG: kubeconfig };
    try {
      const version = await run('kubectl', ['version', '--client', '-o', 'json'], { env: kenv });
      const minor = parseInt(JSON.parse(version.stdout).clientVersion.minor, 10);
      const apiVersion = minor >= 22 ? 'v1' : 'v1beta1';
      const add = await latch(['kubeconfig', 'add', '--kubeconfig', kubeconfig, '--api-version', apiVersion], { home, env: { HOME: dir } });
      assert.equal(add.code, 0, add.stderr);
      for (const args of [
        ['config', 'set-cluster', 'stub', `--server=${stub.url}`, `--certificate-authority=${tls.certPath}`],
        ['config', 'set-context', 'stub', '--cluster=stub', '--user=latch-default'],
        ['config', 'use-context', 'stub']]) {
        const r = await run('kubectl', args, { env: kenv });
        assert.equal(r.code, 0, r.stderr);
      }
      const before = tokenRequests(idp);
      const first = await run('kubectl', ['get', '--raw', '/api'], { env: kenv });
      assert.equal(first.code, 0, first.stderr);
      assert.equal(JSON.parse(first.stdout).kind, 'APIVersions');
      const second = await run('kubectl', ['get', '--raw', '/api'], { env: kenv });
      assert.equal(second.code, 0, second.stderr);
      assert.equal(tokenRequests(idp), before, 'kubectl made latch talk to the token endpoint');
      assert.ok(stub.calls.filter((c) => c.ok).length >= 2);
      // The plugin's own answer.
      const cred = await latch(['kubectl-credential'], { home, env: { KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', spec: { interactive: false } }) } });
      const ec = JSON.parse(cred.stdout);
      assert.equal(ec.apiVersion, 'client.authentication.k8s.io/v1beta1');
      assert.equal(ec.kind, 'ExecCredential');
      assert.match(ec.status.expirationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      // Logged out: kubectl fails, latch says to log in (exit 77 reaches kubectl).
      const out = await latch(['kubectl-credential'], { home: freshLatchHome() });
      assert.equal(out.code, 77);
    } finally {
      await stub.close();
    }
  });

  test('kubectl-credential on a terminal with no session: logs in first, stdout stays the ExecCredential', { timeout: TEST_TIMEOUT }, async () => {
    const home = freshLatchHome();
    const add = await latch(['context', 'add', 'default', '--issuer', idp.issuer, '--client-id', 'latch-cli'], { home });
    assert.equal(add.code, 0, add.stderr);
    const info = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', spec: { interactive: true } });
    const h = runLatch(['kubectl-credential'], { home, env: { KUBERNETES_EXEC_INFO: info } });
    const prompt = await devicePrompt(h);
    await approveDevice({ url: prompt.url, userCode: prompt.userCode, login: 'alice' });
    const done = await h.exit;
    assert.equal(done.code, 0, done.stderr);
    const cred = JSON.parse(done.stdout);
    assert.equal(cred.apiVersion, 'client.authentication.k8s.io/v1');
    assert.equal(cred.status.token, readJson(credentialsPath(home)).tokens.access_token);
    // Not interactive: no login, exit 77 with the advice.
    const quiet = await latch(['kubectl-credential'], { home: freshLatchHome() });
    assert.equal(quiet.code, 77);
    assert.match(quiet.stderr, /run `latch login`/);
    assert.equal(quiet.stdout, '');
  });
});
