// Helpers for the end-to-end tests (node:test): the test IdP, running the built
// `latch` with a fresh LATCH_HOME, and a user in Debian's chromium (playwright-core,
// no downloaded browser) going through oidc-provider's own device and login pages.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import { startIdp as startOidcProvider } from '../idp/idp.mjs';
import { LATCH_IDP_PASSWORD, latchIdpLacks, startLatchIdpAsTestIdp } from './latch_idp_test_idp.mjs';

// The IdP the journeys run against: oidc-provider (default) or, with LATCH_E2E_IDP=latch-idp,
// our own latch-idp (latch_idp_test_idp.mjs; ctest runs both as e2e.* and e2e_idp.*).
export const E2E_IDP = process.env.LATCH_E2E_IDP === 'latch-idp' ? 'latch-idp' : 'oidc-provider';
export function startIdp(opts) {
  return E2E_IDP === 'latch-idp' ? startLatchIdpAsTestIdp(opts) : startOidcProvider(opts);
}
export { latchIdpLacks };
// The users' password on the IdP's pages.
const USER_PASSWORD = E2E_IDP === 'latch-idp' ? LATCH_IDP_PASSWORD : 'x';

// `latch login` against the test IdP's public client, no QR code, bounded.
export const loginArgs = (idp) => ['login', '--issuer', idp.issuer, '--client-id', 'latch-cli', '--no-qr', '--timeout', '120'];

export const LATCH_BIN = process.env.LATCH_BIN;
// For `test(name, { skip: SKIP_WITHOUT_LATCH }, ...)`.
export const SKIP_WITHOUT_LATCH = LATCH_BIN ? false
  : 'LATCH_BIN is not set: build `latch` and run with LATCH_BIN=/path/to/latch';

export const CHROMIUM = process.env.LATCH_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync'];

// ---- files -------------------------------------------------------------------------
export function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

// Permission bits, e.g. 0o600.
export function fileMode(path) {
  return statSync(path).mode & 0o777;
}

const tempDirs = [];
// A fresh directory under the system temp dir, removed by cleanupTempDirs().
export function makeTempDir(prefix = 'latch-e2e-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function cleanupTempDirs() {
  while (tempDirs.length) rmSync(tempDirs.pop(), { recursive: true, force: true });
}

// A LATCH_HOME path that does not exist yet (latch must create it, mode 0700).
export function freshLatchHome() {
  return join(makeTempDir(), 'latch');
}

// ---- running latch -----------------------------------------------------------------
const running = new Set();

function waitForText(handle, stream, pattern, timeoutMs) {
  const read = () => (stream === 'stderr' ? handle.stderr : handle.stdout);
  const match = () => (pattern instanceof RegExp ? pattern.exec(read()) : (read().includes(pattern) ? [pattern] : null));
  return new Promise((resolve, reject) => {
    const first = match();
    if (first) { resolve(first); return; }
    const source = handle.child[stream];
    let timer;
    const finish = (fn, value) => {
      clearTimeout(timer);
      source.off('data', onData);
      handle.child.off('exit', onExit);
      fn(value);
    };
    const onData = () => { const m = match(); if (m) finish(resolve, m); };
    const onExit = (code, signal) => {
      // 'exit' may precede the last 'data' events; give the pipes their final chunks.
      setImmediate(() => {
        const m = match();
        if (m) finish(resolve, m);
        else finish(reject, new Error(`latch exited (code ${code}, signal ${signal}) before ${stream} matched ${pattern}\n--- ${stream}:\n${read()}`));
      });
    };
    timer = setTimeout(() => finish(reject,
      new Error(`${stream} did not match ${pattern} within ${timeoutMs} ms\n--- ${stream}:\n${read()}`)), timeoutMs);
    source.on('data', onData);
    handle.child.once('exit', onExit);
  });
}

