// latch-idp end to end: an admin command run while the server serves (the documented way to
// add users, clients, providers) must not cost the server its later commits. Regression: the
// server dropped its own SQLite locks when it opened its second connection, so an admin
// process closing its connection took itself for the last one, checkpointed and deleted the
// WAL, and the server went on committing into the unlinked file: other processes (sqlite3)
// did not see those commits, and a kill -9 lost them.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupTempDirs } from './lib.mjs';
import { dbScalar, idpAdmin, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';

const PASSWORD = 'correct horse battery staple';

describe('latch-idp: admin commands while serving', { skip: SKIP_WITHOUT_IDP }, () => {
  after(() => cleanupTempDirs());

  test('commits after an admin command are seen by sqlite3 and survive kill -9', { timeout: 60_000 }, async () => {
    let idp = await startLatchIdp();
    const { data } = idp;
    try {
      const add = idpAdmin(['user', 'add', 'zed', '--data', data], { env: { LATCH_IDP_PASSWORD: PASSWORD } });
      assert.equal(add.code, 0, add.stderr);
      const r = await fetch(`${idp.url}/api/auth/sign-up/email`, {
        method: 'POST', headers: { 'content-type': 'application/json', origin: idp.url },
        body: JSON.stringify({ email: 'amy@example.com', password: PASSWORD, name: 'Amy' }),
      });
      assert.equal(r.status, 200, await r.text());
      assert.equal(dbScalar(data, 'SELECT COUNT(*) FROM users'), 2, 'sqlite3 sees the server\'s commit');
      await idp.stop('SIGKILL');
      idp = await startLatchIdp({ data });
      const again = await fetch(`${idp.url}/api/auth/sign-in/email`, {
        method: 'POST', headers: { 'content-type': 'application/json', origin: idp.url },
        body: JSON.stringify({ email: 'amy@example.com', password: PASSWORD }),
      });
      assert.equal(again.status, 200, 'the sign-up committed before kill -9 is still there');
    } finally {
      await idp.stop();
    }
  });
});
