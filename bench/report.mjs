// Prints bench/run.sh's table from results.jsonl: medians over repetitions; ratios are taken
// within each repetition (same minute, same noise) and their median is shown.
//   node bench/report.mjs results.jsonl
import { readFileSync } from 'node:fs';

const rows = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map(JSON.parse);
const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const out = [];
const table = (head, body) => {
  out.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
  for (const r of body) out.push(`| ${r.join(' | ')} |`);
  out.push('');
};

// ---- refresh
const ref = rows.filter((r) => r.scenario === 'refresh');
const conns = [...new Set(ref.map((r) => r.connections))].sort((a, b) => a - b);
const clients = ['latch', 'wrk', 'openid-client'];
const reps = Math.max(0, ...rows.map((r) => r.rep ?? 0));
if (ref.length) out.push(`refresh: R requests over C keep-alive connections, one thread (medians of ${reps} runs)`, '');
const body = [];
const verdict = {};
for (const c of conns) {
  for (const cl of clients) {
    const rs = ref.filter((r) => r.connections === c && r.client === cl);
    if (!rs.length) continue;
    body.push([`${c}`, cl, f(median(rs.map((r) => r.req_per_s)), 0),
               f(median(rs.map((r) => r.cpu_us_per_req)), 1),
               f(median(rs.map((r) => r.cpu_us_per_req)) / 1000, 4),
               f(median(rs.map((r) => r.p50_ms)), 3), f(median(rs.map((r) => r.p99_ms)), 3),
               f(median(rs.map((r) => r.max_rss_kib)) / 1024, 1),
               `${rs.reduce((n, r) => n + r.failed, 0)}`]);
  }
  const ratio = (peer, key) => median([...Array(reps).keys()].map((i) => {
    const l = ref.find((r) => r.connections === c && r.client === 'latch' && r.rep === i + 1);
    const p = ref.find((r) => r.connections === c && r.client === peer && r.rep === i + 1);
    return l && p ? l[key] / p[key] : NaN;
  }));
  verdict[c] = { cpuWrk: ratio('wrk', 'cpu_us_per_req'), rpsWrk: ratio('wrk', 'req_per_s'),
                 cpuOidc: ratio('openid-client', 'cpu_us_per_req'),
                 rpsOidc: ratio('openid-client', 'req_per_s') };
}
if (ref.length) {
  table(['C', 'client', 'req/s', 'CPU µs/req', 'CPU s/1000 req', 'p50 ms', 'p99 ms', 'peak RSS MiB', 'failed'], body);
  table(['C', 'CPU/req latch÷wrk', 'req/s latch÷wrk', 'CPU/req latch÷openid-client', 'req/s latch÷openid-client'],
        conns.map((c) => [`${c}`, f(verdict[c].cpuWrk, 2), f(verdict[c].rpsWrk, 2),
                          f(verdict[c].cpuOidc, 3), f(verdict[c].rpsOidc, 1)]));
}

// ---- poll
const pollAll = rows.filter((r) => r.scenario === 'poll');
const poll = pollAll.filter((r) => !r.long);
const long = pollAll.filter((r) => r.long);
const drv = (r) => r.driver ?? 'coro';
const fl = [...new Set(poll.map((r) => r.flows))].sort((a, b) => a - b);
if (pollAll.length) {
  const pk = poll.find((r) => r.pending_polls >= 0)?.pending_polls;
  out.push('poll: F concurrent device flows on one thread (CPU 1; nginx on CPU 0), at most 64 in flight (medians); ' +
           'multi = transport::multi_driver (flows in a table, one timer queue), coro = one async_drive coroutine per flow; ' +
           (pk === undefined ? 'ended as planned = token' :
            `token after ${pk} authorization_pending polls; ended as planned = with the token`), '');
  // A flow ends with the token (as planned), at its own timeout, or with an error.
  const ended = (r, F) => (r.long ? `${r.ended_timeout}/${F} at their timeout` : `${r.ended_token}/${F}` +
    (r.ended_timeout ? ` (${r.ended_timeout} timeout)` : '')) + (r.ended_error ? ` (${r.ended_error} error)` : '');
  const groups = [];
  for (const F of fl) for (const d of ['multi', 'coro']) {
    const rs = poll.filter((r) => r.flows === F && drv(r) === d);
    if (rs.length) groups.push([`${F}`, d, rs]);
  }
  for (const r of long) groups.push([`${r.flows} (always pending)`, drv(r), [r]]);
  table(['F', 'driver', 'polls/s', 'CPU µs/poll', 'RSS bytes/flow', 'peak RSS MiB', 'late p50 ms', 'late p99 ms', 'late max ms', 'ended as planned'],
        groups.map(([F, d, rs]) => {
          const m = (k) => median(rs.map((r) => r[k]));
          return [F, d, f(m('polls_per_s'), 0), f(m('cpu_us_per_poll'), 1), f(m('rss_bytes_per_flow'), 0),
                  f(m('rss_peak_kib') / 1024, 1), f(m('late_p50_ms'), 2), f(m('late_p99_ms'), 2), f(m('late_max_ms'), 1),
                  rs.map((r) => ended(r, r.flows)).join(' ')];
        }));
}

