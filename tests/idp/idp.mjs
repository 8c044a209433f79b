// A real OpenID provider for the e2e tests (npm oidc-provider), on 127.0.0.1.
//
// Grants: client_credentials, refresh, device flow, RFC 8693 token exchange
// and RFC 7523 jwt-bearer (both verify the mock CI ID token for real:
// signature, issuer, audience, expiry), and single sign-on for developers:
// authorization code + PKCE and device flow for the public native client
// `sso`, with rotating refresh tokens. Clients:
//   ci / ci-secret (basic), ci-post / ci-post-secret (post)   CI grants
//   cli (public)                 device flow, refresh, CI grants
//   sso (public, native)         code + PKCE (S256, required), device flow,
//                                refresh; redirect http://127.0.0.1:<any port>/callback
//   introspector / introspector-secret   may introspect any token
// What `sso` sends (the registry resource is https://registry.test, scopes read publish):
//   GET  /auth?client_id=sso&response_type=code&redirect_uri=http://127.0.0.1:P/callback
//        &scope=openid offline_access read publish&code_challenge=..&code_challenge_method=S256
//        &state=..[&resource=https://registry.test]   (resource defaults to the registry;
//        without `prompt` this IdP adds prompt=consent, as OIDC requires for
//        offline_access; a `prompt` without consent makes oidc-provider drop
//        offline_access: no refresh token)
//   POST /token grant_type=authorization_code&client_id=sso&code=..&redirect_uri=(same)
//        &code_verifier=..                  -> access (JWT, aud registry), refresh, id token
//   POST /device/auth client_id=sso&scope=openid offline_access read publish
//        [&resource=https://registry.test]  -> device_code, user_code, verification_uri, interval
//   POST /token grant_type=urn:ietf:params:oauth:grant-type:device_code&client_id=sso
//        &device_code=..                    -> same as the code exchange
//   POST /token grant_type=refresh_token&client_id=sso&refresh_token=..&scope=read (or publish)
//        &resource=https://registry.test    -> JWT {aud: registry, scope}, a NEW refresh token
//        (the old one is then invalid_grant; replaying it revokes the whole grant)
//   POST /token/revocation client_id=sso&token=<refresh token>[&token_type_hint=refresh_token]
//        -> 200, grant revoked; POST /token/introspection (introspector) -> active:false
// Test-only endpoints:
//   GET  /ci/token?audience=&sub=&exp=&repository=&environment=&flavor=
//        a GitHub-Actions-style ID token (Authorization: Bearer ci-request-token);
//        exp: "5m" or a Unix time. Signed with the `ci` key (kid `ci-1`), a fresh
//        `jti` each, GitHub's claims (repository, repository_owner_id, workflow_ref,
//        run_id, sha; repository defaults to acme/crate), issuer <issuer>/ci.
//        flavor=gitlab: GitLab's claims instead (project_path, namespace_id,
//        ci_config_ref_uri, job_id), issuer <issuer>/gitlab.
//   GET  /ci/jwks                        the CI issuers' public keys (JWKS)
//   GET  /test/forged-ci-token           an ID token signed with another key
//   GET  /test/stats                     tokens issued per grant type; `requests`: every
//                                        request but /test/*, as "METHOD /path"
//   GET  /test/secrets                   every secret issued or received so far (tokens,
//        codes, device codes, code verifiers, CI tokens): no output may show one
// Env: PORT, AT_TTL (access token lifetime, s), AT_FORMAT=opaque, DEVICE_TTL (device
// code lifetime, s, 600), RT_TTL (refresh token lifetime, s, 86400; each rotation
// starts a new one), SLOW_DOWN_ONCE=1 (the first device_code poll gets `slow_down`),
// REQUIRE_NONCE=1 (an authorization request asking for `openid` without `nonce` is
// answered, as some OpenID providers do, with a redirect carrying
// error=invalid_request&error_description=nonce required; oidc-provider then puts the
// request's nonce into the ID token, as it always does), EXACT_REDIRECT=<uri> (the
// `sso` client's redirect URI is matched exactly, port included, as some IdPs do
// against RFC 8252 §7.3: any other gets the IdP's 400 error page, no redirect),
// TOKEN_DELAY_MS (each POST /token is answered that much later; /test/stats counts
// those in flight as `pending`), RESOURCE=<url> (a second resource indicator accepted
// besides https://registry.test, with the same scopes: a registry that names this IdP
// in its RFC 9728 metadata), REGISTRATION=1 (RFC 7591 dynamic client registration at
// /reg, open: no initial access token).
// GET /test/signing-key -> {kid, pem}: the public key that signs the JWT access tokens
// (for a resource server that takes its key from a file, like Apache's mod_auth_openidc).
import { Provider, errors } from 'oidc-provider';
import * as jose from 'jose';

