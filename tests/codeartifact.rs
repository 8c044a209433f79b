//! AWS CodeArtifact (`grant = "aws-codeartifact"`) through the real provider
//! binary, against moto's real STS and a fake CodeArtifact that verifies
//! the SigV4 signature with botocore's own signer (`tests/aws/codeartifact.py`);
//! and the real `cargo` publishing and building through a gateway in front of
//! kellnr that accepts exactly the authorization tokens that fake issued.

use crate::util::aws::{Aws, DOMAIN, OWNER, REGION};
use crate::util::cargo::{CargoHome, Providers, REGISTRY};
use crate::util::idp::{Gateway, Idp};
use crate::util::{Output, Provider};

const INDEX: &str =
    "sparse+https://corp-123456789012.d.codeartifact.eu-west-1.amazonaws.com/cargo/crates/";
const ROLE: &str = "arn:aws:iam::123456789012:role/ci-publisher";
const STATIC_KEY: &str = "AKIDSTATICEXAMPLE";
const STATIC_SECRET: &str = "static-secret-Hy62xQ";
const ANY_JWT: &str = "eyJ";
/// Every session token moto issues starts with this; none may be shown.
const ANY_SESSION: &str = "FQoGZXIvYXdzE";

fn get() -> String {
    format!(
        r#"{{"v":1,"registry":{{"index-url":"{INDEX}","name":"corp"}},"kind":"get","operation":"read"}}"#
    )
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn reply(out: &Output) -> serde_json::Value {
    serde_json::from_str(out.reply()).unwrap_or_else(|_| panic!("{}", out.describe()))
}

fn provider(aws: &Aws, extra: &str) -> Provider {
    let mut p = Provider::new();
    p.user_config(&format!(
        "[registries.corp]\nindex = {INDEX:?}\nsources = [\"oidc\"]\n\n[registries.corp.oidc]\n\
         grant = \"aws-codeartifact\"\ncodeartifact-domain = {DOMAIN:?}\n\
         codeartifact-domain-owner = {OWNER:?}\naws-region = {REGION:?}\n\
         sts-endpoint = {:?}\ncodeartifact-endpoint = {:?}\ncache = \"file\"\ntimeout-ms = 10000\n{extra}",
        aws.sts_endpoint(),
        aws.codeartifact_endpoint()
    ))
    .secret(ANY_JWT)
    .secret(ANY_SESSION)
    .secret(STATIC_SECRET)
    .secret("ci-request-token")
    .secret("ca-");
    let home = p.dir().display().to_string();
    p.env("HOME", &home);
    p
}

#[test]
#[ignore = "e2e: needs moto and botocore; run scripts/test.sh"]
fn a_github_job_gets_a_codeartifact_token_through_sts_cached_until_it_expires() {
    let idp = Idp::start(300);
    let aws = Aws::start(&format!("{STATIC_KEY}:{STATIC_SECRET}"));
    let mut p = provider(&aws, &format!("aws-role-arn = {ROLE:?}\n"));
    p.env("GITHUB_ACTIONS", "true")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", &idp.ci_token_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ci-request-token");
    let out = p.request(&get());
    let v = reply(&out);
    let token = v["Ok"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", out.describe()))
        .to_owned();
    assert_eq!(
        aws.issued(),
        std::slice::from_ref(&token),
        "sent raw, no scheme"
    );
    assert_eq!(v["Ok"]["cache"], "expires");
    let exp = v["Ok"]["expiration"].as_i64().unwrap();
    assert!((now() + 3500..=now() + 3601).contains(&exp), "{exp}");
    let stats = aws.stats();
    assert_eq!(stats["sts"], 1, "{stats}");
    assert!(
        stats["last_key"].as_str().unwrap().starts_with("ASIA") || stats["last_key"] != STATIC_KEY
    );
    assert_eq!(stats["last_query"]["duration"], "3600");
    // Cached: no STS call, no CodeArtifact call.
    let again = reply(&p.request(&get()));
    assert_eq!(again["Ok"]["token"], token.as_str());
    let stats = aws.stats();
    assert_eq!(
        (stats["sts"].as_u64(), stats["tokens"].as_u64()),
        (Some(1), Some(1)),
        "{stats}"
    );
    let secrets: Vec<String> = aws.issued();
    p.secrets_all(&secrets.iter().map(String::as_str).collect::<Vec<_>>());

    // Expiry honoured: a token living 3 s is replaced once it has expired.
    aws.set_lifetime(3);
    let mut q = provider(&aws, &format!("aws-role-arn = {ROLE:?}\n"));
    q.env("GITHUB_ACTIONS", "true")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", &idp.ci_token_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ci-request-token");
    let short = reply(&q.request(&get()));
    let exp = short["Ok"]["expiration"].as_i64().unwrap();
    assert!(exp <= now() + 3, "{exp}");
    std::thread::sleep(std::time::Duration::from_secs(4));
    let renewed = reply(&q.request(&get()));
    assert_ne!(renewed["Ok"]["token"], short["Ok"]["token"]);
    assert_eq!(aws.stats()["sts"], 3);
}

