// A stand-in for Microsoft Entra ID's token endpoint with workload identity
// federation (Entra cannot run here), checking what Entra checks for
// client credentials with a federated client assertion:
//   POST /<TENANT>/oauth2/v2.0/token   (form)
//     grant_type=client_credentials, client_id=<the app's id>,
//     client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer,
//     client_assertion=<the CI's ID token>, scope=<resource>/.default
//     - the assertion's issuer, subject and audience must match one of the
//       app's federated credentials (FEDERATED) and its signature must
//       verify against that issuer's JWKS; it must not have expired;
//     - no client secret may come with it;
//     -> {"token_type":"Bearer","expires_in":3599,"access_token":<JWT for the resource>}
//   Errors have Entra's shape: {"error": "...", "error_description": "AADSTS...: ...", "error_codes": [...]}.
//   GET /<TENANT>/discovery/v2.0/keys   the JWKS of its access tokens (as Entra's),
//     issuer https://sts.windows.net/<TENANT>/, audience the resource, app role
//     Packaging.ReadWrite: what a verifying gateway (gateway.mjs) checks.
// Test-only: GET /test/stats {issued, rejected: {code: n}}, GET /test/secrets.
// Env: PORT, TENANT, CLIENT_ID, FEDERATED (JSON [{issuer, subject, audience, jwks}]).
import http from 'node:http';
import * as jose from 'jose';

const PORT = +(process.env.PORT || 9092), TENANT = process.env.TENANT || 'tenant-0';
const CLIENT_ID = process.env.CLIENT_ID || '00000000-0000-0000-0000-0000000000c1';
const FEDERATED = JSON.parse(process.env.FEDERATED || '[]');
const URN = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const keys = Object.fromEntries(FEDERATED.map((f) => [f.issuer, jose.createRemoteJWKSet(new URL(f.jwks))]));
const own = await jose.generateKeyPair('RS256');
const stats = { issued: 0, rejected: {} }, secrets = new Set();

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function refuse(res, error, code, description) {
  stats.rejected[code] = (stats.rejected[code] || 0) + 1;
  send(res, 400, { error, error_description: `AADSTS${code}: ${description}`, error_codes: [code] });
}

async function token(req, res) {
  let raw = '';
  for await (const chunk of req) { raw += chunk; if (raw.length > 1 << 16) break; }
  const p = Object.fromEntries(new URLSearchParams(raw));
  for (const v of [p.client_assertion, p.client_secret]) if (v) secrets.add(v);
  if (p.grant_type !== 'client_credentials') return refuse(res, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${p.grant_type}'.`);
  if (p.client_id !== CLIENT_ID) return refuse(res, 'unauthorized_client', 700016, `Application with identifier '${p.client_id}' was not found in the directory '${TENANT}'.`);
  if (p.client_secret) return refuse(res, 'invalid_request', 90014, 'Only one client credential may be presented: a client secret and a client assertion were both sent.');
  if (p.client_assertion_type !== URN) return refuse(res, 'invalid_request', 50027, `client_assertion_type must be '${URN}'.`);
  if (!p.client_assertion) return refuse(res, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_assertion'.");
  if (!p.scope || !/\/\.default$/.test(p.scope)) return refuse(res, 'invalid_scope', 1002012, 'Client credential flows must have a scope value with /.default suffixed to the resource identifier.');
  let unverified;
  try { unverified = jose.decodeJwt(p.client_assertion); } catch { return refuse(res, 'invalid_client', 50027, 'JWT token is invalid or malformed.'); }
  const candidates = FEDERATED.filter((f) => f.issuer === unverified.iss);
  if (!candidates.length) return refuse(res, 'invalid_client', 700211, `No matching federated identity record found for presented assertion issuer '${unverified.iss}'.`);
  const bySubject = candidates.filter((f) => f.subject === unverified.sub);
  if (!bySubject.length) return refuse(res, 'invalid_client', 700213, `No matching federated identity record found for presented assertion subject '${unverified.sub}'.`);
  const auds = [].concat(unverified.aud || []);
  const match = bySubject.find((f) => auds.includes(f.audience));
  if (!match) return refuse(res, 'invalid_client', 700212, `No matching federated identity record found for presented assertion audience '${auds.join(',')}'.`);
  try { await jose.jwtVerify(p.client_assertion, keys[match.issuer], { issuer: match.issuer, audience: match.audience, subject: match.subject }); }
  catch (e) {
    return e.code === 'ERR_JWT_EXPIRED'
      ? refuse(res, 'invalid_client', 700024, 'Client assertion is not within its valid time range.')
      : refuse(res, 'invalid_client', 5002738, 'Client assertion failed signature validation.');
  }
  const resource = p.scope.replace(/\/\.default$/, '');
  const access = await new jose.SignJWT({ appid: CLIENT_ID, tid: TENANT, roles: ['Packaging.ReadWrite'] })
    .setProtectedHeader({ alg: 'RS256', kid: 'entra-1' }).setIssuer(`https://sts.windows.net/${TENANT}/`)
    .setSubject(CLIENT_ID).setAudience(resource).setIssuedAt().setExpirationTime('3599s').sign(own.privateKey);
  secrets.add(access);
  stats.issued += 1;
  send(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: access });
}

http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://127.0.0.1:${PORT}`);
  try {
    if (url.pathname === `/${TENANT}/oauth2/v2.0/token` && req.method === 'POST') return await token(req, res);
    if (url.pathname === `/${TENANT}/discovery/v2.0/keys`) {
      return send(res, 200, { keys: [{ ...(await jose.exportJWK(own.publicKey)), kid: 'entra-1', alg: 'RS256', use: 'sig' }] });
    }
    if (url.pathname === '/test/stats') return send(res, 200, stats);
    if (url.pathname === '/test/secrets') return send(res, 200, [...secrets]);
    send(res, 404, { error: 'not_found' });
  } catch {
    send(res, 500, { error: 'server_error' });
  }
}).listen(PORT, '127.0.0.1', () => console.log(`READY http://127.0.0.1:${PORT}`));
