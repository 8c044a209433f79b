//! Workload identity federation: `client-auth = "client-assertion"` (the CI
//! job's ID token authenticates the OAuth client) and the
//! `azure-workload-identity` preset, against a fake Entra ID that verifies
//! the assertion for real (type URN, client id, grant, the JWT's signature
//! against the CI issuer's keys, its issuer, subject and audience); the
//! request shape against a plain fake; and Azure Pipelines'
//! `SYSTEM_ACCESSTOKEN` as a token for Azure Artifacts feeds; and the real
//! `cargo` publishing and building through a gateway in front of kellnr that
//! accepts exactly the access tokens the fake Entra ID signs.

use crate::util::cargo::{CargoHome, Providers, REGISTRY};
use crate::util::fake::{Behavior, Fake};
use crate::util::idp::{Entra, Gateway, Idp};
use crate::util::{Output, Provider};

const ANY_JWT: &str = "eyJ";
const ISSUED: &str =
    r#"{"access_token":"issued-token-Pz71","token_type":"Bearer","expires_in":3599}"#;
const URN: &str = "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer";

fn get_read(name: &str, index: &str) -> String {
    format!(
        r#"{{"v":1,"registry":{{"index-url":"{index}","name":"{name}"}},"kind":"get","operation":"read"}}"#
    )
}

const FEED: &str = "sparse+https://pkgs.dev.azure.com/acme/_packaging/feed/Cargo/index/";

fn reply(out: &Output) -> serde_json::Value {
    serde_json::from_str(out.reply()).unwrap_or_else(|_| panic!("{}", out.describe()))
}

/// A provider for the Azure Artifacts feed `feed` with these `oidc` settings.
fn feed(oidc: &str) -> Provider {
    let mut p = Provider::new();
    p.user_config(&format!(
        "[registries.feed]\nindex = {FEED:?}\nsources = [\"oidc\"]\nauth-scheme = \"bearer\"\n\n\
         [registries.feed.oidc]\ncache = \"off\"\ntimeout-ms = 5000\n{oidc}"
    ))
    .secret(ANY_JWT)
    .secret("ci-identity-Wm52")
    .secret("issued-token-Pz71")
    .secret("ci-request-token");
    p
}

#[test]
fn a_client_assertion_is_the_ci_id_token_with_the_urn_and_the_client_id() {
    let token = Fake::start(Behavior::Json(200, ISSUED.into()));
    for (grant, expected) in [
        (
            "client-credentials",
            &[
                "grant_type=client_credentials",
                "scope=api%3A%2F%2Fregistry%2F.default",
            ][..],
        ),
        (
            "token-exchange",
            &[
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange",
                "subject_token=ci-identity-Wm52",
            ][..],
        ),
    ] {
        let mut p = feed(&format!(
            "token-endpoint = {:?}\ngrant = \"{grant}\"\nclient-auth = \"client-assertion\"\n\
             client-id = \"app-1\"\nscope = \"api://registry/.default\"\nidentity = \"env\"\n\
             identity-env = \"CI_ID_TOKEN\"\n",
            token.url("/tenant/oauth2/v2.0/token")
        ));
        p.env("CI_ID_TOKEN", "ci-identity-Wm52");
        let out = p.request(&get_read("feed", FEED));
        assert_eq!(
            reply(&out)["Ok"]["token"],
            "Bearer issued-token-Pz71",
            "{}",
            out.describe()
        );
        let sent = token.last_request();
        let body = sent.rsplit("\r\n\r\n").next().unwrap();
        let fields: Vec<&str> = body.split('&').collect();
        for field in expected.iter().chain(&[
            "client_id=app-1",
            &format!("client_assertion_type={URN}")[..],
            "client_assertion=ci-identity-Wm52",
        ]) {
            // Not printing the request: it holds the identity.
            assert!(fields.contains(field), "{grant}: {field} missing");
        }
        assert!(!body.contains("client_secret"), "{grant}");
        assert!(
            !sent.to_ascii_lowercase().contains("authorization:"),
            "{grant}: no Basic header"
        );
    }
}

