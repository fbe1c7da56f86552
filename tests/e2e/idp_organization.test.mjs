// latch-idp end to end: Better Auth's own client library with its organization plugin
// (`createAuthClient` + `organizationClient()`) against latch-idp's /api/auth/organization/*:
// an owner creates an organization and invites; the invitee accepts; a member cannot invite,
// an admin can; removal, the last owner, expiry, cancel, platform admins; 32 concurrent
// accepts of one invitation make exactly one member row. Asserted on the HTTP answers, the
// mail file and the rows in the server's database.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAuthClient } from 'better-auth/client';
import { organizationClient } from 'better-auth/client/plugins';
import { cleanupTempDirs, makeTempDir } from './lib.mjs';
import { cookieFetch, dbExec, dbQuery, dbScalar, idpAdmin, SKIP_WITHOUT_IDP, startLatchIdp } from './idp_lib.mjs';

const PASSWORD = 'correct horse battery staple';

function client(idp) {
  const cookies = cookieFetch(idp.url);
  const auth = createAuthClient({ baseURL: idp.url, plugins: [organizationClient()],
    fetchOptions: { customFetchImpl: cookies.fetch } });
  return { auth, cookies };
}

async function signUp(idp, email, name) {
  const c = client(idp);
  const up = await c.auth.signUp.email({ email, password: PASSWORD, name });
  assert.equal(up.error, null, JSON.stringify(up.error));
  c.user = up.data.user;
  return c;
}

