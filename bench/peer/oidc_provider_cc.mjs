// The token-endpoint peer for bench/idp.sh: node-oidc-provider (tests/idp's version, from
// package-lock) with only what the client_credentials scenario needs: one confidential
// client (client_secret_basic, secret from $BENCH_CLIENT_SECRET), and ES256 JWT access
// tokens (RFC 9068, through a default resource indicator) like latch-idp issues. No test
// middleware, no request log. Prints its URL on stdout, serves until SIGTERM.
//
//   BENCH_CLIENT_SECRET=... node bench/peer/oidc_provider_cc.mjs CLIENT_ID
import '../../tests/idp/quiet.mjs';
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const clientId = process.argv[2];
const secret = process.env.BENCH_CLIENT_SECRET;
if (!clientId || !secret) {
  console.error('oidc_provider_cc: usage: BENCH_CLIENT_SECRET=... node oidc_provider_cc.mjs CLIENT_ID');
  process.exit(2);
}
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', alg: 'ES256', use: 'sig' };
const API = 'urn:latch:bench:api';

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
const provider = new Provider(issuer, {
  jwks: { keys: [jwk] },
  clients: [{
    client_id: clientId,
    client_secret: secret,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    id_token_signed_response_alg: 'ES256',
  }],
  scopes: ['api'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => API,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api', accessTokenFormat: 'jwt', accessTokenTTL: 3600, jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});
provider.on('server_error', () => {});
server.on('request', provider.callback());
console.log(issuer);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
