#!/usr/bin/env node
// The test IdP as a process:  node tests/idp/server.mjs [--interval S] [--port P]
//   [--password PW] [--ttl-access-token S] [--ttl-device-code S] [--ttl-refresh-token S]
// Prints one JSON line {"issuer":"http://127.0.0.1:PORT","port":PORT} on stdout when
// ready, serves until SIGTERM/SIGINT, then exits 0.  Runtime options can be changed
// with POST /_test/options (JSON or form), e.g. {"forceSlowDownOnPoll":2}.
import { parseArgs } from 'node:util';
import { startIdp } from './idp.mjs';

const { values } = parseArgs({
  options: {
    interval: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    password: { type: 'string' },
    'force-slow-down-on-poll': { type: 'string' },
    'ttl-access-token': { type: 'string' },
    'ttl-device-code': { type: 'string' },
    'ttl-refresh-token': { type: 'string' },
  },
});

const num = (v) => (v === undefined ? undefined : Number(v));
const ttl = {};
if (values['ttl-access-token']) ttl.AccessToken = num(values['ttl-access-token']);
if (values['ttl-device-code']) ttl.DeviceCode = num(values['ttl-device-code']);
if (values['ttl-refresh-token']) ttl.RefreshToken = num(values['ttl-refresh-token']);

const idp = await startIdp({
  interval: num(values.interval),
  port: num(values.port),
  host: values.host,
  password: values.password,
  forceSlowDownOnPoll: num(values['force-slow-down-on-poll']),
  ttl,
});
process.stdout.write(`${JSON.stringify({ issuer: idp.issuer, port: idp.port })}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await idp.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
