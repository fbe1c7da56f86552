// The main job (README command 1): a real device-flow login against the bundled test IdP,
// approved by a scripted demo user in the IdP's own pages (headless chromium), then
// `latch status`, `latch token` (shown redacted here) and `latch logout`.
import { startIdp, runLatch, latch, devicePrompt, approveDevice, closeBrowser,
         freshLatchHome, cleanupTempDirs } from '../tests/e2e/lib.mjs';

if (!process.env.LATCH_BIN) {
  console.error('demo: set LATCH_BIN to the built latch binary');
  process.exit(2);
}
const step = (s) => console.log(`\n\x1b[1m== ${s}\x1b[0m`);
const show = (r) => {
  if (r.stdout.trim()) console.log(r.stdout.trimEnd());
  if (r.stderr.trim()) console.log(r.stderr.trimEnd());
  console.log(`(exit ${r.code})`);
};

let idp;
let status = 1;
try {
  idp = await startIdp({ interval: 2 });
  step(`test IdP (oidc-provider) listening at ${idp.issuer}`);
  const home = freshLatchHome();

  step(`latch login --issuer ${idp.issuer} --client-id latch-cli`);
  const login = runLatch(['login', '--issuer', idp.issuer, '--client-id', 'latch-cli'], { home });
  const prompt = await devicePrompt(login);
  console.log(login.stderr.trimEnd());
  console.log(`[demo user 'alice' opens ${prompt.url}, signs in and approves code ${prompt.userCode}]`);
  await approveDevice({ url: prompt.url, userCode: prompt.userCode, login: 'alice' });
  const done = await login.exit;
  console.log(done.stderr.split('\n')
    .filter((l) => l.startsWith('Logged in') || l.startsWith('latch:')).join('\n'));
  console.log(`(exit ${done.code})`);
  if (done.code !== 0) throw new Error('login failed');

  step('latch status');
  show(await latch(['status'], { home }));
  step('latch token | (redacted by the demo)');
  const tok = await latch(['token'], { home });
  const t = tok.stdout.trim();
  console.log(`${t.slice(0, 6)}…${t.slice(-4)}  (${t.length} characters; exit ${tok.code})`);
  step('latch logout');
  show(await latch(['logout'], { home }));
  step('latch status (after logout: 77 means "log in again")');
  const after = await latch(['status'], { home });
  show(after);
  status = after.code === 77 ? 0 : 1;
} catch (e) {
  console.error(`demo failed: ${e.message}`);
} finally {
  await closeBrowser();
  await idp?.close();
  cleanupTempDirs();
}
process.exit(status);