#[test]
fn the_azure_preset_asks_for_azure_devops_with_the_federation_audience() {
    let github = Fake::start(Behavior::Json(
        200,
        r#"{"value":"ci-identity-Wm52"}"#.into(),
    ));
    let token = Fake::start(Behavior::Json(200, ISSUED.into()));
    let mut p = feed(&format!(
        "grant = \"azure-workload-identity\"\nclient-id = \"app-1\"\ntoken-endpoint = {:?}\n",
        token.url("/tenant/oauth2/v2.0/token")
    ));
    p.env("GITHUB_ACTIONS", "true")
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            &github.url("/idtoken?api-version=2.0"),
        )
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ci-request-token");
    let out = p.request(&get_read("feed", FEED));
    assert_eq!(reply(&out)["Ok"]["token"], "Bearer issued-token-Pz71");
    assert!(
        github
            .last_request()
            .starts_with("GET /idtoken?api-version=2.0&audience=api%3A%2F%2FAzureADTokenExchange ")
    );
    let sent = token.last_request();
    let body = sent.rsplit("\r\n\r\n").next().unwrap();
    for field in [
        "grant_type=client_credentials",
        "client_id=app-1",
        &format!("client_assertion_type={URN}"),
        "client_assertion=ci-identity-Wm52",
        "scope=499b84ac-1321-427f-aa17-267ca6975798%2F.default",
    ] {
        assert!(body.split('&').any(|f| f == field), "{field} missing");
    }
}

#[test]
fn system_accesstoken_is_a_token_for_azure_artifacts_feeds_of_its_organisation() {
    let mut p = Provider::new();
    p.user_config(&format!(
        "[registries.feed]\nindex = {FEED:?}\nsources = [\"env\"]\nenv = [\"SYSTEM_ACCESSTOKEN\"]\n\
         auth-scheme = \"bearer\"\n"
    ))
    .env("SYSTEM_ACCESSTOKEN", "azure-access-Jt4")
    .secret("azure-access-Jt4");
    let v = reply(&p.request(&get_read("feed", FEED)));
    assert_eq!(v["Ok"]["token"], "Bearer azure-access-Jt4");
    assert_eq!(v["Ok"]["cache"], "session");
    // Another registry (a dependency's index) does not get it.
    let v = reply(&p.request(&get_read(
        "other",
        "sparse+https://pkgs.dev.azure.com/other/_packaging/f/Cargo/index/",
    )));
    assert_eq!(v["Err"]["kind"], "not-found", "{v}");
}

