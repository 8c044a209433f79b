//! crates.io trusted publishing (`grant = "crates-io-trusted-publishing"`)
//! through the real provider binary: against a fake crates.io that checks
//! what crates.io checks (the CI ID token's signature against the CI
//! issuer's keys, `aud` = crates.io, a trusted issuer, a single-use `jti`, a
//! trusted publishing config for the repository; revocation once), with the
//! real OpenID provider as the CI issuer; and the request shape, routing
//! and error handling against plain fake servers. And a crates.io-compatible
//! registry (`[registries.tp]` with its own `index`, `token-endpoint` and
//! `identity-audience`): the real `cargo` publishing to kellnr through a
//! gateway that accepts only the fake's live `cio_tp_` tokens and lets
//! anyone read, like crates.io.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::cargo::{CargoHome, Providers};
use crate::util::fake::{Behavior, Fake};
use crate::util::idp::{CratesIo, Gateway, Idp};
use crate::util::{Output, Provider, provider_bin};

/// Every JWT (CI ID token) starts with this; none may be shown.
const ANY_JWT: &str = "eyJ";
/// Every crates.io trusted publishing token starts with this.
const ANY_TOKEN: &str = "cio_tp_";
const INDEX: &str = "sparse+https://index.crates.io/";
const CI_REQUEST_TOKEN: &str = "ci-request-token";

