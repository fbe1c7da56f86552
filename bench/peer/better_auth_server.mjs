// The session peer for bench/idp.sh: Better Auth (npm `better-auth`, package-lock's
// version) with its memory adapter (no database cost at all) and email/password, on
// Node's http server. Prints its URL on stdout, serves until SIGTERM.
//
//   node bench/peer/better_auth_server.mjs
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { betterAuth } from 'better-auth';
import { memoryAdapter } from 'better-auth/adapters/memory';
import { toNodeHandler } from 'better-auth/node';

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const baseURL = `http://127.0.0.1:${server.address().port}`;
const auth = betterAuth({
  baseURL,
  secret: randomBytes(32).toString('base64url'),
  database: memoryAdapter({ user: [], session: [], account: [], verification: [] }),
  emailAndPassword: { enabled: true },
  rateLimit: { enabled: false },
  logger: { disabled: true },
  telemetry: { enabled: false },
});
server.on('request', toNodeHandler(auth));
console.log(baseURL);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
