// A real OpenID provider for the e2e tests (npm oidc-provider), on 127.0.0.1.
//
// Grants: client_credentials, refresh, device flow, RFC 8693 token exchange
// and RFC 7523 jwt-bearer (both verify the mock CI ID token for real:
// signature, issuer, audience, expiry). Test-only endpoints:
//   GET  /ci/token?audience=&sub=&exp=   a GitHub-Actions-style ID token
//        (Authorization: Bearer ci-request-token); exp: "5m" or a Unix time
//   GET  /test/forged-ci-token           an ID token signed with another key
//   GET  /test/stats                     tokens issued per grant type
// Env: PORT, AT_TTL (token lifetime, s), AT_FORMAT=opaque.
import { Provider, errors } from 'oidc-provider';
import * as jose from 'jose';

const PORT = +(process.env.PORT || 9090), ISS = `http://127.0.0.1:${PORT}`, AUD = 'https://registry.test';
const TTL = +(process.env.AT_TTL || 300), U = 'urn:ietf:params:oauth:';
const TX = `${U}grant-type:token-exchange`, JB = `${U}grant-type:jwt-bearer`, DC = `${U}grant-type:device_code`;
const ci = await jose.generateKeyPair('ES256');      // the mock CI issuer's key
const rogue = await jose.generateKeyPair('ES256');   // a key nobody trusts
const rs = { scope: 'publish read', audience: AUD, accessTokenTTL: TTL, accessTokenFormat: process.env.AT_FORMAT || 'jwt' };
const stats = { total: 0, byGrant: {} };

const provider = new Provider(ISS, {
  clients: [
    { client_id: 'ci', client_secret: 'ci-secret', grant_types: ['client_credentials', TX, JB], response_types: [], redirect_uris: [] },
    { client_id: 'ci-post', client_secret: 'ci-post-secret', token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['client_credentials', TX, JB], response_types: [], redirect_uris: [] },
    { client_id: 'cli', token_endpoint_auth_method: 'none', grant_types: [DC, 'refresh_token', TX, JB], response_types: [], redirect_uris: [] },
  ],
  scopes: ['openid', 'offline_access', 'publish', 'read'],
  findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  ttl: { AccessToken: TTL, ClientCredentials: TTL, DeviceCode: 600, RefreshToken: 86400 },
  features: {
    clientCredentials: { enabled: true }, deviceFlow: { enabled: true },
    introspection: { enabled: true }, revocation: { enabled: true },
    resourceIndicators: { enabled: true, defaultResource: () => AUD, useGrantedResource: () => true,
      getResourceServerInfo: (ctx, ind) => { if (ind !== AUD) throw new errors.InvalidTarget(); return rs; } },
  },
});

async function exchange(ctx, jwt, extra) {   // verify the CI JWT, mint a registry access token for its `sub`
  let sub;
  try { ({ payload: { sub } } = await jose.jwtVerify(jwt, ci.publicKey, { issuer: `${ISS}/ci`, audience: ISS })); }
  catch (e) { throw new errors.InvalidGrant(`subject token rejected: ${e.code}`); }
  const { client, params } = ctx.oidc, scope = params.scope || 'publish';
  const grant = new provider.Grant({ accountId: sub, clientId: client.clientId });
  grant.addResourceScope(AUD, scope);
  const at = new provider.AccessToken({ accountId: sub, client, grantId: await grant.save(), gty: params.grant_type, scope });
  at.resourceServer = new provider.ResourceServer(AUD, rs);
  ctx.body = { access_token: await at.save(), token_type: 'Bearer', expires_in: at.expiration, scope, ...extra };
}
provider.registerGrantType(TX, (ctx) => {
  const p = ctx.oidc.params;
  if (!p.subject_token || !/token-type:(jwt|id_token)$/.test(p.subject_token_type || '')) throw new errors.InvalidRequest('bad subject_token(_type)');
  return exchange(ctx, p.subject_token, { issued_token_type: `${U}token-type:access_token` });
}, ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope', 'actor_token', 'actor_token_type'], ['audience', 'resource']);
provider.registerGrantType(JB, (ctx) => exchange(ctx, ctx.oidc.params.assertion || ''), ['assertion', 'scope', 'resource']);

function ciToken(key, q) {
  const exp = /^\d+$/.test(q.exp || '') ? +q.exp : (q.exp || '5m');
  return new jose.SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setIssuer(`${ISS}/ci`)
    .setSubject(q.sub || 'repo:acme/crate:ref:refs/heads/main').setAudience(q.audience || ISS)
    .setIssuedAt(/^\d+$/.test(q.exp || '') ? +q.exp - 60 : undefined).setExpirationTime(exp).sign(key);
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/ci/token') {
    if (!/^bearer ci-request-token$/i.test(ctx.get('authorization'))) return void (ctx.status = 401);
    ctx.body = { value: await ciToken(ci.privateKey, ctx.query) };
    return;
  }
  if (ctx.path === '/test/forged-ci-token') { ctx.body = { value: await ciToken(rogue.privateKey, ctx.query) }; return; }
  if (ctx.path === '/test/stats') { ctx.body = stats; return; }
  await next();
  if (ctx.path === '/token' && ctx.method === 'POST' && ctx.status === 200) {
    const g = ctx.oidc?.params?.grant_type || 'unknown';
    stats.total += 1; stats.byGrant[g] = (stats.byGrant[g] || 0) + 1;
  }
  if (ctx.path === '/device/auth' && ctx.status === 200) ctx.body.interval = 1;
});
provider.listen(PORT, '127.0.0.1', () => console.log(`READY ${ISS}`));
