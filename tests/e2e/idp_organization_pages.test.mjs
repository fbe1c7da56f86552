// latch-idp end to end in headless chromium: an owner creates an organization and invites
// bob; the test reads the invitation link from the mail sink file; a SECOND browser context
// opens it, signs in as bob on the page and accepts; bob (member) cannot invite, after his
// promotion to admin he can. Then `latch login` (browser, and device) by users whose session
// has an active organization: `latch status` shows the platform role and the organization.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  browser, browserScript, cleanupTempDirs, closeBrowser, freshLatchHome, handedUrl, killAllLatch, latch,
  makeTempDir, runLatch, SKIP_WITHOUT_LATCH,
} from './lib.mjs';
import { dbQuery, dbScalar, idpAdmin, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';

const PASSWORD = 'correct horse battery staple';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const ORG_NAME = 'Acme & <Co>';

// Better Auth's API from a browser context (its cookies), as the console page would call it.
async function api(context, idp, path, data) {
  const r = await context.request.post(`${idp.url}/api/auth${path}`, { headers: { origin: idp.url }, data });
  return { status: r.status(), body: await r.json() };
}

const mails = (file) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('latch-idp: organizations on the pages, in chromium', { skip: SKIP_WITHOUT_LATCH || SKIP_WITHOUT_IDP }, () => {
  let idp;
  let mailFile;
  let owner; // alice's browser context
  let invitee; // bob's, a second context
  let org;
  before(async () => {
    mailFile = join(makeTempDir('latch-idp-mail-'), 'mail.jsonl');
    idp = await startLatchIdp({ extraArgs: ['--mail-file', mailFile] });
    const add = idpAdmin(['client', 'add', 'cli', '--public', '--data', idp.data, '--redirect-uri', 'http://127.0.0.1/callback',
      '--grant', DEVICE_GRANT, '--grant', 'authorization_code', '--grant', 'refresh_token',
      '--scope', 'openid profile email offline_access', '--skip-consent']);
    assert.equal(add.code, 0, add.stderr);
    for (const name of ['alice', 'bob']) {
      const u = idpAdmin(['user', 'add', name, '--email', `${name}@example.com`, '--data', idp.data],
        { env: { LATCH_IDP_PASSWORD: PASSWORD } });
      assert.equal(u.code, 0, u.stderr);
    }
    owner = await (await browser()).newContext();
    invitee = await (await browser()).newContext();
  });
  after(async () => {
    await killAllLatch();
    if (owner) await owner.close();
    if (invitee) await invitee.close();
    await closeBrowser();
    if (idp) await idp.stop();
    cleanupTempDirs();
  });

  test('invite by mail, accept in a second browser; a member cannot invite, an admin can', { timeout: 90_000 }, async () => {
    assert.equal((await api(owner, idp, '/sign-in/email', { email: 'alice', password: PASSWORD })).status, 200);
    const created = await api(owner, idp, '/organization/create', { name: ORG_NAME, slug: 'acme' });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    org = created.body;
    const inv = await api(owner, idp, '/organization/invite-member', { email: 'bob@example.com', role: 'member' });
    assert.equal(inv.status, 200, JSON.stringify(inv.body));

    const mail = mails(mailFile).at(-1);
    assert.equal(mail.to, 'bob@example.com');
    assert.equal(mail.kind, 'invitation');
    const link = /(http:\/\/\S+\/accept-invitation\/\S+)/.exec(mail.text)[1];
    assert.equal(link, `${idp.url}/accept-invitation/${inv.body.id}`);

    const page = await invitee.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(link);
    assert.match(await page.title(), /Sign in/);
    await page.fill('input[name=username]', 'bob');
    await page.fill('input[name=password]', PASSWORD);
    await Promise.all([page.waitForURL(link), page.click('button[value=sign-in]')]);
    assert.equal(await page.textContent('#org'), ORG_NAME, 'the name is shown as text');
    assert.match(await page.content(), /Acme &amp; &lt;Co&gt;/, 'and escaped in the HTML');
    assert.equal(await page.textContent('#role'), 'member');
    await Promise.all([page.waitForLoadState(), page.click('button[value=accept]')]);
    assert.match(await page.content(), /Invitation accepted/);

    const bobId = dbScalar(idp.data, `SELECT id FROM users WHERE username = 'bob'`);
    assert.deepEqual(dbQuery(idp.data, `SELECT role FROM members WHERE organization_id = '${org.id}' AND user_id = '${bobId}'`),
      [{ role: 'member' }]);
    assert.equal(dbScalar(idp.data, `SELECT status FROM invitations WHERE id = '${inv.body.id}'`), 'accepted');

    // The page again: used. A form post without the CSRF token: refused.
    await page.goto(link);
    assert.match(await page.content(), /already accepted/);
    const forged = await invitee.request.post(link, { form: { action: 'accept' } });
    assert.equal(forged.status(), 403);

    // Bob, a member, cannot invite (his session's active organization is the one he joined).
    const refused = await api(invitee, idp, '/organization/invite-member', { email: 'carol@example.com', role: 'member' });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION');
    const listed = await owner.request.get(`${idp.url}/api/auth/organization/list-members?organizationId=${org.id}`);
    const bobMember = (await listed.json()).members.find((m) => m.userId === bobId);
    const promoted = await api(owner, idp, '/organization/update-member-role', { memberId: bobMember.id, role: 'admin' });
    assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
    const allowed = await api(invitee, idp, '/organization/invite-member', { email: 'carol@example.com', role: 'member' });
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
    assert.equal(mails(mailFile).at(-1).to, 'carol@example.com');
    assert.equal(dbScalar(idp.data, `SELECT COUNT(*) FROM invitations WHERE email = 'carol@example.com' AND status = 'pending'`), 1);
  });

  test('latch login --browser with an active organization: latch status shows role and organization', { timeout: 90_000 }, async () => {
    assert.ok(org, 'the first test made the organization');
    const home = freshLatchHome();
    const b = browserScript();
    const h = runLatch(['login', '--browser', '--issuer', idp.issuer, '--client-id', 'cli', '--no-qr', '--timeout', '60'],
      { home, env: { BROWSER: b.script } });
    const url = await handedUrl(b.out);
    const page = await owner.newPage(); // alice's browser: her session, her active organization
    await Promise.all([page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback/), page.goto(url)]);
    const done = await h.exit;
    assert.equal(done.code, 0, `${done.stderr}\nserver:\n${idp.stderr()}`);
    const status = await latch(['status'], { home });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^ {2}role: +user$/m);
    assert.match(status.stdout, new RegExp(`^ {2}org_id: +${org.id}$`, 'm'));
    assert.match(status.stdout, /^ {2}org_role: +owner$/m);
    assert.match(status.stdout, /^ {2}org_slug: +acme$/m);
    const json = JSON.parse((await latch(['status', '--json'], { home })).stdout);
    assert.deepEqual(json.attributes, { role: 'user', org_id: org.id, org_role: 'owner', org_slug: 'acme' });
  });

  test('latch login --device approved from a browser with an active organization: its role', { timeout: 90_000 }, async () => {
    const home = freshLatchHome();
    const h = runLatch(['login', '--device', '--issuer', idp.issuer, '--client-id', 'cli', '--no-qr', '--timeout', '60'], { home });
    const [, userCode] = await h.waitForStderr(/enter the code:\s*(\S+)/);
    const page = await invitee.newPage(); // bob's browser: signed in, active organization acme
    await page.goto(`${idp.url}/device?user_code=${encodeURIComponent(userCode)}`);
    // Signed in already: the page approves as this browser's user (no password asked).
    assert.match(await page.content(), /Signed in as bob\./);
    await Promise.all([page.waitForLoadState(), page.click('button[value=approve]')]);
    assert.match(await page.content(), /Device approved/);
    const done = await h.exit;
    assert.equal(done.code, 0, done.stderr);
    const status = await latch(['status'], { home });
    assert.match(status.stdout, /^ {2}org_role: +admin$/m);
    assert.match(status.stdout, /^ {2}org_slug: +acme$/m);
    // userinfo answers the organization with the role held now.
    const token = (await latch(['token'], { home })).stdout.trim();
    const info = await (await fetch(`${idp.url}/oauth2/userinfo`, { headers: { authorization: `Bearer ${token}` } })).json();
    assert.equal(info.org_id, org.id);
    assert.equal(info.org_role, 'admin');
  });
});