const mails = (file) => readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
const audit = (file) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('latch-idp: Better Auth organization plugin with organizationClient()', { skip: SKIP_WITHOUT_IDP }, () => {
  let idp;
  let mailFile;
  let auditFile;
  before(async () => {
    const dir = makeTempDir('latch-idp-org-');
    mailFile = join(dir, 'mail.jsonl');
    auditFile = join(dir, 'audit.jsonl');
    idp = await startLatchIdp({ extraArgs: ['--mail-file', mailFile, '--audit-log', auditFile] });
  });
  after(async () => {
    if (idp) await idp.stop();
    cleanupTempDirs();
  });

  test('create, invite, accept, set-active; a member cannot invite, an admin can; remove', async () => {
    const alice = await signUp(idp, 'alice@example.com', 'Alice');
    const bob = await signUp(idp, 'bob@example.com', 'Bob');
    const carol = await signUp(idp, 'carol@example.com', 'Carol');

    const created = await alice.auth.organization.create({ name: 'Acme <Tenant>', slug: 'acme', metadata: { plan: 'pro' } });
    assert.equal(created.error, null, JSON.stringify(created.error));
    const org = created.data;
    assert.equal(org.slug, 'acme');
    assert.deepEqual(org.metadata, { plan: 'pro' });
    assert.equal(org.members[0].role, 'owner');
    assert.equal(org.members[0].userId, alice.user.id);
    assert.equal((await alice.auth.getSession()).data.session.activeOrganizationId, org.id, 'create makes it active');
    const taken = await alice.auth.organization.checkSlug({ slug: 'acme' });
    assert.equal(taken.error.status, 400);
    assert.equal(taken.error.code, 'ORGANIZATION_SLUG_ALREADY_TAKEN');
    assert.deepEqual((await alice.auth.organization.checkSlug({ slug: 'other' })).data, { status: true });

    const inv = await alice.auth.organization.inviteMember({ email: 'Bob@Example.com', role: 'member' });
    assert.equal(inv.error, null, JSON.stringify(inv.error));
    assert.equal(inv.data.email, 'bob@example.com');
    assert.equal(inv.data.status, 'pending');
    assert.ok(Math.abs(Date.parse(inv.data.expiresAt) - Date.now() - 48 * 3600_000) < 60_000, 'expires in 48 h');
    const mail = mails(mailFile).at(-1);
    assert.equal(mail.to, 'bob@example.com');
    assert.equal(mail.link, `${idp.url}/accept-invitation/${inv.data.id}`);
    assert.ok(mail.text.includes(mail.link));

    const listed = await alice.auth.organization.listInvitations({ query: { organizationId: org.id } });
    assert.deepEqual(listed.data.map((i) => i.id), [inv.data.id]);
    const mine = await bob.auth.organization.listUserInvitations();
    assert.equal(mine.data[0].organizationName, 'Acme <Tenant>');
    const got = await bob.auth.organization.getInvitation({ query: { id: inv.data.id } });
    assert.equal(got.data.inviterEmail, 'alice@example.com');

    // Carol is not the recipient.
    const wrong = await carol.auth.organization.acceptInvitation({ invitationId: inv.data.id });
    assert.equal(wrong.error.status, 403);
    assert.equal(wrong.error.code, 'YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION');

    const accepted = await bob.auth.organization.acceptInvitation({ invitationId: inv.data.id });
    assert.equal(accepted.error, null, JSON.stringify(accepted.error));
    assert.equal(accepted.data.invitation.status, 'accepted');
    assert.equal(accepted.data.member.role, 'member');
    const again = await bob.auth.organization.acceptInvitation({ invitationId: inv.data.id });
    assert.equal(again.error.status, 400, 'used once');
    assert.equal(again.error.code, 'INVITATION_ALREADY_ANSWERED');
    assert.deepEqual(dbQuery(idp.data, `SELECT status FROM invitations WHERE id = '${inv.data.id}'`), [{ status: 'accepted' }]);

    const bobOrgs = await bob.auth.organization.list();
    assert.deepEqual(bobOrgs.data.map((o) => o.id), [org.id]);
    const active = await bob.auth.organization.setActive({ organizationId: org.id });
    assert.equal(active.error, null);
    assert.equal(active.data.members.length, 2);
    assert.equal((await bob.auth.getSession()).data.session.activeOrganizationId, org.id);
    const me = await bob.auth.organization.getActiveMember();
    assert.equal(me.data.role, 'member');

    // A member cannot invite.
    const refused = await bob.auth.organization.inviteMember({ email: 'carol@example.com', role: 'member' });
    assert.equal(refused.error.status, 403);
    assert.equal(refused.error.code, 'YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION');
    assert.equal(dbScalar(idp.data, `SELECT COUNT(*) FROM invitations WHERE email = 'carol@example.com'`), 0);

    // Promoted to admin, he can (but not an owner).
    const bobMember = accepted.data.member;
    const promoted = await alice.auth.organization.updateMemberRole({ memberId: bobMember.id, role: 'admin' });
    assert.equal(promoted.error, null, JSON.stringify(promoted.error));
    assert.equal(promoted.data.role, 'admin');
    const noOwner = await bob.auth.organization.inviteMember({ email: 'carol@example.com', role: 'owner' });
    assert.equal(noOwner.error.status, 403);
    const byAdmin = await bob.auth.organization.inviteMember({ email: 'carol@example.com', role: 'member' });
    assert.equal(byAdmin.error, null, JSON.stringify(byAdmin.error));
    const makeOwner = await bob.auth.organization.updateMemberRole({ memberId: bobMember.id, role: 'owner' });
    assert.equal(makeOwner.error.status, 403, 'an admin cannot make an owner');
    const removeOwner = await bob.auth.organization.removeMember({ memberIdOrEmail: 'alice@example.com' });
    assert.equal(removeOwner.error.status, 403, 'an admin cannot remove an owner');

    // Carol accepts, then the admin removes her.
    assert.equal((await carol.auth.organization.acceptInvitation({ invitationId: byAdmin.data.id })).error, null);
    const removed = await bob.auth.organization.removeMember({ memberIdOrEmail: 'carol@example.com' });
    assert.equal(removed.error, null, JSON.stringify(removed.error));
    assert.equal(removed.data.member.userId, carol.user.id);
    assert.equal(dbScalar(idp.data, `SELECT COUNT(*) FROM members WHERE user_id = '${carol.user.id}'`), 0);
    assert.equal((await carol.auth.getSession()).data.session.activeOrganizationId, null, 'her active org is cleared');

    // The last owner cannot leave.
    const leave = await alice.auth.organization.leave({ organizationId: org.id });
    assert.equal(leave.error.status, 400);
    assert.equal(leave.error.code, 'YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER');
    const members = await alice.auth.organization.listMembers({ query: { organizationId: org.id } });
    assert.equal(members.data.total, 2);
    assert.deepEqual(dbQuery(idp.data, `SELECT u.username, m.role FROM members m JOIN users u ON u.id = m.user_id
      WHERE m.organization_id = '${org.id}' ORDER BY u.username`),
    [{ username: 'alice@example.com', role: 'owner' }, { username: 'bob@example.com', role: 'admin' }]);

    const events = audit(auditFile).filter((e) => e.organization_id === org.id).map((e) => e.event);
    for (const e of ['organization_create', 'invitation_create', 'invitation_accept', 'member_role_change', 'member_remove'])
      assert.ok(events.includes(e), `audit has ${e}: ${events}`);
  });

  test('reject, cancel, expiry; outsiders; platform admins manage every organization', async () => {
    const owner = await signUp(idp, 'olga@example.com', 'Olga');
    const dan = await signUp(idp, 'dan@example.com', 'Dan');
    const org = (await owner.auth.organization.create({ name: 'Beta', slug: 'beta' })).data;
    const outsider = await dan.auth.organization.getFullOrganization({ query: { organizationId: org.id } });
    assert.equal(outsider.error.status, 403);
    assert.equal(outsider.error.code, 'USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION');

    const inv1 = (await owner.auth.organization.inviteMember({ email: 'dan@example.com', role: 'member', organizationId: org.id })).data;
    const dup = await owner.auth.organization.inviteMember({ email: 'dan@example.com', role: 'member', organizationId: org.id });
    assert.equal(dup.error.code, 'USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION');
    const rejected = await dan.auth.organization.rejectInvitation({ invitationId: inv1.id });
    assert.equal(rejected.error, null);
    assert.equal(rejected.data.invitation.status, 'rejected');
    assert.equal(rejected.data.member, null);

    const inv2 = (await owner.auth.organization.inviteMember({ email: 'dan@example.com', role: 'member', organizationId: org.id })).data;
    const canceled = await owner.auth.organization.cancelInvitation({ invitationId: inv2.id });
    assert.equal(canceled.data.status, 'canceled');
    const late = await dan.auth.organization.acceptInvitation({ invitationId: inv2.id });
    assert.equal(late.error.status, 400);

    const inv3 = (await owner.auth.organization.inviteMember({ email: 'dan@example.com', role: 'member', organizationId: org.id })).data;
    dbExec(idp.data, `UPDATE invitations SET expires_at = 1 WHERE id = '${inv3.id}'`);
    const expired = await dan.auth.organization.acceptInvitation({ invitationId: inv3.id });
    assert.equal(expired.error.status, 400);
    assert.equal(expired.error.code, 'INVITATION_EXPIRED');
    assert.equal(dbScalar(idp.data, `SELECT COUNT(*) FROM members WHERE organization_id = '${org.id}'`), 1);

    // Dan becomes a platform admin: he manages the organization without being a member.
    assert.equal(idpAdmin(['user', 'set-role', 'dan@example.com', 'platform-admin', '--data', idp.data]).code, 0);
    const full = await dan.auth.organization.getFullOrganization({ query: { organizationId: org.id } });
    assert.equal(full.error, null, JSON.stringify(full.error));
    assert.equal(full.data.invitations.length, 3);
    const byPlatform = await dan.auth.organization.inviteMember({ email: 'erin@example.com', role: 'owner', organizationId: org.id });
    assert.equal(byPlatform.error, null, JSON.stringify(byPlatform.error));
    const deleted = await dan.auth.organization.delete({ organizationId: org.id });
    assert.equal(deleted.error, null, JSON.stringify(deleted.error));
    assert.equal(dbScalar(idp.data, `SELECT COUNT(*) FROM organizations WHERE id = '${org.id}'`), 0);
    assert.equal(dbScalar(idp.data, `SELECT COUNT(*) FROM invitations WHERE organization_id = '${org.id}'`), 0);
    assert.ok(audit(auditFile).some((e) => e.event === 'organization_delete' && e.organization_id === org.id));
    assert.ok(audit(auditFile).some((e) => e.event === 'invitation_cancel' && e.organization_id === org.id));
    assert.ok(audit(auditFile).some((e) => e.event === 'invitation_reject' && e.organization_id === org.id));
  });

  test('32 concurrent accepts of one invitation: exactly one member row', async () => {
    const owner = await signUp(idp, 'pat@example.com', 'Pat');
    const quinn = await signUp(idp, 'quinn@example.com', 'Quinn');
    const org = (await owner.auth.organization.create({ name: 'Gamma', slug: 'gamma' })).data;
    const inv = (await owner.auth.organization.inviteMember({ email: 'quinn@example.com', role: 'member' })).data;
    const cookie = [...quinn.cookies.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const one = () => fetch(`${idp.url}/api/auth/organization/accept-invitation`, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: idp.url, cookie },
      body: JSON.stringify({ invitationId: inv.id }),
    }).then((r) => r.status);
    const statuses = await Promise.all(Array.from({ length: 32 }, one));
    assert.equal(statuses.filter((s) => s === 200).length, 1, `statuses: ${statuses}`);
    assert.equal(statuses.filter((s) => s === 400).length, 31, `statuses: ${statuses}`);
    assert.equal(dbScalar(idp.data, `SELECT COUNT(*) FROM members WHERE organization_id = '${org.id}' AND user_id = '${quinn.user.id}'`), 1);
    assert.equal(dbScalar(idp.data, `SELECT status FROM invitations WHERE id = '${inv.id}'`), 'accepted');
  });
});

