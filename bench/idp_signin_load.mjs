// Sign-in load for bench/idp.sh: POST /api/auth/sign-in/email ({email, password}, the
// password from $BENCH_PASSWORD) either at a fixed rate (--rate R --seconds S: request i
// leaves at start + i/R s whatever the answers, at most 256 in flight) or one after another
// (--sequential N). Prints one JSON line: counts per status, latencies of the 200s (ms),
// the rate sent (over the sending period) and the rate of 200s (until the last answer).
//
//   BENCH_PASSWORD=... node bench/idp_signin_load.mjs --url URL --email E (--rate R --seconds S | --sequential N)
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i < 0 ? dflt : args[i + 1]; };
const url = new URL('/api/auth/sign-in/email', opt('url'));
const body = JSON.stringify({ email: opt('email'), password: process.env.BENCH_PASSWORD ?? '' });
const rate = Number(opt('rate', 0));
const seconds = Number(opt('seconds', 0));
const sequential = Number(opt('sequential', 0));
if (!opt('url') || !opt('email') || !process.env.BENCH_PASSWORD || !(sequential > 0 || (rate > 0 && seconds > 0))) {
  console.error('idp_signin_load: usage: BENCH_PASSWORD=... node idp_signin_load.mjs --url URL --email E (--rate R --seconds S | --sequential N)');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const statuses = {};
const okMs = [];
let inFlight = 0;
let skipped = 0;

function signIn() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    inFlight += 1;
    const req = http.request(url, {
      method: 'POST', agent, timeout: 10_000,
      headers: { 'content-type': 'application/json', origin: url.origin, 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => {
        inFlight -= 1;
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        if (res.statusCode === 200) okMs.push(performance.now() - t0);
        resolve();
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => { inFlight -= 1; statuses[e.message] = (statuses[e.message] ?? 0) + 1; resolve(); });
    req.end(body);
  });
}

const start = performance.now();
let sendSeconds;
if (sequential > 0) {
  for (let i = 0; i < sequential; i += 1) await signIn();
} else {
  const total = Math.round(rate * seconds);
  const pending = [];
  for (let i = 0; i < total; i += 1) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (inFlight >= 256) { skipped += 1; continue; }
    pending.push(signIn());
  }
  sendSeconds = (performance.now() - start) / 1000;
  await Promise.all(pending);
}
const elapsed = (performance.now() - start) / 1000;
okMs.sort((a, b) => a - b);
const pct = (p) => (okMs.length ? okMs[Math.min(okMs.length - 1, Math.floor((p / 100) * okMs.length))] : null);
const sent = Object.values(statuses).reduce((a, b) => a + b, 0);
console.log(JSON.stringify({
  sent, skipped, seconds: elapsed, sent_per_s: sent / (sendSeconds ?? elapsed), ok: statuses[200] ?? 0,
  ok_per_s: (statuses[200] ?? 0) / elapsed, statuses, p50_ms: pct(50), p99_ms: pct(99),
}));
agent.destroy();