#[test]
#[ignore = "e2e: needs moto and botocore; run scripts/test.sh"]
fn static_keys_are_signed_correctly_and_a_wrong_secret_is_refused_cleanly() {
    let aws = Aws::start(&format!("{STATIC_KEY}:{STATIC_SECRET}"));
    let mut p = provider(&aws, "");
    p.env("AWS_ACCESS_KEY_ID", STATIC_KEY)
        .env("AWS_SECRET_ACCESS_KEY", STATIC_SECRET);
    let out = p.request(&get());
    let v = reply(&out);
    assert!(v["Ok"]["token"].as_str().is_some(), "{}", out.describe());
    let stats = aws.stats();
    assert_eq!(stats["last_key"], STATIC_KEY);
    assert_eq!(stats["last_query"]["domain"], DOMAIN);
    assert_eq!(stats["last_query"]["domain-owner"], OWNER);
    assert_eq!(stats["sts"], 0);

    let wrong = "wrong-secret-Bv93kL";
    let mut q = provider(&aws, "");
    q.env("AWS_ACCESS_KEY_ID", STATIC_KEY)
        .env("AWS_SECRET_ACCESS_KEY", wrong)
        .secret(wrong);
    let out = q.request(&get());
    let text = reply(&out)["Err"].to_string();
    assert!(
        text.contains("InvalidSignatureException")
            && text.contains("HTTP 403")
            && text.contains("GetAuthorizationToken"),
        "{text}"
    );
}

