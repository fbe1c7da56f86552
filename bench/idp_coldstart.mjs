// Cold start and idle memory for bench/idp.sh: N times, starts a server COMMAND that prints
// its URL as its first line on stdout (`latch-idp serve` on an existing data dir, or a peer),
// pinned with taskset -c CPU, times exec -> the first 200 from
// /.well-known/openid-configuration (polled every 1 ms, bounded to 5 s), reads VmRSS
// from /proc/PID/status after IDLE_MS more of idleness, then stops it (SIGTERM, bounded).
// Prints one JSON line (ms, KiB).
//
//   node bench/idp_coldstart.mjs --runs N [--cpu 0] [--idle-ms 500] -- COMMAND [ARG]...
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const dashes = process.argv.indexOf('--');
const args = process.argv.slice(2, dashes < 0 ? undefined : dashes);
const command = dashes < 0 ? [] : process.argv.slice(dashes + 1);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i < 0 ? dflt : args[i + 1]; };
const runs = Number(opt('runs', 10));
const cpu = opt('cpu', '0');
const idleMs = Number(opt('idle-ms', 500));
if (!command.length || !(runs > 0)) {
  console.error('idp_coldstart: usage: node idp_coldstart.mjs --runs N [--cpu 0] [--idle-ms 500] -- COMMAND [ARG]...');
  process.exit(2);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const get = (u) => new Promise((resolve) => {
  const req = http.get(u, { agent: false, timeout: 1000 }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
  req.on('error', () => resolve(0));
  req.on('timeout', () => req.destroy());
});
const vmRss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

async function once() {
  const t0 = performance.now();
  const child = spawn('taskset', ['-c', cpu, ...command],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((r) => child.once('exit', r));
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL in 5 s: ${err}`)), 5000);
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) { clearTimeout(timer); resolve(out.split('\n')[0].trim()); }
      });
      exited.then((code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${err}`)); });
    });
    const urlMs = performance.now() - t0;
    const wk = `${url}/.well-known/openid-configuration`;
    for (;;) {
      if (await get(wk) === 200) break;
      if (performance.now() - t0 > 5000) throw new Error('no 200 from discovery within 5 s');
      await sleep(1);
    }
    const readyMs = performance.now() - t0;
    await sleep(idleMs);
    return { readyMs, urlMs, rssKib: vmRss(child.pid) };
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

const results = [];
for (let i = 0; i < runs; i += 1) results.push(await once());
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const ready = results.map((r) => r.readyMs);
console.log(JSON.stringify({
  runs, ready_median_ms: median(ready), ready_min_ms: Math.min(...ready), ready_max_ms: Math.max(...ready),
  url_median_ms: median(results.map((r) => r.urlMs)), idle_rss_median_kib: median(results.map((r) => r.rssKib)),
  idle_rss_max_kib: Math.max(...results.map((r) => r.rssKib)),
}));
