// A headless user with a browser, for the e2e tests: drives the IdP's real
// pages (oidc-provider's devInteractions login and consent forms, the device
// user-code pages) with fetch, a cookie jar and no JavaScript.
//   node user.mjs device <verification_uri> <user_code> [--login alice] [--deny]
//     enters the code, confirms (or aborts with --deny), signs in, consents;
//     exit 0 on the IdP's success page (with --deny: its "interrupted" page).
//   node user.mjs browse <authorization_url> [--login alice] [--deny] [--tamper-state] [--tamper-nonce] [--drop-openid] [--print-redirect]
//     follows the URL through login and consent (--deny: aborts them) to the
//     redirect to the app's loopback listener, then GETs it like a browser
//     (exit 0 on 2xx); --tamper-state changes `state` first; --tamper-nonce
//     changes (or adds) the `nonce` of the authorization URL before opening it
//     (a sign-in started elsewhere); --drop-openid removes `openid` from the
//     scope and the `nonce` (someone who saw the URL, asking for no ID token);
//     --print-redirect
//     prints the redirect URL on stdout instead (paste mode).
// Every request times out after 10 s; at most 20 redirects. Codes and tokens
// are never printed, except the redirect URL with --print-redirect.
const [mode, target, ...rest] = process.argv.slice(2);
const flag = (name) => rest.includes(name);
const LOGIN = rest.includes('--login') ? rest[rest.indexOf('--login') + 1] : 'alice';
const MAX_REDIRECTS = 20, MAX_PAGES = 10;
let redirects = 0, pages = 0;

function fail(msg) { console.error(`user.mjs: ${msg}`); process.exit(1); }
const where = (url) => { const u = new URL(url); return `${u.origin}${u.pathname}`; };   // no query: it may hold a code