#[test]
#[ignore = "e2e: needs moto and botocore; run scripts/test.sh"]
fn an_sts_refusal_is_shown_cleanly() {
    use base64::Engine as _;
    let aws = Aws::start(&format!("{STATIC_KEY}:{STATIC_SECRET}"));
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let expired = format!(
        "{}.{}.{}",
        b64(r#"{"alg":"RS256"}"#),
        b64(&format!(r#"{{"sub":"repo:o/r","exp":{}}}"#, now() - 60)),
        b64("sig")
    );
    let mut p = provider(
        &aws,
        &format!("aws-role-arn = {ROLE:?}\nidentity = \"env\"\nidentity-env = \"CI_JWT\"\n"),
    );
    p.env("CI_JWT", &expired).secret(&expired);
    let text = reply(&p.request(&get()))["Err"].to_string();
    assert!(
        text.contains("ExpiredTokenException")
            && text.contains("AWS STS")
            && text.contains("clock"),
        "{text}"
    );
    assert_eq!(aws.stats()["tokens"], 0);
}

/// A Cargo home for the registry behind `gw` with the `aws-codeartifact`
/// grant at `aws` (`extra`: more `oidc` settings), the shared credentials
/// file pointed at nothing.
fn codeartifact_home(gw: &Gateway, aws: &Aws, extra: &str) -> CargoHome {
    let mut home = CargoHome::new(&gw.index_url(), Providers::PerRegistry(vec![]));
    let no_file = home.root().join("no-aws-credentials").display().to_string();
    home.env("AWS_SHARED_CREDENTIALS_FILE", &no_file)
        .secret(ANY_JWT)
        .secret(ANY_SESSION)
        .secret(STATIC_SECRET)
        .secret("ci-request-token")
        .secret("ca-")
        .secret(gw.kellnr.token());
    home.corp_config(&format!(
        "[registries.{REGISTRY}]\nindex = {:?}\nsources = [\"oidc\"]\n\n[registries.{REGISTRY}.oidc]\n\
         grant = \"aws-codeartifact\"\ncodeartifact-domain = {DOMAIN:?}\n\
         codeartifact-domain-owner = {OWNER:?}\naws-region = {REGION:?}\n\
         sts-endpoint = {:?}\ncodeartifact-endpoint = {:?}\ntimeout-ms = 10000\n{extra}",
        gw.index_url(),
        aws.sts_endpoint(),
        aws.codeartifact_endpoint()
    ));
    home
}

#[test]
#[ignore = "e2e: needs kellnr, the test IdP, moto and botocore; run scripts/test.sh"]
fn a_github_job_publishes_and_builds_with_codeartifact_tokens_through_a_verifying_gateway() {
    let idp = Idp::start(300);
    let aws = Aws::start(&format!("{STATIC_KEY}:{STATIC_SECRET}"));
    let gw = Gateway::start_verifying(&aws.check_url());
    let mut home = codeartifact_home(&gw, &aws, &format!("aws-role-arn = {ROLE:?}\n"));
    home.env("GITHUB_ACTIONS", "true")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", &idp.ci_token_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ci-request-token");

    let lib = home.new_lib("aws-lib", "0.4.0");
    let out = home.cargo(&lib, &["publish", "--registry", REGISTRY], None);
    out.assert_success();
    out.assert_stderr_contains("Uploaded aws-lib v0.4.0");
    let stats = aws.stats();
    assert_eq!(
        (stats["sts"].as_u64(), stats["tokens"].as_u64()),
        (Some(1), Some(1)),
        "{stats}"
    );
    assert_ne!(
        stats["last_key"], STATIC_KEY,
        "STS's temporary credentials signed it"
    );

    let app = home.new_app("aws-app", "aws-lib", "0.4");
    let out = home.cargo(&app, &["build"], None);
    out.assert_success();
    out.assert_stderr_contains("Downloaded aws-lib v0.4.0");
    let stats = aws.stats();
    assert_eq!(
        (stats["sts"].as_u64(), stats["tokens"].as_u64()),
        (Some(1), Some(1)),
        "a later cargo run reuses the cached token: {stats}"
    );
    let gateway = gw.stats();
    assert_eq!(gateway["rejected"], 0, "{gateway}");
    assert!(gateway["accepted"].as_u64().unwrap() >= 4, "{gateway}");
    assert!(home.credential_files().is_empty());

    // Exactly the issued token, sent raw: not with a scheme, not another.
    let token = aws.issued().remove(0);
    let path = "/api/v1/crates/config.json";
    assert_eq!(gw.get_status(path, &token), 200);
    assert_eq!(gw.get_status(path, &format!("Bearer {token}")), 401);
    assert_eq!(gw.get_status(path, "ca-not-issued-by-the-fake"), 401);

    // A static key with the wrong secret: the fake CodeArtifact refuses the
    // signature, cargo fails saying why, nothing reaches the registry.
    let wrong = "wrong-secret-Bv93kL";
    let mut bad = codeartifact_home(&gw, &aws, "");
    bad.env("AWS_ACCESS_KEY_ID", STATIC_KEY)
        .env("AWS_SECRET_ACCESS_KEY", wrong)
        .secret(wrong);
    let app = bad.new_app("aws-bad-app", "aws-lib", "0.4");
    let out = bad.cargo(&app, &["generate-lockfile"], None);
    out.assert_failure();
    assert!(
        out.stderr.contains("InvalidSignatureException")
            && out.stderr.contains("GetAuthorizationToken"),
        "{}",
        out.describe()
    );
    assert_eq!(aws.stats()["tokens"], 1);
    assert_eq!(aws.stats()["refused"], 1);
    assert_eq!(
        gw.stats()["accepted"].as_u64(),
        gateway["accepted"].as_u64().map(|n| n + 1)
    );
}

/// A fake EC2 instance metadata service (IMDSv2) on 127.0.0.1: a session
/// token for a PUT to /latest/api/token, then, only with that token, the
/// instance profile's role name and its credentials. Counts what it saw.
struct Imds {
    port: u16,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _stop: std::sync::mpsc::Sender<()>,
}

const IMDS_SESSION: &str = "imds-session-Kq81Zx";
const IMDS_ROLE: &str = "corp-ci-role";

impl Imds {
    fn start() -> Imds {
        use std::io::{BufRead as _, BufReader, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let log = std::sync::Arc::clone(&seen);
        std::thread::spawn(move || {
            while matches!(
                stopped.try_recv(),
                Err(std::sync::mpsc::TryRecvError::Empty)
            ) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(std::time::Duration::from_secs(5)))
                    .unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let mut session = false;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    let h = h.to_ascii_lowercase();
                    session |= h.starts_with("x-aws-ec2-metadata-token:")
                        && h.contains(&IMDS_SESSION.to_ascii_lowercase());
                }
                let request = line.trim().to_owned();
                log.lock().unwrap().push(request.clone());
                let creds = format!(
                    r#"{{"Code":"Success","AccessKeyId":"{STATIC_KEY}","SecretAccessKey":"{STATIC_SECRET}","Expiration":"2099-01-01T00:00:00Z"}}"#
                );
                let (status, body) = match request.split_whitespace().take(2).collect::<Vec<_>>()[..]
                {
                    ["PUT", "/latest/api/token"] => ("200 OK", IMDS_SESSION.to_owned()),
                    [_, _] if !session => ("401 Unauthorized", String::new()),
                    ["GET", "/latest/meta-data/iam/security-credentials/"] => {
                        ("200 OK", IMDS_ROLE.to_owned())
                    }
                    ["GET", p]
                        if p == format!(
                            "/latest/meta-data/iam/security-credentials/{IMDS_ROLE}"
                        ) =>
                    {
                        ("200 OK", creds)
                    }
                    _ => ("404 Not Found", String::new()),
                };
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Imds {
            port,
            seen,
            _stop: stop,
        }
    }
}

#[test]
#[ignore = "e2e: needs moto and botocore; run scripts/test.sh"]
fn on_ec2_the_instance_profile_from_imdsv2_signs_the_request() {
    let aws = Aws::start(&format!("{STATIC_KEY}:{STATIC_SECRET}"));
    let imds = Imds::start();
    let mut p = provider(&aws, "identity = \"aws-imds\"\n");
    p.env(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        &format!("http://127.0.0.1:{}", imds.port),
    )
    .secret(IMDS_SESSION);
    let out = p.request(&get());
    let v = reply(&out);
    assert!(v["Ok"]["token"].as_str().is_some(), "{}", out.describe());
    // IMDSv2: a session token first, then the role and its credentials,
    // both asked with that token; the request was signed with them.
    let seen = imds.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "PUT /latest/api/token HTTP/1.1".to_owned(),
            "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1".to_owned(),
            format!("GET /latest/meta-data/iam/security-credentials/{IMDS_ROLE} HTTP/1.1"),
        ]
    );
    assert_eq!(aws.stats()["last_key"], STATIC_KEY);
    assert_eq!(aws.stats()["sts"], 0);

    // Without identity = "aws-imds" the metadata service is never asked.
    let mut q = provider(&aws, "");
    q.env(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        &format!("http://127.0.0.1:{}", imds.port),
    );
    let out = q.request(&get());
    assert!(reply(&out)["Err"].is_object(), "{}", out.describe());
    assert_eq!(
        imds.seen.lock().unwrap().len(),
        3,
        "IMDS was asked without being configured"
    );
}
