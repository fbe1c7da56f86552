// Prints bench/idp.sh's table from its JSON lines: per figure latch-idp's value (median of
// the repetitions), the target (issue 13), the peer's value, and whether the target is met.
//
//   node bench/idp_report.mjs idp.jsonl
import { readFileSync } from 'node:fs';

const rows = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const of = (label) => rows.filter((r) => r.label === label);
const median = (xs) => { const s = xs.filter((x) => x != null).sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : undefined; };
const med = (label, key) => median(of(label).map((r) => r[key]));
const sum = (label, key) => of(label).reduce((a, r) => a + (r[key] ?? 0), 0);
const fmt = (x, digits = 0) => (x === undefined || Number.isNaN(x) ? 'n/a'
  : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
const verdict = (ok) => (ok === undefined ? '' : ok ? 'met' : '**missed**');

const cc = med('cc-latch-idp', 'req_per_s');
const ccPeer = med('cc-oidc-provider', 'req_per_s');
const gs = med('get-session-latch-idp', 'req_per_s');
const gsPeer = med('get-session-better-auth', 'req_per_s');
const gsP99 = med('get-session-latch-idp', 'p99_ms');
const cpuPer = (l) => { const r = of(l)[0]; return r ? r.cpu_ms_total / r.sent : undefined; };
const hash = cpuPer('signin-cpu-latch-idp');
const loadedP99 = med('get-session-loaded-latch-idp', 'p99_ms');
const startMs = med('start-latch-idp', 'ready_median_ms');
const rssKib = med('start-latch-idp', 'idle_rss_median_kib');
const signins = (l) => { const r = of(`signin-load-${l}`)[0]; return r ? `${fmt(r.ok_per_s, 1)} ok/s of ${fmt(r.sent_per_s, 1)} sent/s (${Object.entries(r.statuses).map(([k, v]) => `${k}: ${v}`).join(', ')})` : 'n/a'; };
// Server CPU per request (µs) and what it would serve with a whole core to itself.
const cpu = (l) => { const us = med(l, 'cpu_us_per_req'); return us ? `${fmt(us)} µs (${fmt(1e6 / us)}/s)` : 'n/a'; };
const cpuRatio = (ours, peer) => `${fmt(med(peer, 'cpu_us_per_req') / med(ours, 'cpu_us_per_req'), 1)}×`;
const share = (l) => fmt(100 * med(l, 'server_cpu_share'));
// A p99 of a run in which nothing was answered is not a latency.
const p99Of = (l) => (med(l, 'requests') === 0 ? 'none answered within 5 s' : fmt(med(l, 'p99_ms'), 2));
const errs = (l) => sum(l, 'non_2xx') + sum(l, 'errors');

const table = [
  ['client_credentials token endpoint, req/s (wrk -c16)', fmt(cc), '≥ 10,000 and ≥ 4.5× peer',
    `oidc-provider ${fmt(ccPeer)}`, `${fmt(cc / ccPeer, 1)}×`, verdict(cc >= 10000 && cc >= 4.5 * ccPeer)],
  ['  p50 / p99, ms', `${fmt(med('cc-latch-idp', 'p50_ms'), 2)} / ${fmt(med('cc-latch-idp', 'p99_ms'), 2)}`, 'p99 ≤ 10',
    `${fmt(med('cc-oidc-provider', 'p50_ms'), 2)} / ${fmt(med('cc-oidc-provider', 'p99_ms'), 2)}`, '', verdict(med('cc-latch-idp', 'p99_ms') <= 10)],
  ['  server CPU per request (→ req/s with a whole core)', cpu('cc-latch-idp'), '', cpu('cc-oidc-provider'), cpuRatio('cc-latch-idp', 'cc-oidc-provider'), ''],
  ['get-session with a cookie, req/s (wrk -c16)', fmt(gs), '≥ 20,000 and ≥ 20× peer',
    `Better Auth ${fmt(gsPeer)}`, `${fmt(gs / gsPeer, 1)}×`, verdict(gs >= 20000 && gs >= 20 * gsPeer)],
  ['  p50 / p99, ms', `${fmt(med('get-session-latch-idp', 'p50_ms'), 2)} / ${fmt(gsP99, 2)}`, 'p99 ≤ 2',
    `${fmt(med('get-session-better-auth', 'p50_ms'), 2)} / ${fmt(med('get-session-better-auth', 'p99_ms'), 2)}`, '', verdict(gsP99 <= 2)],
  ['  server CPU per request (→ req/s with a whole core)', cpu('get-session-latch-idp'), '', cpu('get-session-better-auth'),
    cpuRatio('get-session-latch-idp', 'get-session-better-auth'), ''],
  ['CPU per sign-in (argon2id 19 MiB t=2 p=1), ms', fmt(hash, 1), '≤ 40',
    `Better Auth (scrypt) ${fmt(cpuPer('signin-cpu-better-auth'), 1)}`, '', verdict(hash <= 40)],
  ['  sign-in latency one at a time, p50 ms', fmt(of('signin-cpu-latch-idp')[0]?.p50_ms, 1), '',
    fmt(of('signin-cpu-better-auth')[0]?.p50_ms, 1), '', ''],
  ['get-session p99 while 100 sign-ins/s are offered, ms', fmt(loadedP99, 2), '≤ 5',
    `Better Auth ${p99Of('get-session-loaded-better-auth')}`, '', verdict(loadedP99 <= 5)],
  ['  get-session req/s meanwhile', fmt(med('get-session-loaded-latch-idp', 'req_per_s')), '',
    fmt(med('get-session-loaded-better-auth', 'req_per_s')), '', ''],
  ['  peak RSS (VmHWM) after it, MB', fmt((of('signin-load-latch-idp')[0]?.vm_hwm_kib ?? NaN) / 1024, 1), '≤ 2 × 19 + 64',
    fmt((of('signin-load-better-auth')[0]?.vm_hwm_kib ?? NaN) / 1024, 1), '', verdict(of('signin-load-latch-idp')[0]?.vm_hwm_kib / 1024 <= 102)],
  ['idle RSS after start, MB', fmt(rssKib / 1024, 1), '≤ 20',
    `oidc-provider ${fmt(med('start-oidc-provider', 'idle_rss_median_kib') / 1024, 1)}, Better Auth ${fmt(med('rss-better-auth', 'idle_rss_kib') / 1024, 1)}`, '', verdict(rssKib / 1024 <= 20)],
  ['cold start: exec to first 200 from discovery, ms (median)', `${fmt(startMs, 1)} (${fmt(med('start-latch-idp', 'ready_min_ms'), 1)}–${fmt(med('start-latch-idp', 'ready_max_ms'), 1)})`, '≤ 100',
    `oidc-provider ${fmt(med('start-oidc-provider', 'ready_median_ms'), 1)}`, '', verdict(startMs <= 100)],
];
const reps = of('cc-latch-idp').length;
console.log(`\n| figure (server on CPU 0, load on CPU 1; median of ${reps}) | latch-idp | target | peer | ratio | |`);
console.log('|---|---|---|---|---|---|');
for (const r of table) console.log(`| ${r.join(' | ')} |`);
console.log(`\nSign-ins offered at 100/s during the loaded get-session run: latch-idp ${signins('latch-idp')}; Better Auth ${signins('better-auth')}.`);
console.log(`Non-2xx or socket errors in the wrk runs: latch-idp client_credentials ${errs('cc-latch-idp')}, get-session ${errs('get-session-latch-idp')}, loaded ${errs('get-session-loaded-latch-idp')}; oidc-provider ${errs('cc-oidc-provider')}; Better Auth ${errs('get-session-better-auth')}, loaded ${errs('get-session-loaded-better-auth')}.`);
console.log(`Share of CPU 0 the server got during the unloaded wrk runs (%): latch-idp client_credentials ${share('cc-latch-idp')}, get-session ${share('get-session-latch-idp')}; oidc-provider ${share('cc-oidc-provider')}; Better Auth ${share('get-session-better-auth')}.`);
console.log(`Load average during the wrk runs: ${[...new Set(rows.filter((r) => r.load).map((r) => r.load.split(' ')[0]))].join(', ')}.`);
