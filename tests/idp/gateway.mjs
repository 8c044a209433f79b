// The glue a company puts between its IdP and its registry: verifies the
// registry token the provider hands Cargo (a JWT access token from the IdP:
// signature against the IdP's JWKS, issuer, audience, expiry, and the
// `publish` scope for writes), then forwards the request to kellnr with
// kellnr's own token. Requests without a token pass through unchanged, so
// kellnr's 401 tells Cargo that auth is required (unless OPEN_READS).
// Env: PORT, UPSTREAM_PORT, ISSUER, AUDIENCE, UPSTREAM_TOKEN; optional:
//   JWKS_URL  the issuer's keys (default ISSUER/jwks; Entra: /<tenant>/discovery/v2.0/keys)
//   ROLE      tokens carry app roles (Entra's `roles` claim) instead of scopes:
//             this role is required for reads and writes
//   VERIFY_URL  opaque tokens (AWS CodeArtifact's): each Authorization header,
//             exactly as received (no scheme stripped), is sent to this URL as
//             its Authorization header; 200 accepts it, anything else refuses
//             it (reason `verify-<status>`). ISSUER/AUDIENCE are then unused.
//   OPEN_READS=1  a registry like crates.io, readable by anyone: a GET or HEAD
//             without an Authorization header is forwarded with kellnr's token
//             (counted as `open_reads`), and the index's config.json is
//             answered with "auth-required": false so that Cargo sends no token
//             to read; a write without one is refused (reason `missing-token`).
//             A request WITH an Authorization header is verified as above,
//             read or write (a revoked token gets 401).
//   BASIC_USER, BASIC_PASSWORD  a front like Azure Artifacts': only
//             `Authorization: Basic base64(BASIC_USER:BASIC_PASSWORD)` is
//             accepted (reason `not-basic` for another scheme, `wrong-basic`
//             for other credentials). ISSUER/AUDIENCE are then unused.
// GET /gateway/stats -> {accepted, rejected, rejections: {reason: n}, open_reads}.
import http from 'node:http';
import * as jose from 'jose';

const { PORT, UPSTREAM_PORT, ISSUER, UPSTREAM_TOKEN, ROLE, VERIFY_URL, BASIC_PASSWORD } = process.env;
const BASIC = BASIC_PASSWORD === undefined ? null
  : 'Basic ' + Buffer.from(`${process.env.BASIC_USER || ''}:${BASIC_PASSWORD}`).toString('base64');
const OPEN_READS = process.env.OPEN_READS === '1';
const AUDIENCE = process.env.AUDIENCE || 'https://registry.test';
const jwks = VERIFY_URL || BASIC ? null : jose.createRemoteJWKSet(new URL(process.env.JWKS_URL || `${ISSUER}/jwks`));
const stats = { accepted: 0, rejected: 0, rejections: {}, open_reads: 0 };
const isWrite = (req) => req.method !== 'GET' && req.method !== 'HEAD';

function reject(res, reason) {
  stats.rejected += 1; stats.rejections[reason] = (stats.rejections[reason] || 0) + 1;
  res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
  res.end(JSON.stringify({ errors: [{ detail: `gateway: token refused (${reason})` }] }));
}

// The index's config.json (OPEN_READS): reads need no token.
const isIndexConfig = (req) => OPEN_READS && req.method === 'GET' && new URL(req.url, 'http://x').pathname.endsWith('/config.json');

function openConfig(r, res) {
  let body = '';
  r.setEncoding('utf8');
  r.on('data', (c) => { body += c; });
  r.on('end', () => {
    let text = body;
    if (r.statusCode === 200) {
      try { text = JSON.stringify({ ...JSON.parse(body), 'auth-required': false }); } catch { /* as it came */ }
    }
    const headers = { ...r.headers, 'content-length': Buffer.byteLength(text) };
    delete headers['transfer-encoding'];
    res.writeHead(r.statusCode, headers); res.end(text);
  });
}

function forward(req, res, authorization) {
  const headers = { ...req.headers };
  delete headers.authorization;
  if (authorization) headers.authorization = authorization;
  const config = isIndexConfig(req);
  if (config) delete headers['accept-encoding'];   // rewritten: asked for uncompressed
  const up = http.request({ host: '127.0.0.1', port: UPSTREAM_PORT, method: req.method, path: req.url, headers }, (r) => {
    if (config) return openConfig(r, res);
    res.writeHead(r.statusCode, r.headers); r.pipe(res);
  });
  up.on('error', () => { res.writeHead(502); res.end(); });
  req.pipe(up);
}

http.createServer(async (req, res) => {
  if (req.url === '/gateway/stats') { res.end(JSON.stringify(stats)); return; }
  const auth = req.headers.authorization;
  if (!auth && OPEN_READS) {
    if (isWrite(req)) return reject(res, 'missing-token');
    stats.open_reads += 1;
    return forward(req, res, UPSTREAM_TOKEN);
  }
  if (!auth) return forward(req, res, undefined);
  if (BASIC) {
    if (!/^Basic /i.test(auth)) return reject(res, 'not-basic');
    if (auth !== BASIC) return reject(res, 'wrong-basic');
    stats.accepted += 1;
    return forward(req, res, UPSTREAM_TOKEN);
  }
  if (VERIFY_URL) {
    let status;
    try { status = (await fetch(VERIFY_URL, { headers: { authorization: auth } })).status; }
    catch { return reject(res, 'verify-unreachable'); }
    if (status !== 200) return reject(res, `verify-${status}`);
    stats.accepted += 1;
    return forward(req, res, UPSTREAM_TOKEN);
  }
  const token = auth.replace(/^Bearer\s+/i, '');
  let payload;
  try { ({ payload } = await jose.jwtVerify(token, jwks, { issuer: ISSUER, audience: AUDIENCE })); }
  catch (e) { return reject(res, e.code || 'invalid'); }
  if (ROLE) {
    if (![].concat(payload.roles || []).includes(ROLE)) return reject(res, 'missing-role');
    stats.accepted += 1;
    return forward(req, res, UPSTREAM_TOKEN);
  }
  const scopes = String(payload.scope || '').split(' ');
  if (isWrite(req) && !scopes.includes('publish')) return reject(res, 'missing-publish-scope');
  if (!isWrite(req) && !scopes.includes('read') && !scopes.includes('publish')) return reject(res, 'missing-read-scope');
  stats.accepted += 1;
  forward(req, res, UPSTREAM_TOKEN);
}).listen(+PORT, '127.0.0.1', () => console.log(`READY http://127.0.0.1:${PORT}`));