fn request(kind: &str) -> String {
    let registry = format!(r#"{{"index-url":"{INDEX}","name":"crates-io"}}"#);
    match kind {
        "read" => format!(r#"{{"v":1,"registry":{registry},"kind":"get","operation":"read"}}"#),
        "publish" => format!(
            r#"{{"v":1,"registry":{registry},"kind":"get","operation":"publish","name":"acme-crate","vers":"0.1.0","cksum":"00"}}"#
        ),
        "yank" => format!(
            r#"{{"v":1,"registry":{registry},"kind":"get","operation":"yank","name":"acme-crate","vers":"0.1.0"}}"#
        ),
        "logout" => format!(r#"{{"v":1,"registry":{registry},"kind":"logout"}}"#),
        other => panic!("{other}"),
    }
}

fn reply(out: &Output) -> serde_json::Value {
    serde_json::from_str(out.reply()).unwrap_or_else(|_| panic!("{}", out.describe()))
}

/// What a read gets in a job that can publish: not a token, but a fixed
/// placeholder that Cargo may neither keep nor use for a publish. Real
/// `cargo publish` asks for a read token before it packages, only to check
/// that one can be had, and stops on `not-found`.
const READ_PLACEHOLDER: &str = "cargo-credential-corp:trusted-publishing:no-read-token";

/// Asserts that `out` is the read placeholder.
fn assert_read_placeholder(out: &Output) {
    let v = reply(out);
    assert_eq!(v["Ok"]["token"], READ_PLACEHOLDER, "{}", out.describe());
    assert_eq!(v["Ok"]["cache"], "never", "{}", out.describe());
    assert_eq!(
        v["Ok"]["operation_independent"],
        false,
        "{}",
        out.describe()
    );
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A provider for `[registries.crates-io]` with the trusted publishing
/// grant at `endpoint`, the cache `cache` and `extra` settings.
fn provider(endpoint: &str, cache: &str, extra: &str) -> Provider {
    let mut p = Provider::new();
    p.user_config(&format!(
        "[registries.crates-io]\nsources = [\"oidc\"]\n\n[registries.crates-io.oidc]\n\
         grant = \"crates-io-trusted-publishing\"\ntoken-endpoint = {endpoint:?}\n\
         cache = {cache:?}\ntimeout-ms = 5000\n{extra}"
    ))
    .secret(ANY_JWT)
    .secret(ANY_TOKEN)
    .secret(CI_REQUEST_TOKEN);
    p
}

/// [`provider`] in a GitHub Actions job whose ID token URL is `url`.
fn github_job(crates_io: &CratesIo, url: &str, cache: &str) -> Provider {
    let mut p = provider(&crates_io.token_endpoint(), cache, "");
    p.env("GITHUB_ACTIONS", "true")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", url)
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", CI_REQUEST_TOKEN);
    p
}

/// A publish `get` that must succeed: the token, after checking what Cargo is told.
fn minted(p: &Provider) -> String {
    let out = p.request(&request("publish"));
    let v = reply(&out);
    let ok = &v["Ok"];
    assert_eq!(ok["cache"], "expires", "{}", out.describe());
    assert_eq!(ok["operation_independent"], false, "{}", out.describe());
    let expiration = ok["expiration"].as_i64().unwrap();
    // 30 minutes less the one-minute margin, counted from the request.
    assert!(
        (now() + 1700..=now() + 1740).contains(&expiration),
        "expiration in {} s",
        expiration - now()
    );
    let token = ok["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with(ANY_TOKEN));
    token
}

/// An error reply's text.
fn error(p: &Provider, kind: &str) -> String {
    let out = p.request(&request(kind));
    let v = reply(&out);
    assert_eq!(v["Err"]["kind"], "other", "{}", out.describe());
    v["Err"].to_string()
}

fn count(stats: &serde_json::Value, field: &str) -> u64 {
    stats[field].as_u64().unwrap_or_else(|| panic!("{stats}"))
}

/// The files of `folder` (`tokens`, `minted`) in a provider's cache.
fn cache_files(dir: &Path, folder: &str) -> Vec<PathBuf> {
    match std::fs::read_dir(dir.join("cache").join(folder)) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Makes every cached token (and its record) one whose use is over:
/// obtained 25 minutes ago, told to Cargo as expired 10 s ago; crates.io
/// still accepts it.
fn make_use_over(dir: &Path) {
    let (obtained, expired) = (now() - 1500, now() - 10);
    for file in cache_files(dir, "tokens") {
        let mut entry: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        entry["obtained_at"] = obtained.into();
        entry["expires_at"] = expired.into();
        std::fs::write(&file, entry.to_string()).unwrap();
    }
    for file in cache_files(dir, "minted") {
        let mut ledger: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for record in ledger["tokens"]
            .as_array_mut()
            .expect("the ledger format changed")
        {
            record["obtained_at"] = obtained.into();
            record["expires_at"] = expired.into();
        }
        std::fs::write(&file, ledger.to_string()).unwrap();
    }
}

#[test]
fn reads_get_nothing_and_no_other_index_gets_a_token() {
    let fake = Fake::start(Behavior::Json(200, r#"{"token":"cio_tp_never"}"#.into()));
    let mut p = provider(&fake.url("/tokens"), "off", "identity = \"gitlab\"\n");
    p.env("GITLAB_CI", "true")
        .env("CARGO_REGISTRY_ID_TOKEN", "ci-identity-Wm52")
        .secret("ci-identity-Wm52");
    // A read: no token, nothing asked; in a CI job the placeholder.
    let out = p.request(&request("read"));
    assert_read_placeholder(&out);
    // No warning that the table has no `index`: crates.io's is checked instead.
    assert!(!out.stderr.contains("index"), "{}", out.describe());
    // `doctor` (a read) does not take the placeholder for a token.
    let out = p.run(&["doctor", "--registry", "crates-io", "--json"], "");
    let json: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|_| panic!("{}", out.describe()));
    let codes = json["registries"][0]["findings"].to_string();
    assert!(
        codes.contains("oidc-publish-only") && !codes.contains("token-found"),
        "{codes}"
    );
    // Outside a CI job: Cargo's not-found (the next provider, or no token).
    let q = provider(&fake.url("/tokens"), "off", "");
    let out = q.request(&request("read"));
    assert_eq!(
        reply(&out)["Err"]["kind"],
        "not-found",
        "{}",
        out.describe()
    );
    // `crates-io` with another index: refused, nothing asked.
    for index in [
        "sparse+https://index.crates.io.evil.example/",
        "sparse+http://127.0.0.1:1/api/v1/crates/",
    ] {
        let out = p.request(&format!(
            r#"{{"v":1,"registry":{{"index-url":"{index}","name":"crates-io"}},"kind":"get","operation":"publish","name":"a","vers":"0.1.0","cksum":"00"}}"#
        ));
        let text = reply(&out)["Err"].to_string();
        assert!(
            text.contains("crates.io's own index") && text.contains(index),
            "{text}"
        );
    }
    assert_eq!(fake.hits(), 0);

    // The grant in a table that is not crates.io's: a config error.
    for table in [
        "[registries.corp]\n",
        "[registries.corp]\nindex = \"sparse+https://r.example/\"\n",
        "[registries.crates-io]\nindex = \"sparse+https://r.example/\"\n",
    ] {
        let mut q = Provider::new();
        q.user_config(&format!(
            "{table}sources = [\"oidc\"]\n[{}.oidc]\ngrant = \"crates-io-trusted-publishing\"\n",
            table.lines().next().unwrap().trim_matches(['[', ']'])
        ));
        let out = q.request(&request("publish"));
        let text = reply(&out)["Err"].to_string();
        assert!(
            text.contains("crates-io-trusted-publishing")
                && text.contains("[registries.crates-io]"),
            "{table}: {text}"
        );
    }
}

#[test]
fn a_publish_posts_the_ci_id_token_as_json_and_cargo_is_told_the_30_minute_expiry() {
    let fake = Fake::start(Behavior::Json(
        200,
        r#"{"token":"cio_tp_Fake0000000000000000000000000w"}"#.into(),
    ));
    let mut p = provider(&fake.url("/api/v1/trusted_publishing/tokens"), "off", "");
    p.env("GITLAB_CI", "true")
        .env("CARGO_REGISTRY_ID_TOKEN", "ci-identity-Wm52")
        .secret("ci-identity-Wm52");
    for kind in ["publish", "yank"] {
        let out = p.request(&request(kind));
        let v = reply(&out);
        assert_eq!(
            v["Ok"]["token"],
            "cio_tp_Fake0000000000000000000000000w",
            "{}",
            out.describe()
        );
        assert_eq!(v["Ok"]["operation_independent"], false);
        let expiration = v["Ok"]["expiration"].as_i64().unwrap();
        assert!((now() + 1700..=now() + 1740).contains(&expiration));
    }
    let sent = fake.last_request();
    // Not printing the request: it holds the identity.
    assert!(sent.starts_with("POST /api/v1/trusted_publishing/tokens "));
    assert!(
        sent.to_ascii_lowercase()
            .contains("content-type: application/json")
    );
    assert!(sent.ends_with(r#"{"jwt":"ci-identity-Wm52"}"#));
    assert_eq!(fake.hits(), 2, "cache = \"off\": one exchange per publish");

    // crates.io's error shape: the detail, cleaned and redacted, with a fix.
    let jwt = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImNpLTEifQ.eyJqdGkiOiJ4In0.c2lnbmF0dXJl";
    fake.set(Behavior::Json(
        400,
        format!(
            r#"{{"errors":[{{"detail":"No Trusted Publishing config found for repository `acme/other`. (jwt {jwt}, ci-identity-Wm52)\u001b[0m"}}]}}"#
        ),
    ));
    let text = error(&p, "publish");
    assert!(
        text.contains("No Trusted Publishing config found for repository `acme/other`")
            && text.contains("HTTP 400")
            && text.contains("add a trusted publisher")
            && text.contains("[redacted]"),
        "{text}"
    );
    assert!(!text.contains("\\u001b"), "{text}");
}

#[test]
fn a_job_crates_io_does_not_trust_is_told_so() {
    let fake = Fake::start(Behavior::Json(200, r#"{"token":"cio_tp_never"}"#.into()));
    let mut p = provider(&fake.url("/tokens"), "off", "");
    p.env("CIRCLECI", "true")
        .env("CIRCLE_OIDC_TOKEN_V2", "ci-identity-Wm52")
        .secret("ci-identity-Wm52");
    let text = error(&p, "publish");
    assert!(
        text.contains("not supported by crates.io trusted publishing")
            && text.contains("GitHub Actions and GitLab CI"),
        "{text}"
    );
    // Named in the config: refused when the config is read.
    let mut q = provider(&fake.url("/tokens"), "off", "identity = \"circleci\"\n");
    q.env("CIRCLE_OIDC_TOKEN_V2", "ci-identity-Wm52")
        .secret("ci-identity-Wm52");
    let text = error(&q, "publish");
    assert!(
        text.contains("identity \\\"circleci\\\" is not supported by crates.io"),
        "{text}"
    );
    assert_eq!(fake.hits(), 0);
}

#[test]
#[ignore = "e2e: needs the test IdP; run scripts/test.sh"]
fn the_fake_crates_io_checks_what_crates_io_checks() {
    let idp = Idp::start(300);
    let crates_io = CratesIo::start(&idp);
    let jwt = idp.ci_token("/ci/token?audience=crates.io");
    let (status, answer) = crates_io.exchange(&jwt);
    assert_eq!(status, 200, "{answer}");
    let token = answer["token"].as_str().unwrap().to_owned();
    assert!(crates_io.is_live(&token));
    // Single-use jti, in crates.io's error shape.
    let (status, answer) = crates_io.exchange(&jwt);
    assert_eq!(
        (status, &answer["errors"][0]["detail"]),
        (400, &"JWT has already been used".into())
    );
    for (path, detail) in [
        ("/ci/token", "Failed to decode JWT"), // aud is the IdP, not crates.io
        (
            "/test/forged-ci-token?audience=crates.io",
            "Failed to decode JWT",
        ),
        (
            "/ci/token?audience=crates.io&repository=acme/other",
            "No Trusted Publishing config found for repository `acme/other`.",
        ),
        (
            &format!("/ci/token?audience=crates.io&exp={}", now() - 60),
            "Failed to decode JWT",
        ),
    ] {
        let (status, answer) = crates_io.exchange(&idp.ci_token(path));
        assert_eq!(
            (status, answer["errors"][0]["detail"].as_str()),
            (400, Some(detail)),
            "{path}"
        );
    }
    // GitLab's issuer too.
    let (status, _) =
        crates_io.exchange(&idp.ci_token("/ci/token?flavor=gitlab&audience=crates.io"));
    assert_eq!(status, 200);
    // Revocable once.
    assert_eq!(crates_io.revoke(&token), 204);
    assert_eq!(crates_io.revoke(&token), 401);
    assert!(!crates_io.is_live(&token));
}

#[test]
#[ignore = "e2e: needs the test IdP; run scripts/test.sh"]
fn publishes_mint_with_a_fresh_ci_id_token_each_time_and_reads_get_nothing() {
    let idp = Idp::start(300);
    let crates_io = CratesIo::start(&idp);
    let p = github_job(&crates_io, &idp.ci_token_url(), "off");

    let out = p.request(&request("read"));
    assert_read_placeholder(&out);
    assert_eq!(count(&crates_io.stats(), "exchanged"), 0);
    assert!(idp.secrets_issued().is_empty(), "no CI ID token for a read");

    // Without a cache every publish exchanges, each with a fresh ID token:
    // crates.io accepts each jti once, and none was refused.
    let first = minted(&p);
    let second = minted(&p);
    assert_ne!(first, second);
    let stats = crates_io.stats();
    assert_eq!(count(&stats, "exchanged"), 2, "{stats}");
    assert_eq!(stats["rejected"], serde_json::json!({}), "{stats}");
    assert!(crates_io.is_live(&first) && crates_io.is_live(&second));
    // Two ID tokens were fetched from the CI issuer, one per exchange.
    let ci_tokens = idp.secrets_issued();
    assert_eq!(ci_tokens.len(), 2);
    assert_ne!(ci_tokens[0], ci_tokens[1]);

    // With the cache, the next cargo run in the job reuses the token.
    let p = github_job(&crates_io, &idp.ci_token_url(), "file");
    let token = minted(&p);
    assert_eq!(minted(&p), token);
    assert_eq!(count(&crates_io.stats(), "exchanged"), 3);
    assert_eq!(cache_files(p.dir(), "tokens").len(), 1);
    // The record of minted tokens holds no token.
    let ledger = cache_files(p.dir(), "minted");
    assert_eq!(ledger.len(), 1);
    let text = std::fs::read_to_string(&ledger[0]).unwrap();
    assert!(!text.contains(ANY_TOKEN), "the ledger holds a token");
    for secret in idp.secrets_issued().iter().chain(&crates_io.secrets()) {
        assert!(!text.contains(secret.as_str()));
    }
}

#[test]
#[ignore = "e2e: needs the test IdP; run scripts/test.sh"]
fn refusals_are_shown_redacted_with_a_fix() {
    let idp = Idp::start(300);
    let crates_io = CratesIo::start(&idp);
    // A repository with no trusted publishing config.
    let p = github_job(
        &crates_io,
        &format!("{}&repository=acme/other", idp.ci_token_url()),
        "off",
    );
    let text = error(&p, "publish");
    assert!(
        text.contains("No Trusted Publishing config found for repository `acme/other`")
            && text.contains(&crates_io.token_endpoint())
            && text.contains("add a trusted publisher"),
        "{text}"
    );
    // A GitLab ID token is in the job's environment: crates.io takes it once.
    let jwt = idp.ci_token("/ci/token?flavor=gitlab&audience=crates.io");
    let mut p = provider(&crates_io.token_endpoint(), "off", "");
    p.env("GITLAB_CI", "true")
        .env("CARGO_REGISTRY_ID_TOKEN", &jwt);
    minted(&p);
    let text = error(&p, "publish");
    assert!(
        text.contains("JWT has already been used") && text.contains("once per job"),
        "{text}"
    );
    // The wrong audience: what to check.
    let mut p = provider(
        &crates_io.token_endpoint(),
        "off",
        "identity-audience = \"https://not-crates.io\"\n",
    );
    p.env("GITHUB_ACTIONS", "true")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", &idp.ci_token_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", CI_REQUEST_TOKEN);
    let text = error(&p, "publish");
    assert!(
        text.contains("Failed to decode JWT") && text.contains("audience must be `crates.io`"),
        "{text}"
    );
    let stats = crates_io.stats();
    assert_eq!(count(&stats, "exchanged"), 1, "{stats}");
}

#[test]
#[ignore = "e2e: needs the test IdP; run scripts/test.sh"]
fn the_next_exchange_revokes_tokens_whose_use_is_over() {
    let idp = Idp::start(300);
    let crates_io = CratesIo::start(&idp);
    // One job: its cached token is past its use; the next publish mints a
    // new one and revokes the old one (crates.io would still take it).
    let p = github_job(&crates_io, &idp.ci_token_url(), "file");
    let old = minted(&p);
    make_use_over(p.dir());
    assert!(crates_io.is_live(&old));
    let new = minted(&p);
    assert_ne!(old, new);
    assert!(
        !crates_io.is_live(&old),
        "the replaced token was not revoked"
    );
    assert!(crates_io.is_live(&new));
    assert_eq!(count(&crates_io.stats(), "revoked"), 1);

    // Two jobs on one runner: job A's token is past its use; job B's first
    // publish revokes it (and keeps its own).
    let url = |job: &str| format!("{}&sub=repo:acme/crate:job:{job}", idp.ci_token_url());
    let a = github_job(&crates_io, &url("a"), "file");
    let token_a = minted(&a);
    make_use_over(a.dir());
    let mut b = github_job(&crates_io, &url("b"), "file");
    b.env(
        "CARGO_CREDENTIAL_CORP_CACHE_DIR",
        &a.dir().join("cache").display().to_string(),
    );
    let token_b = minted(&b);
    assert!(
        !crates_io.is_live(&token_a),
        "job A's spent token was not revoked"
    );
    assert!(crates_io.is_live(&token_b));
    // A token still in use is never revoked by another job's exchange.
    let c = {
        let mut c = github_job(&crates_io, &url("c"), "file");
        c.env(
            "CARGO_CREDENTIAL_CORP_CACHE_DIR",
            &a.dir().join("cache").display().to_string(),
        );
        c
    };
    minted(&c);
    assert!(crates_io.is_live(&token_b));
    assert_eq!(count(&crates_io.stats(), "revoked"), 2);
    // Each token was revoked once: no DELETE of a revoked token.
    assert_eq!(count(&crates_io.stats(), "revocations"), 2);
}

#[test]
#[ignore = "e2e: needs the test IdP; run scripts/test.sh"]
fn revoke_and_logout_revoke_this_jobs_tokens() {
    let idp = Idp::start(300);
    let crates_io = CratesIo::start(&idp);
    let url = |job: &str| format!("{}&sub=repo:acme/crate:job:{job}", idp.ci_token_url());
    let p = github_job(&crates_io, &url("a"), "file");
    let token = minted(&p);

    // `revoke`: the job's token is revoked and forgotten.
    let out = p.run(&["revoke"], "");
    out.assert_success();
    out.assert_stderr_contains("revoked 1 crates.io trusted publishing token");
    assert!(!crates_io.is_live(&token));
    assert!(cache_files(p.dir(), "tokens").is_empty());
    let out = p.run(&["revoke", "--registry", "crates-io"], "");
    out.assert_success();
    assert!(
        out.stderr
            .contains("no crates.io trusted publishing token to revoke")
    );
    // The next publish mints again.
    let token = minted(&p);
    assert_eq!(count(&crates_io.stats(), "exchanged"), 2);

    // `cargo logout --registry crates-io`.
    let out = p.request(&request("logout"));
    assert_eq!(reply(&out)["Ok"]["kind"], "logout", "{}", out.describe());
    assert!(!crates_io.is_live(&token));

    // Another job on the same runner keeps its token; `--all` revokes it.
    let token_a = minted(&p);
    let mut b = github_job(&crates_io, &url("b"), "file");
    b.env(
        "CARGO_CREDENTIAL_CORP_CACHE_DIR",
        &p.dir().join("cache").display().to_string(),
    );
    let token_b = minted(&b);
    b.run(&["revoke"], "").assert_success();
    assert!(crates_io.is_live(&token_a) && !crates_io.is_live(&token_b));
    let out = b.run(&["revoke", "--all"], "");
    out.assert_success();
    out.assert_stderr_contains("revoked 1");
    assert!(!crates_io.is_live(&token_a));
    // Each token revoked once.
    let stats = crates_io.stats();
    assert_eq!(
        (count(&stats, "revoked"), count(&stats, "revocations")),
        (4, 4),
        "{stats}"
    );

    // Not a crates.io table: said so.
    let mut q = Provider::new();
    q.user_config("[registries.corp]\nindex = \"sparse+https://r.example/\"\n");
    let out = q.run(&["revoke", "--registry", "corp"], "");
    out.assert_failure();
    out.assert_stderr_contains("crates-io-trusted-publishing");
}

/// The crates.io-compatible registry's name in Cargo's config and the
/// provider's, and the audience it requires in the CI ID token.
const TP: &str = "tp";
const TP_AUDIENCE: &str = "tp.registry.test";
const TP_INDEX: &str = "sparse+https://tp.registry.test/index/";

/// A `get` for the registry `name` at `index`: `publish` or `read`.
fn request_for(name: Option<&str>, index: &str, operation: &str) -> String {
    let name = name
        .map(|n| format!(r#","name":"{n}""#))
        .unwrap_or_default();
    let extra = if operation == "read" {
        ""
    } else {
        r#","name":"tp-crate","vers":"0.1.0","cksum":"00""#
    };
    format!(
        r#"{{"v":1,"registry":{{"index-url":"{index}"{name}}},"kind":"get","operation":"{operation}"{extra}}}"#
    )
}

/// A JWT-shaped CI ID token with audience `aud` (unsigned: the fakes here
/// do not verify it; the provider reads `aud` before sending it).
fn ci_jwt(aud: &str) -> String {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.{}",
        b64(r#"{"alg":"RS256","kid":"ci-1"}"#),
        b64(&format!(r#"{{"aud":"{aud}","jti":"j-tp"}}"#)),
        b64("signature-bytes")
    )
}

/// A GitHub Actions job (ID tokens from `ci`) for `[registries.tp]` at
/// [`TP_INDEX`] with the trusted publishing grant and `oidc` lines.
fn tp_job(ci: &Fake, oidc: &str) -> Provider {
    let mut p = Provider::new();
    p.user_config(&format!(
        "[registries.{TP}]\nindex = {TP_INDEX:?}\nsources = [\"oidc\"]\n\n[registries.{TP}.oidc]\n\
         grant = \"crates-io-trusted-publishing\"\ncache = \"off\"\ntimeout-ms = 5000\n{oidc}"
    ))
    .env("GITHUB_ACTIONS", "true")
    .env(
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        &ci.url("/idtoken?api-version=2.0"),
    )
    .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", CI_REQUEST_TOKEN)
    .secret(ANY_JWT)
    .secret(ANY_TOKEN)
    .secret(CI_REQUEST_TOKEN)
    .secret(&ci_jwt(TP_AUDIENCE));
    p
}

#[test]
fn a_crates_io_compatible_registry_needs_its_own_index_endpoint_and_audience() {
    let ci = Fake::start(Behavior::Json(
        200,
        format!(r#"{{"value":"{}"}}"#, ci_jwt(TP_AUDIENCE)),
    ));
    let fake = Fake::start(Behavior::Json(
        200,
        r#"{"token":"cio_tp_Fake0000000000000000000000000w"}"#.into(),
    ));
    let endpoint = format!(
        "token-endpoint = {:?}\n",
        fake.url("/api/v1/trusted_publishing/tokens")
    );
    let audience = format!("identity-audience = {TP_AUDIENCE:?}\n");
    // crates.io's endpoint (the default) or audience (the default) for
    // another index: a config error naming the key; nothing is asked of
    // the CI system or any endpoint.
    for (oidc, key) in [
        (audience.clone(), "token-endpoint"),
        (
            format!(
                "token-endpoint = \"https://crates.io/api/v1/trusted_publishing/tokens\"\n{audience}"
            ),
            "token-endpoint",
        ),
        (endpoint.clone(), "identity-audience"),
        (
            format!("{endpoint}identity-audience = \"crates.io\"\n"),
            "identity-audience",
        ),
    ] {
        let p = tp_job(&ci, &oidc);
        for operation in ["publish", "read"] {
            let out = p.request(&request_for(Some(TP), TP_INDEX, operation));
            let text = reply(&out)["Err"].to_string();
            assert!(
                text.contains(&format!("`{key}` in [registries.{TP}.oidc]"))
                    && text.contains("crates-io-trusted-publishing"),
                "{oidc}: {}",
                out.describe()
            );
            assert!(!text.contains(TP_AUDIENCE), "a value shown: {text}");
        }
    }
    assert_eq!((ci.hits(), fake.hits()), (0, 0));

    // With all three: a publish gets a token, asked for with the registry's audience.
    let p = tp_job(&ci, &format!("{endpoint}{audience}"));
    let out = p.request(&request_for(Some(TP), TP_INDEX, "publish"));
    assert_eq!(
        reply(&out)["Ok"]["token"],
        "cio_tp_Fake0000000000000000000000000w",
        "{}",
        out.describe()
    );
    assert!(
        ci.last_request()
            .starts_with("GET /idtoken?api-version=2.0&audience=tp.registry.test "),
        "the ID token was asked for another audience"
    );
    assert!(
        fake.last_request()
            .ends_with(&format!(r#"{{"jwt":"{}"}}"#, ci_jwt(TP_AUDIENCE)))
    );
    assert_eq!((ci.hits(), fake.hits()), (1, 1));
    // A read: the placeholder, nothing asked.
    let out = p.request(&request_for(Some(TP), TP_INDEX, "read"));
    assert_read_placeholder(&out);
    // crates.io's index, named `tp` or `crates-io`, or nameless: never this table's token.
    for (name, index) in [
        (Some(TP), INDEX),
        (Some("crates-io"), INDEX),
        (None, INDEX),
        (Some(TP), "sparse+https://tp.registry.test/other/"),
    ] {
        let out = p.request(&request_for(name, index, "publish"));
        let v = reply(&out);
        assert!(v["Ok"].is_null(), "{name:?} {index}: {}", out.describe());
    }
    assert_eq!((ci.hits(), fake.hits()), (1, 1));

    // A GitLab job whose ID token is for crates.io: not sent to this registry.
    let jwt = {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!(
            "{}.{}.{}",
            b64(r#"{"alg":"ES256","kid":"ci-1"}"#),
            b64(r#"{"aud":"crates.io","jti":"j-1","iss":"https://gitlab.com"}"#),
            b64("signature-bytes")
        )
    };
    let mut p = tp_job(&ci, &format!("{endpoint}{audience}identity = \"gitlab\"\n"));
    p.env("GITLAB_CI", "true")
        .env("CARGO_REGISTRY_ID_TOKEN", &jwt);
    let out = p.request(&request_for(Some(TP), TP_INDEX, "publish"));
    let text = reply(&out)["Err"].to_string();
    assert!(
        text.contains("audience is crates.io's") && text.contains("id_tokens"),
        "{}",
        out.describe()
    );
    assert_eq!((ci.hits(), fake.hits()), (1, 1));
}

/// A Cargo home like a GitHub Actions job with `id-token: write`, for the
/// registry `tp` behind `gw` with the trusted publishing grant at
/// `crates_io` and [`TP_AUDIENCE`].
fn tp_home(gw: &Gateway, crates_io: &CratesIo, idp: &Idp) -> CargoHome {
    let mut home = CargoHome::named(TP, &gw.index_url(), Providers::PerRegistry(vec![]));
    home.env("GITHUB_ACTIONS", "true")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", &idp.ci_token_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", CI_REQUEST_TOKEN)
        .secret(CI_REQUEST_TOKEN)
        .secret(ANY_JWT)
        .secret(ANY_TOKEN)
        .secret(gw.kellnr.token());
    home.corp_config(&format!(
        "[registries.{TP}]\nindex = {:?}\nsources = [\"oidc\"]\n\n[registries.{TP}.oidc]\n\
         grant = \"crates-io-trusted-publishing\"\ntoken-endpoint = {:?}\n\
         identity-audience = {TP_AUDIENCE:?}\ncache = \"file\"\ntimeout-ms = 5000\n",
        gw.index_url(),
        crates_io.token_endpoint()
    ));
    home
}

/// The tokens (`cio_tp_…`) and the JWTs the fake has seen.
fn seen(crates_io: &CratesIo) -> (Vec<String>, Vec<String>) {
    crates_io
        .secrets()
        .into_iter()
        .partition(|s| s.starts_with(ANY_TOKEN))
}

#[test]
#[ignore = "e2e: needs kellnr and the test IdP; run scripts/test.sh"]
fn cargo_publishes_to_a_crates_io_compatible_registry_with_trusted_publishing() {
    let idp = Idp::start(300);
    let crates_io = CratesIo::start_for_audience(&idp, TP_AUDIENCE);
    let gw = Gateway::start_verifying_open_reads(&crates_io.check_url());
    let home = tp_home(&gw, &crates_io, &idp);
    let mut outputs: Vec<Output> = Vec::new();

    // A publish: one exchange, the write accepted by the gateway.
    let lib = home.new_lib("tp-lib", "0.1.0");
    let out = home.cargo(&lib, &["publish", "--registry", TP], None);
    out.assert_success();
    out.assert_stderr_contains("Uploaded tp-lib v0.1.0");
    outputs.push(out);
    let stats = crates_io.stats();
    assert_eq!(count(&stats, "exchanged"), 1, "{stats}");
    assert_eq!(stats["rejected"], serde_json::json!({}), "{stats}");
    let gateway = gw.stats();
    assert_eq!(
        (gateway["accepted"].as_u64(), gateway["rejected"].as_u64()),
        (Some(1), Some(0)),
        "only the upload carried a token: {gateway}"
    );
    assert!(count(&gateway, "open_reads") >= 1, "{gateway}");
    let (tokens, jwts) = seen(&crates_io);
    assert_eq!((tokens.len(), jwts.len()), (1, 1));
    let (token, jwt) = (&tokens[0], &jwts[0]);
    assert!(crates_io.is_live(token));

    // Reads are open: cargo builds an app depending on it, asking for no
    // token (no ID token fetched, no exchange, nothing verified).
    let ci_tokens = idp.secrets_issued().len();
    let app = home.new_app("tp-app", "tp-lib", "0.1");
    let out = home.cargo(&app, &["build"], None);
    out.assert_success();
    out.assert_stderr_contains("Downloaded tp-lib v0.1.0");
    outputs.push(out);
    assert_eq!(idp.secrets_issued().len(), ci_tokens);
    assert_eq!(count(&crates_io.stats(), "exchanged"), 1);
    let after_build = gw.stats();
    assert_eq!(
        after_build["accepted"], gateway["accepted"],
        "{after_build}"
    );
    assert!(
        count(&after_build, "open_reads") > count(&gateway, "open_reads"),
        "{after_build}"
    );
    // A read asked of the provider directly: no token (the placeholder that
    // let `cargo publish` start), nothing asked of the CI system or the fake.
    let out = home.provider_get(&gw.index_url(), "read");
    assert_read_placeholder(&out);
    outputs.push(out);
    assert_eq!(idp.secrets_issued().len(), ci_tokens);
    assert_eq!(count(&crates_io.stats(), "exchanged"), 1);
    assert!(home.credential_files().is_empty());

    // `cargo-credential-corp revoke --registry tp`: the fake sees the
    // DELETE, the token is dead there and at the gateway.
    let config = "/api/v1/crates/config.json";
    assert_eq!(gw.get_status(config, token), 200);
    let mut revoke = Command::new(provider_bin());
    revoke.args(["revoke", "--registry", TP]);
    let out = home.run_with_env(revoke);
    out.assert_success();
    out.assert_stderr_contains("revoked 1 crates.io trusted publishing token");
    outputs.push(out);
    let stats = crates_io.stats();
    assert_eq!(
        (count(&stats, "revoked"), count(&stats, "revocations")),
        (1, 1),
        "{stats}"
    );
    assert!(!crates_io.is_live(token));
    assert_eq!(gw.get_status(config, token), 401);
    assert_eq!(gw.stats()["rejections"]["verify-403"], 1, "{}", gw.stats());

    // The CI ID token it was minted with is spent: the fake refuses it.
    let (status, answer) = crates_io.exchange(jwt);
    assert_eq!(
        (status, answer["errors"][0]["detail"].as_str()),
        (400, Some("JWT has already been used"))
    );

    // The next publish mints a new token; `cargo logout --registry tp`
    // revokes it.
    let accepted = count(&gw.stats(), "accepted");
    let lib = home.new_lib("tp-lib", "0.2.0");
    let out = home.cargo(&lib, &["publish", "--registry", TP], None);
    out.assert_success();
    outputs.push(out);
    assert_eq!(count(&crates_io.stats(), "exchanged"), 2);
    let (tokens, _) = seen(&crates_io);
    let second = tokens.iter().find(|t| *t != token).expect("a second token");
    assert!(crates_io.is_live(second));
    let out = home.cargo(home.root(), &["logout", "--registry", TP], None);
    out.assert_success();
    outputs.push(out);
    assert!(!crates_io.is_live(second));
    assert_eq!(count(&crates_io.stats(), "revoked"), 2);
    let gateway = gw.stats();
    assert_eq!(count(&gateway, "accepted"), accepted + 1, "{gateway}");
    assert_eq!(count(&gateway, "rejected"), 1, "{gateway}");
    // The read placeholder is no token: the gateway refuses it.
    assert_eq!(gw.get_status(config, READ_PLACEHOLDER), 401);

    // Nothing the fake or the CI issuer saw or issued was shown anywhere.
    let mut secrets = crates_io.secrets();
    secrets.extend(idp.secrets_issued());
    secrets.push(gw.kellnr.token().to_owned());
    for out in &outputs {
        out.assert_free_of(&secrets);
    }
    let mut home = home;
    home.secrets(&secrets.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn the_read_placeholder_never_hides_a_token_a_later_source_has() {
    let fake = Fake::start(Behavior::Json(200, r#"{"token":"cio_tp_never"}"#.into()));
    const LATER: &str = "cio-read-token-Qz51";
    let mut p = Provider::new();
    p.user_config(&format!(
        "[registries.crates-io]\nsources = [\"oidc\", \"env\"]\n\n[registries.crates-io.oidc]\n\
         grant = \"crates-io-trusted-publishing\"\ntoken-endpoint = {:?}\ncache = \"off\"\n\
         identity = \"gitlab\"\n",
        fake.url("/tokens")
    ))
    .env("GITLAB_CI", "true")
    .env("CARGO_REGISTRY_ID_TOKEN", "ci-identity-Wm53")
    .secret("ci-identity-Wm53")
    .secret(LATER);
    // Only the placeholder: it is the answer.
    assert_read_placeholder(&p.request(&request("read")));
    // A later source with a token: that token, not the placeholder.
    p.env("CARGO_REGISTRY_TOKEN", LATER);
    let out = p.request(&request("read"));
    assert_eq!(reply(&out)["Ok"]["token"], LATER, "{}", out.describe());
    assert_eq!(fake.hits(), 0);
}
