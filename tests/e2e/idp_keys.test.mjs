// latch-idp end to end: `latch-idp keys rotate`. After the next start the new key signs, and
// the old key is still published, so tokens it signed keep verifying until they expire.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTempDirs, makeTempDir } from './lib.mjs';
import { idpAdmin, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';

const SECRET = 'svc-secret-0123456789abcdef';
const header = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url'));

async function token(idp) {
  const r = await fetch(`${idp.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`svc:${SECRET}`).toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  assert.equal(r.status, 200);
  return (await r.json()).access_token;
}

async function introspect(idp, t) {
  const r = await fetch(`${idp.url}/oauth2/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`svc:${SECRET}`).toString('base64')}` },
    body: new URLSearchParams({ token: t }),
  });
  return r.json();
}

const kids = async (idp) => (await (await fetch(`${idp.url}/.well-known/jwks.json`)).json()).keys.map((k) => k.kid);


describe('latch-idp: keys rotate', { skip: SKIP_WITHOUT_IDP }, () => {
  let idp;
  after(async () => { if (idp) await idp.stop(); cleanupTempDirs(); });

  test('the new key signs after a restart; the old one stays published; its tokens still verify', async () => {
    const dir = makeTempDir('latch-idp-keys-');
    const data = join(dir, 'data');
    writeFileSync(join(dir, 'secret'), `${SECRET}\n`, { mode: 0o600 });
    assert.equal(idpAdmin(['client', 'add', 'svc', '--confidential', '--data', data, '--secret-file', join(dir, 'secret'), '--scope', 'api']).code, 0);
    idp = await startLatchIdp({ data });
    const before = await kids(idp);
    assert.equal(before.length, 1);
    const old = await token(idp);
    assert.equal(header(old).kid, before[0]);

    const rotated = idpAdmin(['keys', 'rotate', '--data', data]);
    assert.equal(rotated.code, 0, rotated.stderr);
    const newKid = rotated.stdout.trim();
    assert.notEqual(newKid, before[0]);
    await idp.stop();
    // Same issuer (tokens carry it), another port.
    idp = await startLatchIdp({ data, extraArgs: ['--issuer', idp.issuer] });

    assert.deepEqual(await kids(idp), [newKid, before[0]], 'both published, newest first');
    const fresh = await token(idp);
    assert.equal(header(fresh).kid, newKid, 'the new key signs');
    assert.equal((await introspect(idp, old)).active, true, 'a token of the old key still verifies');
    assert.equal((await introspect(idp, fresh)).active, true);
  });
});
