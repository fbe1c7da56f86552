// Peers for the integration tests: a self-signed certificate (openssl), Debian's tinyproxy
// with a config of the test's own, a CONNECT "name mapper" (the only way to a made-up host
// name), a kubernetes API stub and a git smart-HTTP server (git http-backend), all on
// free 127.0.0.1 ports and stopped by the test.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';

export const TINYPROXY = process.env.LATCH_TINYPROXY ?? '/usr/bin/tinyproxy';
export const GIT_HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

// A self-signed P-256 certificate for `names` (DNS names and IPs) in `dir`.
export function makeCert(dir, names) {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  const san = names.map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${san}`, '-days', '1',
    '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { keyPath: key, certPath: cert, key: readFileSync(key), cert: readFileSync(cert) };
}

export async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function listen(server) {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.closeAll = () => { for (const s of sockets) s.destroy(); return new Promise((r) => server.close(r)); };
  return server.address().port;
}

// An HTTP proxy that only tunnels (CONNECT) `names` to 127.0.0.1:`port`: made-up host
// names then resolve nowhere but through it. Records the CONNECT lines it saw.
export async function startNameMapper(names, port) {
  const seen = [];
  const server = net.createServer((client) => {
    let head = '';
    const onData = (d) => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      const [method, authority] = head.split(' ');
      const host = authority?.replace(/:\d+$/, '');
      seen.push(`${method} ${authority}`);
      if (method !== 'CONNECT' || !names.includes(host)) { client.end('HTTP/1.1 403 Forbidden\r\n\r\n'); return; }
      const upstream = net.connect(port, '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        const rest = Buffer.from(head.slice(end + 4), 'latin1');
        if (rest.length) upstream.write(rest);
        client.pipe(upstream).pipe(client);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    };
    client.on('data', onData);
  });
  const mapperPort = await listen(server);
  return { port: mapperPort, seen, close: () => server.closeAll() };
}

// Debian's tinyproxy on a free loopback port, in the foreground, with its own config and
// log; `upstream` (host:port) makes it hand every request to another proxy.
export async function startTinyproxy(dir, { upstream, basicAuth } = {}) {
  const port = await freePort();
  const log = join(dir, 'tinyproxy.log');
  const conf = join(dir, 'tinyproxy.conf');
  writeFileSync(conf, [`Port ${port}`, 'Listen 127.0.0.1', 'Timeout 30', `LogFile "${log}"`,
    'LogLevel Connect', 'MaxClients 20', 'Allow 127.0.0.1',
    ...(upstream ? [`Upstream http ${upstream}`] : []),
    ...(basicAuth ? [`BasicAuth ${basicAuth.user} ${basicAuth.password}`] : []), ''].join('\n'));
  const child = spawn(TINYPROXY, ['-d', '-c', conf], { stdio: 'ignore' });
  // Ready when it accepts connections (bounded).
  for (let i = 0; ; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) break;
    if (i > 100 || child.exitCode !== null) throw new Error(`tinyproxy did not start (exit ${child.exitCode})`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    log: () => (existsSync(log) ? readFileSync(log, 'utf8') : ''),
    async close() { if (child.exitCode === null) { child.kill('SIGTERM'); await once(child, 'exit'); } },
  };
}

// A kubernetes API stub over https: answers /api only with a bearer token `valid(token)`
// accepts (async), 401 otherwise. Records the Authorization headers' outcomes.
export async function startKubeStub(tls, valid) {
  const calls = [];
  const server = https.createServer({ key: tls.key, cert: tls.cert }, async (req, res) => {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const ok = m ? await valid(m[1]) : false;
    calls.push({ path: req.url, ok });
    if (!ok) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1:443' }] }));
  });
  const port = await listen(server);
  return { url: `https://127.0.0.1:${port}`, calls, close: () => server.closeAll() };
}

// git's smart HTTP protocol from `projectRoot` through git http-backend (CGI), behind
// Basic authentication whose password `valid(password)` must accept.
export async function startGitServer(projectRoot, valid) {
  const attempts = [];
  const server = http.createServer(async (req, res) => {
    const m = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    const [user, password] = m ? Buffer.from(m[1], 'base64').toString().split(/:(.*)/s) : [];
    const ok = password ? await valid(password) : false;
    attempts.push({ user, ok, url: req.url });
    if (!ok) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' });
      res.end();
      return;
    }
    const url = new URL(req.url, 'http://x');
    const cgi = spawn(GIT_HTTP_BACKEND, [], {
      env: { GIT_PROJECT_ROOT: projectRoot, GIT_HTTP_EXPORT_ALL: '1', REQUEST_METHOD: req.method,
        PATH_INFO: url.pathname, QUERY_STRING: url.search.slice(1), CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_USER: user, REMOTE_ADDR: '127.0.0.1', GIT_CONFIG_NOSYSTEM: '1', HOME: projectRoot },
    });
    req.pipe(cgi.stdin);
    const chunks = [];
    cgi.stdout.on('data', (d) => chunks.push(d));
    cgi.on('close', () => {
      const out = Buffer.concat(chunks);
      const split = out.indexOf('\r\n\r\n');
      const headerText = out.subarray(0, split).toString();
      const headers = {};
      let status = 200;
      for (const line of headerText.split('\r\n')) {
        const i = line.indexOf(':');
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = parseInt(v, 10);
        else if (k) headers[k] = v;
      }
      res.writeHead(status, headers);
      res.end(out.subarray(split + 4));
    });
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, attempts, close: () => server.closeAll() };
}