const PORT = +(process.env.PORT || 9090), ISS = `http://127.0.0.1:${PORT}`, AUD = 'https://registry.test';
const TTL = +(process.env.AT_TTL || 300), U = 'urn:ietf:params:oauth:';
const TX = `${U}grant-type:token-exchange`, JB = `${U}grant-type:jwt-bearer`, DC = `${U}grant-type:device_code`;
const ci = await jose.generateKeyPair('ES256');      // the mock CI issuer's key
const rogue = await jose.generateKeyPair('ES256');   // a key nobody trusts
const rs = { scope: 'publish read', audience: AUD, accessTokenTTL: TTL, accessTokenFormat: process.env.AT_FORMAT || 'jwt' };
const stats = { total: 0, byGrant: {}, requests: [] }, secrets = new Set();
const DEVICE_TTL = +(process.env.DEVICE_TTL || 600), RT_TTL = +(process.env.RT_TTL || 86400);
let slowDown = process.env.SLOW_DOWN_ONCE === '1';
const REQUIRE_NONCE = process.env.REQUIRE_NONCE === '1', EXACT_REDIRECT = process.env.EXACT_REDIRECT;
const TOKEN_DELAY = +(process.env.TOKEN_DELAY_MS || 0);
const RESOURCES = [AUD, ...(process.env.RESOURCE ? [process.env.RESOURCE] : [])];
stats.pending = 0;

