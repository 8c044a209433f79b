"""Stand-ins for AWS on 127.0.0.1, for tests/codeartifact.rs.

- STS: moto's real server (moto.server), in this process, so that the fake
  CodeArtifact can look up the credentials moto issued. Every STS call is
  counted; a web identity token whose `exp` has passed is refused the way
  STS refuses it (moto itself checks no JWT).
- CodeArtifact: `POST /v1/authorization-token`. The SigV4 signature is
  verified with botocore's own signer (botocore.auth.SigV4Auth): the request
  is signed again with the secret of the access key it names (a static key
  given on the command line, or temporary credentials moto's STS issued,
  whose session token must match) and the signatures compared. Service
  `codeartifact`, the region, the date's freshness and the query
  parameters are checked. Answers {"authorizationToken", "expiration"}.

Prints `READY <sts port> <codeartifact port>` when both listen.
Test endpoints: GET /test/stats, POST /test/lifetime?secs=N, and
GET /test/check: 200 when the request's Authorization header is exactly a
token this fake issued (raw, no scheme) that has not expired, else 401 (the
check a verifying gateway in front of the registry makes, gateway.mjs's
VERIFY_URL).
"""
import argparse, base64, datetime, hmac, json, secrets, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.serving import make_server
from moto.server import DomainDispatcherApplication, create_backend_app
from moto.sts.models import sts_backends

p = argparse.ArgumentParser()
p.add_argument("--region", required=True)
p.add_argument("--domain", required=True)
p.add_argument("--owner", required=True)
p.add_argument("--static", default="", help="ACCESS_KEY:SECRET")
args = p.parse_args()

lock = threading.Lock()
stats = {"sts": 0, "tokens": 0, "refused": 0, "issued": [], "last_query": {}, "last_key": ""}
lifetime = [3600]
live = {}  # issued token -> expiration (epoch seconds)
static = dict([args.static.split(":", 1)]) if args.static else {}


def jwt_expired(form):
    token = form.get("WebIdentityToken", [""])[0]
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return int(claims.get("exp", 0)) < time.time()
    except Exception:
        return True


def sts_app():
    moto = DomainDispatcherApplication(create_backend_app)

    def app(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        form = parse_qs(body.decode())
        if form.get("Action") == ["AssumeRoleWithWebIdentity"]:
            with lock:
                stats["sts"] += 1
            if jwt_expired(form):
                xml = ("<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredTokenException</Code>"
                       "<Message>Token expired: current date/time is after the exp of the token "
                       "</Message></Error></ErrorResponse>").encode()
                start_response("400 Bad Request", [("Content-Type", "text/xml")])
                return [xml]
        import io
        environ["wsgi.input"] = io.BytesIO(body)
        return moto(environ, start_response)
    return app


def secret_for(access_key, session_token):
    if access_key in static:
        return static[access_key], None
    for account in list(sts_backends.keys()):
        for backend in sts_backends[account].values():
            for role in backend.assumed_roles:
                if role.access_key_id == access_key:
                    if session_token != role.session_token:
                        return None, "session token does not match the one STS issued"
                    return role.secret_access_key, None
    return None, "The security token included in the request is invalid."


class CodeArtifact(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, status, obj, error_type=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def refuse(self, status, kind, message):
        with lock:
            stats["refused"] += 1
        self.answer(status, {"__type": kind, "message": message}, kind)

    def do_GET(self):
        if self.path == "/test/stats":
            with lock:
                self.answer(200, stats)
        elif self.path == "/test/check":
            with lock:
                exp = live.get(self.headers.get("Authorization", ""))
            if exp is not None and exp > time.time():
                self.answer(200, {"active": True})
            else:
                self.answer(401, {"active": False})
        else:
            self.answer(404, {"message": "no such path"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        url = urlsplit(self.path)
        if url.path == "/test/lifetime":
            lifetime[0] = int(parse_qs(url.query)["secs"][0])
            return self.answer(200, {})
        if url.path != "/v1/authorization-token":
            return self.answer(404, {"message": "no such path"})
        auth = self.headers.get("Authorization", "")
        try:
            algo, rest = auth.split(" ", 1)
            parts = dict(p.strip().split("=", 1) for p in rest.split(","))
            ak, date, region, service, term = parts["Credential"].split("/")
            signed = parts["SignedHeaders"].split(";")
            signature = parts["Signature"]
        except Exception:
            return self.refuse(403, "AccessDeniedException", "Missing or malformed Authorization header")
        if algo != "AWS4-HMAC-SHA256" or term != "aws4_request":
            return self.refuse(403, "AccessDeniedException", "not SigV4")
        if service != "codeartifact" or region != args.region:
            return self.refuse(403, "InvalidSignatureException", f"Credential should be scoped to a valid region and service codeartifact, not {region}/{service}")
        amz_date = self.headers.get("X-Amz-Date", "")
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            return self.refuse(403, "InvalidSignatureException", "bad X-Amz-Date")
        if abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) > 300 or date != amz_date[:8]:
            return self.refuse(403, "InvalidSignatureException", "Signature expired or date mismatch")
        for h in ("host", "x-amz-date"):
            if h not in signed:
                return self.refuse(403, "InvalidSignatureException", f"{h} is not signed")
        token = self.headers.get("X-Amz-Security-Token")
        if token is not None and "x-amz-security-token" not in signed:
            return self.refuse(403, "InvalidSignatureException", "the security token is not signed")
        secret, why = secret_for(ak, token)
        if secret is None:
            return self.refuse(403, "UnrecognizedClientException", why)
        request = AWSRequest(method="POST", url=f"http://{self.headers['Host']}{self.path}", data=body,
                             headers={h: self.headers[h] for h in signed if self.headers.get(h) is not None})
        signer = SigV4Auth(Credentials(ak, secret, token), "codeartifact", region)
        request.context["timestamp"] = amz_date
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        if not hmac.compare_digest(expected, signature):
            return self.refuse(403, "InvalidSignatureException",
                               "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if q.get("domain") != args.domain or q.get("domain-owner") != args.owner:
            return self.refuse(404, "ResourceNotFoundException", f"Domain {q.get('domain')} not found in account {q.get('domain-owner')}")
        duration = int(q.get("duration", "0"))
        if not (duration == 0 or 900 <= duration <= 43200):
            return self.refuse(400, "ValidationException", "duration out of range")
        issued = "ca-" + secrets.token_urlsafe(24)
        expiration = time.time() + min(lifetime[0], duration or 3600)
        with lock:
            live[issued] = expiration
            stats["tokens"] += 1
            stats["issued"].append(issued)
            stats["last_query"] = q
            stats["last_key"] = ak
        self.answer(200, {"authorizationToken": issued, "expiration": expiration})


sts = make_server("127.0.0.1", 0, sts_app(), threaded=True)
ca = ThreadingHTTPServer(("127.0.0.1", 0), CodeArtifact)
threading.Thread(target=sts.serve_forever, daemon=True).start()
threading.Thread(target=ca.serve_forever, daemon=True).start()
print(f"READY {sts.server_port} {ca.server_port}", flush=True)
try:
    sys.stdin.read()
finally:
    pass
