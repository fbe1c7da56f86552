// The demo's user (README command 1): approves a device login in latch-idp's own
// verification page with Debian's headless chromium (playwright-core drives it; no server
// here). The password comes from $DEMO_PASSWORD, never argv.
//
//   DEMO_PASSWORD=... node scripts/demo_approve.mjs VERIFICATION_URL USER_CODE USERNAME
import { approveDevice, closeBrowser } from '../tests/e2e/lib.mjs';

const [url, userCode, login] = process.argv.slice(2);
const password = process.env.DEMO_PASSWORD;
if (!url || !userCode || !login || !password) {
  console.error('demo_approve: usage: DEMO_PASSWORD=... node scripts/demo_approve.mjs URL USER_CODE USERNAME');
  process.exit(2);
}
let status = 1;
try {
  const result = await approveDevice({ url, userCode, login, password });
  console.log(`[chromium: ${result.pages.join(' -> ')} -> "${result.title}"]`);
  status = 0;
} catch (e) {
  console.error(`demo_approve: ${e.message}`);
} finally {
  await closeBrowser();
}
process.exit(status);