describe('latch-idp: --mail-command gets each mail as JSON on its stdin', { skip: SKIP_WITHOUT_IDP }, () => {
  let idp;
  let out;
  before(async () => {
    out = join(makeTempDir('latch-idp-mailcmd-'), 'mails.jsonl');
    // No shell: the program and its arguments, split on spaces.
    idp = await startLatchIdp({ extraArgs: ['--mail-command', `tee -a ${out}`] });
  });
  after(async () => {
    if (idp) await idp.stop();
    cleanupTempDirs();
  });

  test('an invitation runs the command once with the mail', async () => {
    const owner = await signUp(idp, 'rita@example.com', 'Rita');
    await owner.auth.organization.create({ name: 'Delta', slug: 'delta' });
    const inv = await owner.auth.organization.inviteMember({ email: 'sam@example.com', role: 'admin' });
    assert.equal(inv.error, null, JSON.stringify(inv.error));
    const end = Date.now() + 10_000;
    while (Date.now() < end && !(existsSync(out) && readFileSync(out, 'utf8').endsWith('\n')))
      await new Promise((r) => setTimeout(r, 50));
    const got = mails(out);
    assert.equal(got.length, 1);
    assert.equal(got[0].to, 'sam@example.com');
    assert.equal(got[0].link, `${idp.url}/accept-invitation/${inv.data.id}`);
    assert.match(got[0].subject, /Delta/);
  });
});
