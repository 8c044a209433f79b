// A stand-in for crates.io's trusted publishing endpoints (crates.io cannot
// run here), checking what crates.io checks:
//   POST   /api/v1/trusted_publishing/tokens  {"jwt": <CI ID token>}
//     - the issuer must be one crates.io trusts (GitHub-style or GitLab-style,
//       here the test IdP's CI issuers), the header must name a key (`kid`),
//       the signature must verify against that issuer's JWKS, `aud` must be
//       AUDIENCE (crates.io) and the token must not have expired;
//     - its `jti` is accepted once: a second use is refused;
//     - the repository (GitHub `repository`, GitLab `project_path`) must have
//       a trusted publishing config (CONFIGS);
//     -> {"token": "cio_tp_<31 alphanumerics><checksum>"}, valid 30 minutes.
//   DELETE /api/v1/trusted_publishing/tokens  Authorization: Bearer <token>
//     -> 204, the token is revoked; an unknown, revoked or expired token -> 401.
//        (crates.io itself answers 204 for an unknown well-formed token; this
//        fake is stricter so that a test sees a token revoked twice.)
//   Errors have crates.io's shape: {"errors":[{"detail": "..."}]}.
// Test-only endpoints:
//   GET /test/check     Authorization: <token> (or Bearer <token>) -> 200 if the
//                       token is live, 403 otherwise (what a publish would see)
//   GET /test/stats     {exchanged, revoked, rejected: {detail: n}, revocations: n}
//   GET /test/secrets   every JWT received and token issued (no output may show one)
// Env: PORT, ISSUERS (JSON {"<issuer>": {"jwks": "<url>", "kind": "github"|"gitlab"}}),
// AUDIENCE (default crates.io), CONFIGS (comma-separated repositories, default
// acme/crate), TOKEN_TTL (seconds, default 1800).
import http from 'node:http';
import * as jose from 'jose';

const PORT = +(process.env.PORT || 9091), AUDIENCE = process.env.AUDIENCE || 'crates.io';
const ISSUERS = JSON.parse(process.env.ISSUERS || '{}');
const CONFIGS = new Set((process.env.CONFIGS || 'acme/crate').split(',').map((r) => r.trim().toLowerCase()));
const TTL = +(process.env.TOKEN_TTL || 1800);
const PATH = '/api/v1/trusted_publishing/tokens';
const jwks = Object.fromEntries(Object.entries(ISSUERS).map(([iss, c]) => [iss, jose.createRemoteJWKSet(new URL(c.jwks))]));
const usedJti = new Set(), tokens = new Map(), secrets = new Set();
const stats = { exchanged: 0, revoked: 0, revocations: 0, rejected: {} };
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function newToken() {   // crates.io's format: prefix, 31 random alphanumerics, a checksum character
  const bytes = crypto.getRandomValues(new Uint8Array(31));
  const raw = [...bytes].map((b) => ALNUM[b % ALNUM.length]).join('');
  const sum = [...raw].reduce((acc, c) => acc ^ c.charCodeAt(0), 0);
  return `cio_tp_${raw}${ALNUM[sum % ALNUM.length]}`;
}

function send(res, status, body) {
  res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

function refuse(res, status, detail) {
  stats.rejected[detail] = (stats.rejected[detail] || 0) + 1;
  send(res, status, { errors: [{ detail }] });
}

async function readBody(req) {
  let body = '';
  for await (const chunk of req) { body += chunk; if (body.length > 1 << 16) break; }
  return body;
}

function live(token) {
  const t = tokens.get(token);
  return t && !t.revoked && Date.now() < t.expires;
}

async function exchange(req, res) {
  if (!/^application\/json/.test(req.headers['content-type'] || '')) return refuse(res, 400, 'Expected request with `Content-Type: application/json`');
  let jwt;
  try { ({ jwt } = JSON.parse(await readBody(req))); } catch { return refuse(res, 400, 'Failed to deserialize the JSON body into the target type'); }
  if (typeof jwt !== 'string') return refuse(res, 400, 'Failed to deserialize the JSON body into the target type');
  secrets.add(jwt);
  let header, unverified;
  try { header = jose.decodeProtectedHeader(jwt); unverified = jose.decodeJwt(jwt); } catch { return refuse(res, 400, 'Failed to decode JWT'); }
  const issuer = ISSUERS[unverified.iss];
  if (!issuer) return refuse(res, 400, `Unsupported JWT issuer: ${unverified.iss}`);
  if (!header.kid) return refuse(res, 400, 'Missing JWT key ID');
  let claims;
  try { ({ payload: claims } = await jose.jwtVerify(jwt, jwks[unverified.iss], { issuer: unverified.iss, audience: AUDIENCE, algorithms: ['ES256', 'RS256'] })); }
  catch (e) { return refuse(res, 400, e.code === 'ERR_JWKS_NO_MATCHING_KEY' ? 'Invalid JWT key ID' : 'Failed to decode JWT'); }
  if (!claims.jti || usedJti.has(claims.jti)) return refuse(res, 400, 'JWT has already been used');
  usedJti.add(claims.jti);
  const repo = issuer.kind === 'gitlab' ? claims.project_path : claims.repository;
  if (!repo || !CONFIGS.has(String(repo).toLowerCase())) return refuse(res, 400, `No Trusted Publishing config found for repository \`${repo}\`.`);
  const token = newToken();
  tokens.set(token, { expires: Date.now() + TTL * 1000, revoked: false, repo });
  secrets.add(token);
  stats.exchanged += 1;
  send(res, 200, { token });
}

function revoke(req, res) {
  stats.revocations += 1;
  const auth = req.headers.authorization;
  if (!auth) return refuse(res, 401, 'Missing authorization header');
  if (!auth.startsWith('Bearer ')) return refuse(res, 401, 'Invalid authorization header');
  const token = auth.slice('Bearer '.length);
  if (!live(token)) return refuse(res, 401, 'Invalid authorization header');
  tokens.get(token).revoked = true;
  stats.revoked += 1;
  send(res, 204);
}

http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://127.0.0.1:${PORT}`);
  try {
    if (url.pathname === PATH && req.method === 'POST') return await exchange(req, res);
    if (url.pathname === PATH && req.method === 'DELETE') return revoke(req, res);
    if (url.pathname === '/test/check') {
      const token = (req.headers.authorization || '').replace(/^Bearer /, '');
      return send(res, live(token) ? 200 : 403, { live: live(token) });
    }
    if (url.pathname === '/test/stats') return send(res, 200, stats);
    if (url.pathname === '/test/secrets') return send(res, 200, [...secrets]);
    send(res, 404, { errors: [{ detail: 'Not Found' }] });
  } catch (e) {
    send(res, 500, { errors: [{ detail: 'Internal Server Error' }] });
  }
}).listen(PORT, '127.0.0.1', () => console.log(`READY http://127.0.0.1:${PORT}`));