// Starts `latch args...`.  env entries are added to the environment (LATCH_* and
// browser/display variables from the caller's environment are dropped first), home is
// LATCH_HOME (default: a fresh path).  Returns a handle; `await handle.exit` gives
// { code, signal, stdout, stderr, timedOut }.
export function runLatch(args, { env = {}, home, stdin, timeoutMs = 60_000 } = {}) {
  if (!LATCH_BIN) throw new Error('LATCH_BIN is not set');
  const latchHome = home ?? freshLatchHome();
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) =>
    !k.startsWith('LATCH_') && !['DISPLAY', 'WAYLAND_DISPLAY', 'BROWSER'].includes(k)));
  const child = spawn(LATCH_BIN, args, {
    env: { ...baseEnv, LATCH_HOME: latchHome, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const handle = {
    child,
    home: latchHome,
    stdout: '',
    stderr: '',
    timedOut: false,
    waitForStderr(pattern, ms = 15_000) { return waitForText(handle, 'stderr', pattern, ms); },
    waitForStdout(pattern, ms = 15_000) { return waitForText(handle, 'stdout', pattern, ms); },
    kill(signal = 'SIGTERM') { if (child.exitCode === null && child.signalCode === null) child.kill(signal); },
  };
  child.stdout.setEncoding('utf8').on('data', (d) => { handle.stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { handle.stderr += d; });
  child.stdin.on('error', () => {});
  // stdin: text to send (then EOF); 'open' keeps the pipe open for handle.child.stdin
  // writes (a pasted URL); default: EOF at once.
  if (stdin === 'open') { /* the test writes and ends it */ } else if (stdin !== undefined) child.stdin.end(stdin);
  else child.stdin.end();

  const timer = setTimeout(() => { handle.timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
  running.add(handle);
  handle.exit = new Promise((resolve, reject) => {
    child.once('error', (err) => { clearTimeout(timer); running.delete(handle); reject(err); });
    // 'close' fires after the process exited and its pipes were drained.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(handle);
      resolve({ code, signal, stdout: handle.stdout, stderr: handle.stderr, timedOut: handle.timedOut });
    });
  });
  return handle;
}

// Runs latch to completion.
export function latch(args, options) {
  return runLatch(args, options).exit;
}

// Kills every latch still running (for after() hooks).
export async function killAllLatch() {
  const pending = [...running];
  for (const h of pending) h.kill('SIGKILL');
  await Promise.allSettled(pending.map((h) => h.exit));
}

// Parses the device login prompt latch prints on stderr (see the CLI contract).
export async function devicePrompt(handle, timeoutMs = 15_000) {
  const [, userCode] = await handle.waitForStderr(/enter the code:\s*([A-Z]{4}(?:-[A-Z]{4})+)/, timeoutMs);
  const [, completeUrl] = await handle.waitForStderr(/\(or open (\S+)\)/, timeoutMs);
  const [, url] = await handle.waitForStderr(/open this URL in a browser:\s*(\S+)/, timeoutMs);
  return { userCode, url, completeUrl };
}

// A BROWSER script that writes the URL it was given to a file.
export function browserScript() {
  const dir = makeTempDir('latch-browser-');
  const out = join(dir, 'url.txt');
  const script = join(dir, 'browser.sh');
  writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "$1" > "${out}.tmp" && mv "${out}.tmp" "${out}"\n`);
  chmodSync(script, 0o755);
  return { script, out };
}

// Polls (bounded) for the URL the script received.
export async function handedUrl(out, ms = 15_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (existsSync(out)) return readFileSync(out, 'utf8').trim();
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the BROWSER script was not run within ${ms} ms`);
}

// True when nothing listens on 127.0.0.1:port (e.g. latch's loopback listener has closed).
export function portIsClosed(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

// ---- the browser ---------------------------------------------------------------------
let browserPromise;

// One chromium per test file, started on first use; closeBrowser() in after().  A
// normal (non-persistent) launch: playwright gives it a fresh temporary profile.
export function browser() {
  if (!browserPromise) {
    browserPromise = chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30_000,
    });
  }
  return browserPromise;
}

export async function closeBrowser() {
  if (!browserPromise) return;
  const b = await browserPromise.catch(() => undefined);
  browserPromise = undefined;
  await b?.close().catch(() => {});
}

const isLoopback = (url) => {
  try {
    const { hostname, protocol } = new URL(url);
    return protocol === 'data:' || protocol === 'about:'
      || ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
  } catch { return false; }
};

// A fresh browser context (no cookies: a new user) whose requests may only reach
// loopback addresses (oidc-provider's pages import a web font; there is no network).
export async function newPage() {
  const context = await (await browser()).newContext();
  await context.route('**/*', (route) => (isLoopback(route.request().url())
    ? route.continue() : route.abort()));
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return { context, page };
}

// Which of oidc-provider's pages is showing.
async function pageKind(page) {
  if (await page.title().catch(() => '') === 'Submitting Callback') {
    // oidc-provider's auto-submitting form (the complete verification URI): wait for
    // the page it posts to.
    await page.locator('title', { hasNotText: 'Submitting Callback' }).waitFor({ state: 'attached' });
    await page.waitForLoadState('load');
  }
  if (await page.locator('form[action="/device"] input[name=user_code]').count()) return 'latch-device';
  if (await page.locator('form[action="/oauth2/authorize"] input[name=username]').count()) return 'latch-login';
  if (await page.locator('form#op\\.deviceInputForm').count()) return 'code-input';
  if (await page.locator('form#op\\.deviceConfirmForm').count()) return 'device-confirm';
  if (await page.locator('input[name=prompt][value=login]').count()) return 'login';
  if (await page.locator('input[name=prompt][value=consent]').count()) return 'consent';
  return 'other';
}

async function submitAndWait(page, clickable) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), clickable.click()]);
}

