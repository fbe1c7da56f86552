// Grant types oidc-provider does not ship, registered with provider.registerGrantType:
//  - the resource owner password grant (username/password/scope), for the CLI's
//    `--password` login and for tests that need tokens without a browser;
//  - RFC 8693 token exchange with an access token this IdP issued as subject_token.
import { errors } from 'oidc-provider';

export const PASSWORD_GRANT = 'password';
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

const epoch = () => Math.floor(Date.now() / 1000);

function requestedScopes(scope, fallback) {
  const known = new Set(['openid', 'offline_access', 'profile', 'email']);
  const words = (scope ?? fallback ?? '').split(' ').filter(Boolean);
  return new Set(words.filter((w) => known.has(w)));
}

async function saveGrant(provider, accountId, clientId, scopes) {
  const grant = new provider.Grant({ accountId, clientId });
  if (scopes.size) grant.addOIDCScope([...scopes].join(' '));
  const grantId = await grant.save();
  return { grant, grantId };
}

async function idTokenFor(provider, ctx, account, scopes, authTime) {
  if (!scopes.has('openid')) return undefined;
  const scope = [...scopes].join(' ');
  const claims = await account.claims('id_token', scope, {}, []);
  const token = new provider.IdToken({ ...claims, auth_time: authTime }, { ctx });
  token.scope = scope;
  return token.issue({ use: 'idtoken' });
}

export function registerPasswordGrant(provider, state) {
  async function passwordGrant(ctx) {
    const { username, password, scope } = ctx.oidc.params;
    if (!username || !password) {
      throw new errors.InvalidRequest('username and password are required');
    }
    if (password !== (state.opts.password ?? 'correct horse')) {
      throw new errors.InvalidGrant('invalid resource owner credentials');
    }
    const { client } = ctx.oidc;
    const scopes = requestedScopes(scope, 'openid');
    if (!client.grantTypeAllowed('refresh_token')) scopes.delete('offline_access');

    const account = await state.findAccount(ctx, username);
    ctx.oidc.entity('Account', account);
    const authTime = epoch();
    const { grant, grantId } = await saveGrant(provider, account.accountId, client.clientId, scopes);
    ctx.oidc.entity('Grant', grant);
    const scopeText = [...scopes].join(' ') || undefined;

    const at = new provider.AccessToken({
      accountId: account.accountId, client, grantId, gty: PASSWORD_GRANT, scope: scopeText,
    });
    ctx.oidc.entity('AccessToken', at);
    const accessToken = await at.save();

    let refreshToken;
    if (scopes.has('offline_access')) {
      const rt = new provider.RefreshToken({
        accountId: account.accountId,
        authTime,
        client,
        grantId,
        gty: PASSWORD_GRANT,
        rotations: 0,
        scope: scopeText,
      });
      ctx.oidc.entity('RefreshToken', rt);
      refreshToken = await rt.save();
    }

    ctx.body = {
      access_token: accessToken,
      expires_in: at.expiration,
      token_type: at.tokenType,
      scope: scopeText,
      refresh_token: refreshToken,
      id_token: await idTokenFor(provider, ctx, account, scopes, authTime),
    };
  }
  provider.registerGrantType(PASSWORD_GRANT, passwordGrant, ['username', 'password', 'scope']);
}

export function registerTokenExchange(provider) {
  async function tokenExchange(ctx) {
    const {
      subject_token: subjectToken,
      subject_token_type: subjectTokenType,
      requested_token_type: requestedTokenType,
      audience,
      scope,
    } = ctx.oidc.params;
    if (!subjectToken) throw new errors.InvalidRequest('missing required parameter subject_token');
    if (subjectTokenType !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`unsupported subject_token_type (only ${ACCESS_TOKEN_TYPE})`);
    }
    if (requestedTokenType && requestedTokenType !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`unsupported requested_token_type (only ${ACCESS_TOKEN_TYPE})`);
    }

    const subject = await provider.AccessToken.find(subjectToken);
    if (!subject?.isValid) throw new errors.InvalidGrant('subject_token is not active');
    if (subject.grantId) {
      const subjectGrant = await provider.Grant.find(subject.grantId);
      if (!subjectGrant) throw new errors.InvalidGrant('subject_token is not active');
    }

    const subjectScopes = new Set((subject.scope ?? '').split(' ').filter(Boolean));
    const scopes = scope ? new Set(scope.split(' ').filter(Boolean)) : subjectScopes;
    const missing = [...scopes].filter((s) => !subjectScopes.has(s));
    if (missing.length) {
      throw new errors.InvalidScope('requested scope exceeds the subject token', missing.join(' '));
    }
    scopes.delete('offline_access');

    const { client } = ctx.oidc;
    const { grantId } = await saveGrant(provider, subject.accountId, client.clientId, scopes);
    const scopeText = [...scopes].join(' ') || undefined;
    const at = new provider.AccessToken({
      accountId: subject.accountId,
      client,
      grantId,
      gty: 'token_exchange',
      scope: scopeText,
      extra: { act: { sub: client.clientId }, subject_client_id: subject.clientId },
    });
    if (audience) at.setAudience(audience);
    ctx.oidc.entity('AccessToken', at);
    const accessToken = await at.save();

    ctx.body = {
      access_token: accessToken,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: at.tokenType,
      expires_in: at.expiration,
      scope: scopeText,
    };
  }
  provider.registerGrantType(TOKEN_EXCHANGE_GRANT, tokenExchange, [
    'subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'scope',
  ]);
}