// ---- token-cli
const cli = rows.filter((r) => r.scenario === 'token-cli');
const lt = cli.find((r) => r.command.startsWith('latch'));
const ct = cli.find((r) => r.command.startsWith('cat'));
if (lt && ct) {
  out.push(`token-cli: process start to exit (hyperfine -N, ${lt.runs} runs each, same run)`, '');
  table(['command', 'median ms', 'mean ms', 'min ms'],
        [lt, ct].map((r) => [r.command.split(' ')[0] === 'latch' ? '`latch token`' : '`cat` credentials',
                             f(r.median_ms, 2), f(r.mean_ms, 2), f(r.min_ms, 2)]));
}

// ---- embed
const emb = rows.filter((r) => r.scenario === 'embed');
const em = (mode, k) => median(emb.filter((r) => r.mode === mode).map((r) => r[k]));
if (emb.length) {
  out.push(`embed: an async server (Beast, one thread) answering wrk (C=${emb[0].connections}), ` +
           'without and with `co_await token_source.token()` per request (medians)', '');
  const cpuReq = (m) => median(emb.filter((r) => r.mode === m).map((r) => (r.cpu_s / r.requests) * 1e6));
  table(['mode', 'req/s', 'server CPU µs/req', 'token call p50 ns (per request)', 'token call p99 ns',
         'token call ns (loop of 1000)'],
        ['plain', 'token'].map((m) => [m, f(em(m, 'req_per_s'), 0), f(cpuReq(m), 2),
          m === 'token' ? f(em(m, 'token_ns_p50'), 0) : '—', m === 'token' ? f(em(m, 'token_ns_p99'), 0) : '—',
          f(em(m, 'loop_ns_per_call_p50'), 0)]));
}

// ---- targets
const v64 = verdict[64] ?? {};
const v1 = verdict[1] ?? {};
const fmax = Math.max(...fl);
const p100 = poll.filter((r) => r.flows === fmax && drv(r) === 'multi');
const pm = (k) => median(p100.map((r) => r[k]));
const yes = (b) => (b ? 'met' : 'MISSED');
out.push('targets (issue 16):');
if (ref.length) out.push(`P1 CPU/req ≤ 1.3× wrk: C=64 ${f(v64.cpuWrk, 2)}× — ${yes(v64.cpuWrk <= 1.3)}; ` +
         `C=1 ${f(v1.cpuWrk, 2)}× — ${yes(v1.cpuWrk <= 1.3)}; ` +
         `req/s ≥ 25× openid-client (C=64): ${f(v64.rpsOidc, 1)}× — ${yes(v64.rpsOidc >= 25)}`);
if (p100.length)
  out.push(`P2 F=${fmax} (multi): RSS/flow ${f(pm('rss_bytes_per_flow'), 0)} B ≤ 1024 — ${yes(pm('rss_bytes_per_flow') <= 1024)}; ` +
           `p99 lateness ${f(pm('late_p99_ms'), 2)} ms ≤ 20 — ${yes(pm('late_p99_ms') <= 20)}; ` +
           `CPU/poll ${f(pm('cpu_us_per_poll'), 1)} µs ≤ 20 — ${yes(pm('cpu_us_per_poll') <= 20)}`);
for (const r of long)
  out.push(`P2 F=${r.flows} waiting flows in one process: peak RSS ${f(r.rss_peak_kib / 1024, 0)} MiB ≤ 1536 — ` +
           `${yes(r.rss_peak_kib <= 1536 * 1024)}; p99 lateness ${f(r.late_p99_ms, 2)} ms; ` +
           `${r.ended_timeout}/${r.flows} waited to their timeout, ${r.ended_error} errors`);
if (lt && ct)
  out.push(`P3 latch token ÷ cat: ${f(lt.median_ms / ct.median_ms, 2)}× ≤ 1.2 — ${yes(lt.median_ms <= 1.2 * ct.median_ms)}; ` +
           `vs gh auth token (~50 ms): ${f(50 / lt.median_ms, 0)}× faster (target ≥ 25×)`);
if (emb.length)
  out.push(`embedding: token call ${f(em('token', 'loop_ns_per_call_p50'), 0)} ns at the median ≤ 1000 — ` +
           `${yes(em('token', 'loop_ns_per_call_p50') <= 1000)}; req/s with ÷ without the call: ` +
           `${f(em('token', 'req_per_s') / em('plain', 'req_per_s'), 3)}`);
console.log(out.join('\n'));