#[test]
#[ignore = "e2e: needs the test IdP; run scripts/test.sh"]
fn entra_accepts_the_ci_id_token_as_client_assertion_and_refuses_what_it_should() {
    let idp = Idp::start(300);
    let entra = Entra::start(&idp);
    let job = |oidc: &str, url: &str| {
        let mut p = feed(&format!(
            "grant = \"azure-workload-identity\"\ntoken-endpoint = {:?}\n{oidc}",
            entra.token_endpoint()
        ));
        p.env("GITHUB_ACTIONS", "true")
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", url)
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ci-request-token");
        p
    };
    let client = format!("client-id = {:?}\n", Entra::CLIENT_ID);

    let out = job(&client, &idp.ci_token_url()).request(&get_read("feed", FEED));
    let v = reply(&out);
    let token = v["Ok"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", out.describe()));
    assert!(token.starts_with("Bearer eyJ"), "an Entra access token");
    assert_eq!(v["Ok"]["cache"], "expires");
    assert_eq!(entra.stats()["issued"], 1);

    for (oidc, url, needles) in [
        (
            "client-id = \"00000000-0000-0000-0000-0000000000ff\"\n".to_owned(),
            idp.ci_token_url(),
            &["AADSTS700016", "client-assertion"][..],
        ),
        (
            client.clone(),
            format!(
                "{}&sub=repo:acme/other:ref:refs/heads/main",
                idp.ci_token_url()
            ),
            &["AADSTS700213", "repo:acme/other", "federated credential"][..],
        ),
        (
            format!("{client}identity-audience = \"api://elsewhere\"\n"),
            idp.ci_token_url(),
            &["AADSTS700212", "identity-audience"][..],
        ),
        (
            format!("{client}scope = \"499b84ac-1321-427f-aa17-267ca6975798\"\n"),
            idp.ci_token_url(),
            &["AADSTS1002012", "invalid_scope", "`scope`"][..],
        ),
    ] {
        let out = job(&oidc, &url).request(&get_read("feed", FEED));
        let text = reply(&out)["Err"].to_string();
        for needle in needles {
            assert!(text.contains(needle), "{needle:?} in {text}");
        }
    }
    // A forged ID token (signed with a key the CI issuer never had).
    let forged = idp.ci_token("/test/forged-ci-token?audience=api://AzureADTokenExchange");
    let mut p = feed(&format!(
        "grant = \"azure-workload-identity\"\ntoken-endpoint = {:?}\n{client}identity = \"env\"\n\
         identity-env = \"CI_ID_TOKEN\"\n",
        entra.token_endpoint()
    ));
    p.env("CI_ID_TOKEN", &forged);
    let text = reply(&p.request(&get_read("feed", FEED)))["Err"].to_string();
    assert!(text.contains("AADSTS5002738"), "{text}");
    assert_eq!(entra.stats()["issued"], 1, "{}", entra.stats());
}

/// Azure DevOps' resource id: the audience of the preset's access tokens.
const AZURE_DEVOPS: &str = "499b84ac-1321-427f-aa17-267ca6975798";

/// A Cargo home like a GitHub Actions job with `id-token: write` whose ID
/// tokens come from `id_token_url`, for the feed behind `gw` with the
/// `azure-workload-identity` preset at `entra`.
fn azure_job(gw: &Gateway, entra: &Entra, id_token_url: &str) -> CargoHome {
    let mut home = CargoHome::new(&gw.index_url(), Providers::PerRegistry(vec![]));
    home.env("GITHUB_ACTIONS", "true")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", id_token_url)
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ci-request-token")
        .secret("ci-request-token")
        .secret(ANY_JWT)
        .secret(gw.kellnr.token());
    home.corp_config(&format!(
        "[registries.{REGISTRY}]\nindex = {:?}\nsources = [\"oidc\"]\nauth-scheme = \"bearer\"\n\n\
         [registries.{REGISTRY}.oidc]\ngrant = \"azure-workload-identity\"\ntoken-endpoint = {:?}\n\
         client-id = {:?}\n",
        gw.index_url(),
        entra.token_endpoint(),
        Entra::CLIENT_ID
    ));
    home
}

#[test]
#[ignore = "e2e: needs kellnr, the test IdP and the fake Entra ID; run scripts/test.sh"]
fn a_github_job_publishes_and_builds_with_entra_tokens_through_a_verifying_gateway() {
    let idp = Idp::start(300);
    let entra = Entra::start(&idp);
    let gw = Gateway::start_for_entra(&entra, AZURE_DEVOPS);
    let home = azure_job(&gw, &entra, &idp.ci_token_url());

    let lib = home.new_lib("entra-lib", "0.2.0");
    let out = home.cargo(&lib, &["publish", "--registry", REGISTRY], None);
    out.assert_success();
    out.assert_stderr_contains("Uploaded entra-lib v0.2.0");
    let issued = entra.stats()["issued"].as_u64().unwrap();
    assert!(issued >= 1, "{}", entra.stats());

    let app = home.new_app("entra-app", "entra-lib", "0.2");
    let out = home.cargo(&app, &["build"], None);
    out.assert_success();
    out.assert_stderr_contains("Downloaded entra-lib v0.2.0");
    assert_eq!(
        entra.stats()["issued"].as_u64().unwrap(),
        issued,
        "a later cargo run reuses the cached Entra token"
    );
    let stats = gw.stats();
    assert_eq!(stats["rejected"], 0, "{stats}");
    assert!(stats["accepted"].as_u64().unwrap() >= 4, "{stats}");
    assert!(home.credential_files().is_empty());

    // The gateway accepts Entra's tokens only: not the IdP's own.
    let path = "/api/v1/crates/config.json";
    assert_eq!(gw.get_status(path, &idp.client_credentials_token()), 401);

    // A forged CI identity (signed with a key the CI issuer never had):
    // Entra refuses it, cargo fails saying why, nothing reaches the registry.
    let forged = azure_job(
        &gw,
        &entra,
        &format!("{}/test/forged-ci-token?api-version=2.0", idp.issuer()),
    );
    let app = forged.new_app("forged-app", "entra-lib", "0.2");
    let out = forged.cargo(&app, &["generate-lockfile"], None);
    out.assert_failure();
    assert!(
        out.stderr.contains("AADSTS5002738") && out.stderr.contains("signature"),
        "{}",
        out.describe()
    );
    assert_eq!(entra.stats()["issued"].as_u64().unwrap(), issued);
    assert_eq!(entra.stats()["rejected"]["5002738"], 1, "{}", entra.stats());
    assert_eq!(gw.stats()["accepted"], stats["accepted"], "{}", gw.stats());
}