const provider = new Provider(ISS, {
  clients: [
    { client_id: 'ci', client_secret: 'ci-secret', grant_types: ['client_credentials', TX, JB], response_types: [], redirect_uris: [] },
    { client_id: 'ci-post', client_secret: 'ci-post-secret', token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['client_credentials', TX, JB], response_types: [], redirect_uris: [] },
    { client_id: 'cli', token_endpoint_auth_method: 'none', grant_types: [DC, 'refresh_token', TX, JB], response_types: [], redirect_uris: [] },
    { client_id: 'sso', token_endpoint_auth_method: 'none', application_type: 'native',   // any loopback port (RFC 8252 §7.3)
      grant_types: ['authorization_code', 'refresh_token', DC], response_types: ['code'], redirect_uris: ['http://127.0.0.1/callback'] },
    { client_id: 'introspector', client_secret: 'introspector-secret', grant_types: [], response_types: [], redirect_uris: [] },
  ],
  scopes: ['openid', 'offline_access', 'publish', 'read'],
  findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  ttl: { AccessToken: TTL, ClientCredentials: TTL, DeviceCode: DEVICE_TTL, RefreshToken: RT_TTL },
  pkce: { required: () => true },   // S256 is the only method oidc-provider 9 knows
  // Defaults kept: a refresh token when the grant has offline_access; public
  // clients' refresh tokens rotate on every use.
  features: {
    clientCredentials: { enabled: true }, deviceFlow: { enabled: true }, revocation: { enabled: true },
    introspection: { enabled: true, allowedPolicy: (ctx, client, token) =>
      client.clientId === 'introspector' || client.clientAuthMethod !== 'none' || token.clientId === client.clientId },
    resourceIndicators: { enabled: true, defaultResource: () => AUD, useGrantedResource: () => true,
      getResourceServerInfo: (ctx, ind) => { if (!RESOURCES.includes(ind)) throw new errors.InvalidTarget(); return { ...rs, audience: ind }; } },
    registration: { enabled: process.env.REGISTRATION === '1' },
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

function ciClaims(q) {   // what GitHub Actions (or, flavor=gitlab, GitLab CI) puts in its ID tokens
  const repo = q.repository || 'acme/crate', env = q.environment ? { environment: q.environment } : {};
  if (q.flavor === 'gitlab') {
    return { iss: `${ISS}/gitlab`, claims: { project_path: repo, namespace_id: '4321', namespace_path: repo.split('/')[0],
      ci_config_ref_uri: `gitlab.example/${repo}//.gitlab-ci.yml@refs/heads/main`, job_id: '77', sha: 'b'.repeat(40), ...env } };
  }
  return { iss: `${ISS}/ci`, claims: { repository: repo, repository_owner: repo.split('/')[0], repository_owner_id: '1234',
    workflow_ref: `${repo}/.github/workflows/publish.yml@refs/heads/main`, run_id: '42', sha: 'a'.repeat(40), ...env } };
}

function ciToken(key, q) {
  const exp = /^\d+$/.test(q.exp || '') ? +q.exp : (q.exp || '5m');
  const { iss, claims } = ciClaims(q);
  return new jose.SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'ci-1' }).setIssuer(iss).setJti(crypto.randomUUID())
    .setSubject(q.sub || 'repo:acme/crate:ref:refs/heads/main').setAudience(q.audience || ISS)
    .setIssuedAt(/^\d+$/.test(q.exp || '') ? +q.exp - 60 : undefined).setExpirationTime(exp).sign(key);
}

const keep = (...v) => v.forEach((x) => typeof x === 'string' && x.length >= 16 && secrets.add(x));   // no junk like 'x'
const isDC = (body) => new URLSearchParams(body).get('grant_type') === DC;

provider.use(async (ctx, next) => {
  if (!ctx.path.startsWith('/test/')) stats.requests.push(`${ctx.method} ${ctx.path}`);   // every request but the harness's
  if (ctx.path === '/ci/token') {
    if (!/^bearer ci-request-token$/i.test(ctx.get('authorization'))) return void (ctx.status = 401);
    ctx.body = { value: await ciToken(ci.privateKey, ctx.query) };
    keep(ctx.body.value);
    return;
  }
  if (ctx.path === '/ci/jwks') { ctx.body = { keys: [{ ...(await jose.exportJWK(ci.publicKey)), kid: 'ci-1', alg: 'ES256', use: 'sig' }] }; return; }
  if (ctx.path === '/test/forged-ci-token') { ctx.body = { value: await ciToken(rogue.privateKey, ctx.query) }; keep(ctx.body.value); return; }
  if (ctx.path === '/test/stats') { ctx.body = stats; return; }
  if (ctx.path === '/test/secrets') { ctx.body = [...secrets]; return; }
  if (ctx.path === '/test/signing-key') {
    const { keys } = await (await fetch(`${ISS}/jwks`)).json();
    const key = keys.find((k) => k.kty === 'RSA');
    ctx.body = { kid: key.kid, pem: await jose.exportSPKI(await jose.importJWK(key, 'RS256')) };
    return;
  }
  if (EXACT_REDIRECT && ctx.path === '/auth' && ctx.query.client_id === 'sso' && ctx.query.redirect_uri !== EXACT_REDIRECT) {
    ctx.status = 400; ctx.type = 'html';
    ctx.body = '<!doctype html><title>Error</title><h1>oops! something went wrong</h1><p>invalid_redirect_uri: '
      + 'redirect_uri did not match any of the client\'s registered redirect_uris</p>';
    return;
  }
  if (REQUIRE_NONCE && ctx.path === '/auth' && ctx.method === 'GET' && !ctx.query.nonce
      && /(^| )openid( |$)/.test(ctx.query.scope || '') && /^http:\/\/127\.0\.0\.1:\d+\/callback$/.test(ctx.query.redirect_uri || '')) {
    const to = new URL(ctx.query.redirect_uri);
    to.search = new URLSearchParams({ error: 'invalid_request', error_description: 'nonce required',
      ...(ctx.query.state ? { state: ctx.query.state } : {}), iss: ISS }).toString();
    return ctx.redirect(to.href);
  }
  // offline_access without prompt=consent is dropped at /auth (OIDC Core 11): consent is asked instead.
  if (ctx.path === '/auth' && ctx.method === 'GET' && !ctx.query.prompt && /(^| )offline_access( |$)/.test(ctx.query.scope || '')) {
    ctx.query = { ...ctx.query, prompt: 'consent' };
  }
  const delayed = TOKEN_DELAY && ctx.path === '/token' && ctx.method === 'POST';   // not with SLOW_DOWN_ONCE
  if (delayed) { stats.pending += 1; await new Promise((r) => setTimeout(r, TOKEN_DELAY)); }
  if (slowDown && ctx.path === '/token' && ctx.method === 'POST' && ctx.is('application/x-www-form-urlencoded')) {
    let body = '';   // read here, handed to oidc-provider as request.body
    for await (const chunk of ctx.req) body += chunk;
    ctx.request.body = Object.fromEntries(new URLSearchParams(body));
    if (isDC(body)) {
      slowDown = false; keep(ctx.request.body.device_code);
      ctx.status = 400; ctx.body = { error: 'slow_down', error_description: 'injected by SLOW_DOWN_ONCE' };
      return;
    }
  }
  await next();
  if (delayed) stats.pending -= 1;
  const p = ctx.oidc?.params || {}, b = typeof ctx.body === 'object' && ctx.body ? ctx.body : {};
  if (ctx.path.startsWith('/token')) keep(p.code, p.code_verifier, p.refresh_token, p.device_code, p.token, p.subject_token, p.assertion);
  if (ctx.path === '/token' && ctx.method === 'POST' && ctx.status === 200) {
    keep(b.access_token, b.refresh_token, b.id_token);
    const g = p.grant_type || 'unknown';
    stats.total += 1; stats.byGrant[g] = (stats.byGrant[g] || 0) + 1;
  }
  if (ctx.path.startsWith('/reg')) keep(b.registration_access_token);
  if (ctx.path === '/device/auth' && ctx.status === 200) { keep(b.device_code); ctx.body.interval = 1; }
  const loc = ctx.response.get('location');
  if (ctx.path.startsWith('/auth') && /[?#&]code=/.test(loc)) {
    const u = new URL(loc);
    keep(u.searchParams.get('code'), new URLSearchParams(u.hash.slice(1)).get('code'));
  }
});
provider.listen(PORT, '127.0.0.1', () => console.log(`READY ${ISS}`));
