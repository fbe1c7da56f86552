// Helpers for the attack tests against latch-idp (idp_attacks*.test.mjs): HTTP requests
// from a chosen loopback source address (Linux routes all of 127.0.0.0/8 to lo, so binding
// the client socket to 127.0.0.N is a distinct peer address for the server), read-only
// queries of the server's SQLite database, and a bounded wait clear of a rate-limit window
// edge. (Read-only queries of the database: idp_lib.mjs dbQuery.)
import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';

// One request on its own connection: { status, headers, text, json() }. `from` is the local
// address to send from (default 127.0.0.1). Body: a string, URLSearchParams (form) or an
// object (JSON).
export function request(url, { method = 'GET', headers = {}, body, from = '127.0.0.1', timeoutMs = 15_000 } = {}) {
  let payload;
  const h = { ...headers };
  if (body instanceof URLSearchParams) {
    payload = body.toString();
    h['content-type'] ??= 'application/x-www-form-urlencoded';
  } else if (typeof body === 'string') {
    payload = body;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    h['content-type'] ??= 'application/json';
  }
  if (payload !== undefined) h['content-length'] = Buffer.byteLength(payload);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: h, localAddress: from, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

// Runs `tasks` (functions returning promises) with at most `width` in flight; the results
// in order.
export async function pool(tasks, width) {
  const out = new Array(tasks.length);
  let next = 0;
  async function worker() {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]();
    }
  }
  await Promise.all(Array.from({ length: Math.min(width, tasks.length) }, worker));
  return out;
}

// The Set-Cookie values of a response, as name=value pairs.
export function setCookies(res) {
  return [].concat(res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]);
}

// The attempt limits count in fixed one-minute windows of the server's clock (this machine's
// clock). Returns at once when at least `seconds` are left in the current window; otherwise
// waits (at most `seconds`) for the next one to start, so that a burst falls in one window.
export async function clearOfWindowEdge(seconds) {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < seconds * 1000) await delay(left + 50);
  return Math.floor(Date.now() / 60_000);
}

export const windowNow = () => Math.floor(Date.now() / 60_000);

// Counts of each status in a list of responses: { 200: n, 429: m, ... }.
export function statusCounts(responses) {
  const counts = {};
  for (const r of responses) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}
