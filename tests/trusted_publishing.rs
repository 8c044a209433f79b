//! crates.io trusted publishing (`grant = "crates-io-trusted-publishing"`)
//! through the real provider binary: against a fake crates.io that checks
//! what crates.io checks (the CI ID token's signature against the CI
//! issuer's keys, `aud` = crates.io, a trusted issuer, a single-use `jti`, a
//! trusted publishing config for the repository; revocation once), with the
//! real OpenID provider as the CI issuer; and the request shape, routing
//! and error handling against plain fake servers.

use std::path::{Path, PathBuf};

use crate::util::fake::{Behavior, Fake};
use crate::util::idp::{CratesIo, Idp};
use crate::util::{Output, Provider};

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
    // A read: Cargo's not-found (the next provider, or no token), nothing asked.
    let out = p.request(&request("read"));
    assert_eq!(
        reply(&out)["Err"]["kind"],
        "not-found",
        "{}",
        out.describe()
    );
    // No warning that the table has no `index`: crates.io's is checked instead.
    assert!(!out.stderr.contains("index"), "{}", out.describe());
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
    assert_eq!(
        reply(&out)["Err"]["kind"],
        "not-found",
        "{}",
        out.describe()
    );
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
    assert!(
        out.stderr
            .contains("revoked 1 crates.io trusted publishing token"),
        "{}",
        out.describe()
    );
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
    assert!(out.stderr.contains("revoked 1"), "{}", out.describe());
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
    assert!(
        out.stderr.contains("crates-io-trusted-publishing"),
        "{}",
        out.describe()
    );
}