const jar = new Map();   // `${path} ${name}` -> {name, path, value}; one host
function store(res, url) {
  for (const line of res.headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(';');
    const name = pair.slice(0, pair.indexOf('=')).trim(), value = pair.slice(pair.indexOf('=') + 1).trim();
    const attr = (a) => attrs.map((x) => x.trim()).find((x) => x.toLowerCase().startsWith(`${a}=`))?.slice(a.length + 1);
    const path = attr('path') || new URL(url).pathname.replace(/\/[^/]*$/, '') || '/';
    const gone = !value || attr('max-age') === '0' || (attr('expires') && Date.parse(attr('expires')) < Date.now());
    if (gone) jar.delete(`${path} ${name}`); else jar.set(`${path} ${name}`, { name, path, value });
  }
}
const cookies = (url) => [...jar.values()]
  .filter((c) => { const p = new URL(url).pathname; return p === c.path || p.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`); })
  .map((c) => `${c.name}=${c.value}`).join('; ');

async function request(url, form) {
  const headers = { cookie: cookies(url), 'user-agent': 'cargo-credential-corp-test-user' };
  let res;
  try {
    res = await fetch(url, {
      method: form ? 'POST' : 'GET', redirect: 'manual', signal: AbortSignal.timeout(10000), headers,
      body: form ? new URLSearchParams(form) : undefined,
    });
  } catch (e) { fail(`${form ? 'POST' : 'GET'} ${where(url)} failed: ${e.cause?.code || e.cause?.errors?.[0]?.code || e.name}: ${e.message}`); }
  store(res, url);
  return { res, text: await res.text() };
}

// Follows redirects from `url` while they stay on the IdP; returns the page
// reached there, or {redirect} for a redirect that leaves it.
async function go(url, form, idp) {
  let { res, text } = await request(url, form);
  for (;;) {
    if (res.status < 300 || res.status >= 400) return { res, text, url };
    const next = new URL(res.headers.get('location'), url).href;
    if (++redirects > MAX_REDIRECTS) fail(`more than ${MAX_REDIRECTS} redirects`);
    if (new URL(next).origin !== idp) return { redirect: next };
    url = next;
    ({ res, text } = await request(url));
  }
}

const attr = (html, re) => html.match(re)?.[1]?.replace(/&amp;/g, '&').replace(/&#x2F;|&#47;/g, '/');
const visible = (html) => html.replace(/<style[\s\S]*?<\/style>/g, '').replace(/<[^>]+>/g, ' ')
  .replace(/&[a-z#0-9]+;/gi, ' ').replace(/\s+/g, ' ').trim().slice(0, 300);

// Signs in and consents (or aborts) on devInteractions pages until the flow leaves them.
async function interact(step, idp) {
  while (!step.redirect) {
    const { res, text, url } = step;
    if (res.status !== 200) fail(`the IdP answered ${res.status} at ${where(url)}: ${visible(text)}`);
    const prompt = attr(text, /name="prompt" value="([^"]+)"/);
    if (!prompt) return step;   // not an interaction page: the caller decides
    if (++pages > MAX_PAGES) fail(`more than ${MAX_PAGES} pages`);
    const action = new URL(attr(text, /<form[^>]*action="([^"]+)"/), url).href;
    if (flag('--deny')) {
      const abort = attr(text, /<a href="([^"]*\/abort)"/);
      if (!abort) fail(`no abort link on the ${prompt} page`);
      step = await go(new URL(abort, url).href, undefined, idp);
    } else if (prompt === 'login') {
      step = await go(action, { prompt, login: LOGIN, password: 'any' }, idp);
    } else if (prompt === 'consent') {
      step = await go(action, { prompt }, idp);
    } else fail(`unknown interaction page: ${prompt}`);
  }
  return step;
}

async function browse(authUrl) {
  if (flag('--drop-openid')) {
    const u = new URL(authUrl);
    u.searchParams.set('scope', (u.searchParams.get('scope') || '').split(' ').filter((s) => s !== 'openid').join(' '));
    u.searchParams.delete('nonce');
    authUrl = u.href;
  }
  if (flag('--tamper-nonce')) {
    const u = new URL(authUrl);
    u.searchParams.set('nonce', `${u.searchParams.get('nonce') || ''}tampered`);
    authUrl = u.href;
  }
  const idp = new URL(authUrl).origin;
  const step = await interact(await go(authUrl, undefined, idp), idp);
  if (!step.redirect) fail(`the flow stopped at ${where(step.url)} (${step.res.status}): ${visible(step.text)}`);
  const to = new URL(step.redirect);
  if (flag('--tamper-state')) to.searchParams.set('state', `${to.searchParams.get('state') || ''}tampered`);
  if (flag('--print-redirect')) { console.log(to.href); return; }
  let res;
  try { res = await fetch(to, { redirect: 'manual', signal: AbortSignal.timeout(10000) }); await res.text(); }
  catch (e) { fail(`delivering the redirect to ${where(to)} failed: ${e.cause?.code || e.cause?.errors?.[0]?.code || e.name}: ${e.message}`); }
  console.log(`delivered the redirect to ${where(to)}: HTTP ${res.status}`);
  if (res.status < 200 || res.status >= 300) process.exit(1);
}

async function device(verificationUri, userCode) {
  const idp = new URL(verificationUri).origin;
  let step = await go(verificationUri, undefined, idp);   // the code input form
  const input = (s, name) => attr(s.text, new RegExp(`name="${name}" value="([^"]*)"`));
  let xsrf = step.text && input(step, 'xsrf');
  if (!xsrf) fail(`no user code form at ${where(verificationUri)} (${step.res?.status})`);
  const action = new URL(attr(step.text, /<form[^>]*action="([^"]+)"/), step.url).href;
  step = await go(action, { xsrf, user_code: userCode }, idp);   // -> the confirmation page
  if (step.text?.includes('The code you entered is incorrect')) fail('the IdP refused the user code (unknown, expired or already used)');
  xsrf = step.text && input(step, 'xsrf');
  if (!xsrf || !step.text.includes('op.deviceConfirmForm')) fail(`no confirmation page (${step.res?.status}): ${visible(step.text || '')}`);
  const confirm = { xsrf, user_code: input(step, 'user_code'), confirm: 'yes', ...(flag('--deny') ? { abort: 'yes' } : {}) };
  step = await interact(await go(action, confirm, idp), idp);
  if (step.redirect) fail(`unexpected redirect away from the IdP to ${where(step.redirect)}`);
  const page = visible(step.text);
  if (flag('--deny')) {
    if (!page.includes('The Sign-in request was interrupted')) fail(`no denial page (${step.res.status}): ${page}`);
    console.log('device authorization denied');
  } else {
    if (step.res.status !== 200 || !page.includes('Sign-in Success')) fail(`no success page (${step.res.status}): ${page}`);
    console.log('device authorization approved');
  }
}

if (mode === 'device' && target && rest[0] && !rest[0].startsWith('--')) await device(target, rest[0]);
else if (mode === 'browse' && target) await browse(target);
else fail('usage: user.mjs device <verification_uri> <user_code> [--login L] [--deny] | '
  + 'browse <authorization_url> [--login L] [--deny] [--tamper-state] [--tamper-nonce] [--drop-openid] [--print-redirect]');
