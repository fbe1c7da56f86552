// The peer in the `refresh` scenario: openid-client (npm, pinned in package.json) doing the
// same refresh loop as latch-bench — C concurrent loops of refreshTokenGrant against the
// canned token endpoint, found through the canned discovery document, for D seconds.
// Prints one JSON line like latch-bench's (CPU from process.cpuUsage over the loop only).
//
//   node bench/peer/openid_refresh.mjs --issuer URL --connections C --seconds D
import * as client from 'openid-client';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    issuer: { type: 'string' },
    connections: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '5' },
  },
});
const C = Number(a.connections);
const D = Number(a.seconds);

// Plain http is allowed only because the canned server is on loopback.
const config = await client.discovery(new URL(a.issuer), 'latch-bench', undefined, client.None(),
                                      { execute: [client.allowInsecureRequests] });
const refreshToken = 'bench-refresh-token-0123456789abcdef';

let ok = 0, failed = 0, firstError = '';
const lat = [];
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const stopAt = t0 + D * 1000;

async function loop() {
  while (performance.now() < stopAt) {
    const s = performance.now();
    try {
      const tokens = await client.refreshTokenGrant(config, refreshToken);
      if (!tokens.access_token) throw new Error('no access_token');
      lat.push(performance.now() - s);
      ++ok;
    } catch (e) {
      if (failed++ === 0) firstError = String(e?.message ?? e);
    }
  }
}
await Promise.all(Array.from({ length: C }, loop));
const wall = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuS = (cpu.user + cpu.system) / 1e6;
lat.sort((x, y) => x - y);
const pct = (p) => (lat.length ? lat[Math.max(0, Math.ceil(p / 100 * lat.length) - 1)] : 0);
console.log(JSON.stringify({
  scenario: 'refresh', client: 'openid-client', connections: C, ok, failed,
  seconds: +wall.toFixed(3), req_per_s: +(ok / wall).toFixed(1), cpu_s: +cpuS.toFixed(3),
  cpu_us_per_req: ok ? +(cpuS / ok * 1e6).toFixed(2) : 0,
  p50_ms: +pct(50).toFixed(3), p99_ms: +pct(99).toFixed(3),
  max_rss_kib: process.resourceUsage().maxRSS,
}));
if (failed) console.error(`openid_refresh: ${failed} failed; first: ${firstError}`);
process.exit(ok > 0 && failed === 0 ? 0 : 1);