async function lastPage(page, seen) {
  return {
    pages: seen, url: page.url(), title: await page.title(), text: await page.innerText('body').catch(() => ''),
  };
}

// Steps through oidc-provider's pages as a user would, until none of them shows.
// deny: false | 'consent' (the [ Cancel ] link on the consent page) | 'confirm'
// (the [ Abort ] button on the device confirmation page); true means 'consent'.
export async function walkPages(page, { userCode, login, password, deny }) {
  const denyAt = deny === true ? 'consent' : deny;
  const seen = [];
  for (let step = 0; step < 12; step += 1) {
    const kind = await pageKind(page);
    seen.push(kind);
    switch (kind) {
      case 'code-input': {
        // Shown again after a step (a rejected code, a denial): that is the outcome.
        if (step > 0) return lastPage(page, seen);
        if (!userCode) throw new Error('the device page asks for a code but none was given');
        await page.fill('input[name=user_code]', userCode);
        await submitAndWait(page, page.locator('button[form="op.deviceInputForm"]'));
        break;
      }
      case 'latch-device': {
        // latch-idp's one-form page: code, user name, password, Approve / Deny.
        if (step > 0) return lastPage(page, seen);
        const code = page.locator('input[name=user_code]');
        if (userCode && !(await code.inputValue())) await code.fill(userCode);
        await page.fill('input[name=username]', login);
        await page.fill('input[name=password]', password);
        await submitAndWait(page, page.locator(`button[value=${denyAt ? 'deny' : 'approve'}]`));
        break;
      }
      case 'latch-login':
        if (step > 0) return lastPage(page, seen);
        await page.fill('input[name=username]', login);
        await page.fill('input[name=password]', password);
        await submitAndWait(page, page.locator('button'));
        break;
      case 'device-confirm':
        await submitAndWait(page, denyAt === 'confirm'
          ? page.locator('button[name=abort]')
          : page.locator('button[autofocus][form="op.deviceConfirmForm"]'));
        break;
      case 'login':
        await page.fill('input[name=login]', login);
        await page.fill('input[name=password]', password);
        await submitAndWait(page, page.locator('button[type=submit]'));
        break;
      case 'consent':
        await submitAndWait(page, denyAt === 'consent'
          ? page.locator('a', { hasText: '[ Cancel ]' })
          : page.locator('button[type=submit]'));
        break;
      default:
        return lastPage(page, seen);
    }
  }
  throw new Error(`too many pages: ${seen.join(' -> ')}`);
}

// Approves (or denies) a device login on the IdP's pages.  url is the verification
// URI (the code is then typed) or the complete one.  Returns { pages, url, title, text }
// of the last page.
export async function approveDevice({ url, userCode, login = 'alice', password = USER_PASSWORD, deny = false }) {
  const { context, page } = await newPage();
  try {
    await page.goto(url, { waitUntil: 'load' });
    const result = await walkPages(page, { userCode, login, password, deny });
    if (!deny && !/Sign-in Success|Device approved/i.test(result.title)) {
      throw new Error(`device approval did not end on the success page: ${result.pages.join(' -> ')}: ${result.title}: ${result.text}`);
    }
    return result;
  } finally {
    await context.close().catch(() => {});
  }
}

// Logs in through an authorization URL (login + consent), then lets the browser
// follow the redirect to the client's loopback listener.  Returns the last page.
export async function browserLogin(url, { login = 'alice', password = USER_PASSWORD, deny = false } = {}) {
  const { context, page } = await newPage();
  try {
    await page.goto(url, { waitUntil: 'load' });
    return await walkPages(page, { login, password, deny });
  } finally {
    await context.close().catch(() => {});
  }
}

// ---- the IdP's view ------------------------------------------------------------------
// Device-code polls (token requests) for the device code whose user code is userCode.
export function devicePolls(idp, userCode) {
  const auth = idp.log.find((e) => e.route === 'device_authorization' && e.response?.user_code === userCode);
  if (!auth) return [];
  const code = auth.response.device_code;
  return idp.log.filter((e) => e.route === 'token' && e.params?.device_code === code);
}

export async function idpIntrospect(idp, token) {
  const res = await fetch(`${idp.issuer}/_test/introspect?token=${encodeURIComponent(token)}`);
  return res.json();
}
