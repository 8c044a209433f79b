//! AWS credentials for CodeArtifact ([`super::codeartifact`]): the CI
//! identity exchanged at STS (`AssumeRoleWithWebIdentity`), and a small
//! standard credential chain for laptops, EC2 and EKS: the variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), the
//! shared credentials file (static keys only) and, only when
//! `identity = "aws-imds"`, the EC2 instance metadata service (IMDSv2).
//!
//! The secret key, the session token and the web identity token are
//! [`Token`]s from the moment they are read; none is ever put in a message,
//! a trace, a command line or a child's environment.
//!
//! **IMDSv2, the second plain-http exception** (the first is the GCP
//! metadata server, [`super::identity`]'s `gcp.rs`, whose reasoning this
//! mirrors): the instance metadata service speaks only plain http on the
//! link-local address `169.254.169.254`, port 80. The URLs are built here
//! from fixed paths; `AWS_EC2_METADATA_SERVICE_ENDPOINT` may name that same
//! server or a loopback emulator, nothing else; the client has no proxy and
//! follows no redirect; and it is asked only with `identity = "aws-imds"`,
//! never probed on a developer's machine by surprise. The session token it
//! hands out (for the two GETs) and the credentials it answers are secrets.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use reqwest::Url;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::exchange;
use crate::env::Environment;
use crate::net::http::Http;
use crate::net::url::{checked_url, display_url};
use crate::secret::Token;

/// Temporary or static AWS credentials.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The access key id (not a secret: it names the key).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Token,
    /// The session token of temporary credentials.
    pub session_token: Option<Token>,
    /// When temporary credentials expire (Unix seconds).
    pub expires_at: Option<i64>,
}

impl Credentials {
    /// The secrets, to redact from what a service answers (each as sent
    /// and as it could be echoed).
    pub fn secrets(&self) -> Vec<Zeroizing<String>> {
        std::iter::once(&self.secret_access_key)
            .chain(self.session_token.as_ref())
            .flat_map(Token::echoes)
            .collect()
    }
}

/// The value of `name`, unless unset, not UTF-8 or blank.
fn var(env: &dyn Environment, name: &str) -> Option<String> {
    env.var_os(name)?
        .into_string()
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`).
pub fn from_env(env: &dyn Environment) -> anyhow::Result<Option<Credentials>> {
    let id = var(env, "AWS_ACCESS_KEY_ID");
    let secret = var(env, "AWS_SECRET_ACCESS_KEY");
    let (id, secret) = match (id, secret) {
        (None, None) => return Ok(None),
        (Some(id), Some(secret)) => (id, secret),
        _ => bail!(
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together (one of them is \
             missing)"
        ),
    };
    let secret = Token::parse(secret, "AWS_SECRET_ACCESS_KEY")?
        .ok_or_else(|| anyhow!("AWS_SECRET_ACCESS_KEY is empty"))?;
    let session_token = match var(env, "AWS_SESSION_TOKEN") {
        Some(t) => Token::parse(t, "AWS_SESSION_TOKEN")?,
        None => None,
    };
    Ok(Some(Credentials {
        access_key_id: checked_key_id(id.trim(), "AWS_ACCESS_KEY_ID")?,
        secret_access_key: secret,
        session_token,
        expires_at: None,
    }))
}

fn checked_key_id(id: &str, what: &str) -> anyhow::Result<String> {
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        bail!("{what} is not an AWS access key id (letters and digits)");
    }
    Ok(id.to_owned())
}

/// The shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else
/// `~/.aws/credentials`), profile `AWS_PROFILE` (else `default`): static
/// keys only. `Ok(None)` when there is no such file or profile and no
/// profile was asked for by name.
pub fn from_shared_file(env: &dyn Environment) -> anyhow::Result<Option<Credentials>> {
    let home = || {
        env.var_os("HOME")
            .map(PathBuf::from)
            .or_else(dirs::home_dir)
    };
    let path = match var(env, "AWS_SHARED_CREDENTIALS_FILE") {
        Some(p) => PathBuf::from(p),
        None => match home() {
            Some(h) => h.join(".aws").join("credentials"),
            None => return Ok(None),
        },
    };
    let named = var(env, "AWS_PROFILE");
    let profile = named.clone().unwrap_or_else(|| "default".to_owned());
    let config_path = var(env, "AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".aws").join("config")));
    let text = read_small(&path)?;
    let section = text.as_deref().and_then(|t| ini_section(t, &profile));
    let get = |k: &str| {
        section
            .as_ref()
            .and_then(|s| s.iter().find(|(key, _)| key == k))
            .map(|(_, v)| v.clone())
    };
    if let (Some(id), Some(secret)) = (get("aws_access_key_id"), get("aws_secret_access_key")) {
        let what = format!("profile `{profile}` of {}", path.display());
        let secret_access_key = Token::parse(secret.to_string(), &what)?
            .ok_or_else(|| anyhow!("{what} has an empty aws_secret_access_key"))?;
        let session_token = match get("aws_session_token") {
            Some(t) => Token::parse(t.to_string(), &what)?,
            None => None,
        };
        return Ok(Some(Credentials {
            access_key_id: checked_key_id(id.trim(), &what)?,
            secret_access_key,
            session_token,
            expires_at: None,
        }));
    }
    // Not static keys: say what the profile is, if the config file says.
    let config = match &config_path {
        Some(p) => read_small(p)?,
        None => None,
    };
    let config_section = config.as_deref().and_then(|t| {
        let name = if profile == "default" {
            "default".to_owned()
        } else {
            format!("profile {profile}")
        };
        ini_section(t, &name)
    });
    let kind = config_section.as_ref().and_then(|s| {
        s.iter().find_map(|(k, _)| match k.as_str() {
            "sso_session" | "sso_start_url" => Some("AWS IAM Identity Center (SSO)"),
            "credential_process" => Some("`credential_process`"),
            "role_arn" => Some("`role_arn` (assume role)"),
            _ => None,
        })
    });
    match (kind, section.is_some(), named) {
        (Some(kind), _, _) => bail!(
            "the AWS profile `{profile}` uses {kind}, which this provider does not support \
             (static keys, web identity and IMDSv2 only). Export its temporary credentials \
             into the environment instead, e.g. `eval \"$(aws configure export-credentials \
             --profile {profile} --format env)\"`"
        ),
        (None, true, _) => bail!(
            "profile `{profile}` of {} has no aws_access_key_id / aws_secret_access_key",
            path.display()
        ),
        (None, false, Some(_)) => bail!(
            "AWS_PROFILE names `{profile}`, which is not in {}",
            path.display()
        ),
        (None, false, None) => Ok(None),
    }
}

/// A small file's text, `None` when it does not exist (read without
/// blocking, 256 KiB at most: the shared credentials and config files).
fn read_small(path: &Path) -> anyhow::Result<Option<Zeroizing<String>>> {
    use crate::fs::{Owner, ReadError};
    let bytes = match crate::fs::read(path, 256 * 1024, Owner::Anyone) {
        Ok(bytes) => bytes,
        Err(ReadError::NotFound) => return Ok(None),
        Err(e) => {
            return Err(anyhow::Error::new(e))
                .with_context(|| format!("cannot read {}", path.display()));
        }
    };
    match std::str::from_utf8(&bytes) {
        Ok(text) => Ok(Some(Zeroizing::new(text.to_owned()))),
        Err(_) => bail!("cannot read {} (not UTF-8)", path.display()),
    }
}

/// The `key = value` lines of section `[name]` of an INI text (comments and
/// blank lines skipped; keys lowercased).
fn ini_section(text: &str, name: &str) -> Option<Vec<(String, Zeroizing<String>)>> {
    let mut found = None;
    let mut current = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = section.trim() == name;
            if current {
                found.get_or_insert_with(Vec::new);
            }
            continue;
        }
        if current && let Some((k, v)) = line.split_once('=') {
            found.get_or_insert_with(Vec::new).push((
                k.trim().to_ascii_lowercase(),
                Zeroizing::new(v.trim().to_owned()),
            ));
        }
    }
    found
}

/// The `RoleSessionName`: this tool and the time, within STS's rules.
fn session_name(now: i64) -> String {
    format!("cargo-credential-corp-{now}")
}

/// STS `AssumeRoleWithWebIdentity` (an unsigned call): the web identity
/// token for temporary credentials of `role_arn`, lasting `session_secs`
/// (STS accepts 900 up to the role's maximum session duration, 1 h unless
/// the role allows more).
pub fn assume_role_with_web_identity(
    http: &Http,
    endpoint: &str,
    role_arn: &str,
    web_identity: &Token,
    session_secs: u64,
    now: i64,
) -> anyhow::Result<Credentials> {
    use crate::net::fields::{self, Value};
    let (url, req) = http.post(endpoint)?;
    let session = session_name(now);
    let duration = session_secs.to_string();
    let req = fields::form(
        req,
        &[
            ("Action", Value::Plain("AssumeRoleWithWebIdentity")),
            ("Version", Value::Plain("2011-06-15")),
            ("RoleArn", Value::Plain(role_arn)),
            ("RoleSessionName", Value::Plain(&session)),
            ("WebIdentityToken", Value::Secret(web_identity)),
            ("DurationSeconds", Value::Plain(&duration)),
        ],
    );
    let resp = http.send(&url, req)?;
    let echoes = web_identity.echoes();
    let echoes: Vec<&str> = echoes.iter().map(|s| s.as_str()).collect();
    parse_sts(
        resp.status,
        &resp.body,
        &display_url(&url),
        role_arn,
        &echoes,
    )
}

/// Reads STS's XML answer. An error shows STS's `Code` and `Message`,
/// cleaned and redacted, and what to change; never the body.
pub fn parse_sts(
    status: u16,
    body: &[u8],
    endpoint: &str,
    role_arn: &str,
    secrets: &[&str],
) -> anyhow::Result<Credentials> {
    let text = String::from_utf8_lossy(body);
    if status == 200 {
        let creds = xml_element(&text, "Credentials").ok_or_else(|| {
            anyhow!(
                "{endpoint} answered HTTP 200 but not with STS's AssumeRoleWithWebIdentity \
                 answer; check `sts-endpoint`"
            )
        })?;
        let field = |name: &str| {
            xml_element(creds, name)
                .map(|v| Zeroizing::new(xml_unescape(v.trim())))
                .filter(|v| !v.is_empty())
                .ok_or_else(|| anyhow!("{endpoint} answered without `{name}`"))
        };
        let what = format!("the answer of {endpoint}");
        let access_key_id = checked_key_id(&field("AccessKeyId")?, &what)?;
        let secret_access_key = Token::parse(field("SecretAccessKey")?.to_string(), &what)?
            .ok_or_else(|| anyhow!("{endpoint} answered with an empty SecretAccessKey"))?;
        let session_token = Token::parse(field("SessionToken")?.to_string(), &what)?;
        let expires_at = parse_time(&field("Expiration")?);
        return Ok(Credentials {
            access_key_id,
            secret_access_key,
            session_token,
            expires_at,
        });
    }
    let error = xml_element(&text, "Error");
    // The error code is a name (`AccessDenied`): shown only when it is one.
    let code = error
        .and_then(|e| xml_element(e, "Code"))
        .map(str::trim)
        .filter(|c| c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_default()
        .to_owned();
    let message = error
        .and_then(|e| xml_element(e, "Message"))
        .map(|m| format!(" ({})", exchange::clean(&xml_unescape(m), secrets)))
        .unwrap_or_default();
    let fix = match code.as_str() {
        "AccessDenied" | "InvalidIdentityToken" | "IDPRejectedClaim" => format!(
            "check that role {role_arn} trusts this identity: its trust policy must name the CI \
             system's OIDC identity provider (issuer), the audience (`identity-audience`, \
             default sts.amazonaws.com) and this job's subject"
        ),
        "ExpiredTokenException" => {
            "the CI identity token has expired; check this machine's clock".to_owned()
        }
        "ValidationError" => "check `aws-role-arn` (or AWS_ROLE_ARN)".to_owned(),
        "IDPCommunicationError" => "AWS could not reach the identity provider; retry".to_owned(),
        _ if status >= 500 => "STS is failing; retry later".to_owned(),
        _ => "check `aws-role-arn`, `aws-region` and `sts-endpoint`".to_owned(),
    };
    if code.is_empty() {
        bail!("{endpoint} (AWS STS) refused AssumeRoleWithWebIdentity (HTTP {status}); {fix}");
    }
    bail!(
        "{endpoint} (AWS STS) refused AssumeRoleWithWebIdentity: {code}{message} (HTTP {status}); {fix}"
    )
}

/// The text between `<name>` (or `<name attr…>`) and `</name>`, the first
/// such element; no nesting of the same name is expected.
pub fn xml_element<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    let open = format!("<{name}");
    let close = format!("</{name}>");
    let mut from = 0;
    while let Some(at) = text[from..].find(&open) {
        let start = from + at + open.len();
        let rest = &text[start..];
        // `<CredentialsX>` is another element.
        match rest.chars().next() {
            Some('>' | '/' | ' ' | '\t' | '\n' | '\r') => {}
            _ => {
                from = start;
                continue;
            }
        }
        let body_start = start + rest.find('>')? + 1;
        if text[start..body_start].ends_with("/>") {
            return Some("");
        }
        let end = text[body_start..].find(&close)?;
        return Some(&text[body_start..body_start + end]);
    }
    None
}

/// The five predefined XML entities (the only ones STS uses).
fn xml_unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#xD;", "\r")
        .replace("&amp;", "&")
}

/// An RFC 3339 time (`2024-01-01T00:00:00Z`, fractions allowed) in Unix
/// seconds.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let mut d = date.split('-');
    let (y, m, day) = (d.next()?, d.next()?, d.next()?);
    let (clock, offset) = match time.find(['Z', 'z', '+', '-']) {
        Some(i) => time.split_at(i),
        None => return None,
    };
    let mut c = clock.split(':');
    let (h, min, s) = (c.next()?, c.next()?, c.next()?);
    let s = s.split('.').next()?;
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let date = time::Date::from_calendar_date(y.parse().ok()?, month, day.parse().ok()?).ok()?;
    let t = time::Time::from_hms(h.parse().ok()?, min.parse().ok()?, s.parse().ok()?).ok()?;
    let base = time::PrimitiveDateTime::new(date, t)
        .assume_utc()
        .unix_timestamp();
    let shift = match offset {
        "Z" | "z" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (oh, om) = o[1..].split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    Some(base - shift)
}

/// The instance metadata service's link-local address.
const IMDS_IP: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// The variable naming another metadata service (a URL).
const IMDS_VAR: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
const IMDS_TOKEN_PATH: &str = "/latest/api/token";
const IMDS_ROLE_PATH: &str = "/latest/meta-data/iam/security-credentials/";

/// The base URL of the instance metadata service: `169.254.169.254:80`,
/// or what `AWS_EC2_METADATA_SERVICE_ENDPOINT` names if it is that server
/// or a loopback emulator.
pub fn imds_base(env: &dyn Environment) -> anyhow::Result<Url> {
    let refused = || {
        anyhow!(
            "{IMDS_VAR} must be http://{IMDS_IP} (the EC2 instance metadata service) or an \
             emulator on a loopback address; credentials are asked of nothing else over plain http"
        )
    };
    let Some(value) = env.var_os(IMDS_VAR) else {
        return Ok(Url::parse(&format!("http://{IMDS_IP}/")).expect("a fixed URL"));
    };
    let value = value.into_string().map_err(|_| refused())?;
    let url = Url::parse(value.trim()).map_err(|_| refused())?;
    let the_service = url.scheme() == "http"
        && url.host() == Some(url::Host::Ipv4(IMDS_IP))
        && url.port_or_known_default() == Some(80);
    let loopback = url.scheme() == "http" && checked_url(url.as_str()).is_ok();
    if !(the_service || loopback)
        || !matches!(url.path(), "" | "/")
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(refused());
    }
    Ok(url)
}

/// The role name the instance profile provides and its credentials, from
/// IMDSv2: a session token (PUT), the role (GET), its credentials (GET).
pub fn from_imds(
    base: &Url,
    http: &Http,
    timeout: Duration,
) -> anyhow::Result<(String, Credentials)> {
    // Its own client: plain http to a link-local host the general policy
    // refuses, never through a proxy, no redirects; `Http::send` applies the
    // deadline, the size cap and the redirect refusal.
    let client = Http::metadata_client(timeout, Duration::from_secs(2))?;
    let join = |path: &str| base.join(path).expect("a fixed path");
    let shown = display_url(base);
    let hint = "check that this runs on EC2 with an instance profile (IAM role) attached and \
                that IMDSv2 is enabled (hop limit 2 or more in a container)";
    let token_url = join(IMDS_TOKEN_PATH);
    let answer = http.send(
        &token_url,
        client
            .put(token_url.clone())
            .header("X-aws-ec2-metadata-token-ttl-seconds", "300"),
    )?;
    if answer.status != 200 {
        bail!(
            "the EC2 instance metadata service {shown} refused a session token (HTTP {}); {hint}",
            answer.status
        );
    }
    let session = Token::parse(
        String::from_utf8(answer.body).map_err(|_| anyhow!("IMDS session token is not text"))?,
        "the IMDS session token",
    )?
    .ok_or_else(|| anyhow!("the EC2 instance metadata service returned an empty session token"))?;
    let get = |url: Url| -> anyhow::Result<crate::net::http::Response> {
        http.send(
            &url,
            crate::net::fields::header(
                client.get(url.clone()),
                "X-aws-ec2-metadata-token",
                &session,
            ),
        )
    };
    let answer = get(join(IMDS_ROLE_PATH))?;
    if answer.status != 200 {
        bail!(
            "the EC2 instance metadata service {shown} names no IAM role (HTTP {}); {hint}",
            answer.status
        );
    }
    let role = String::from_utf8_lossy(&answer.body)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    if role.is_empty()
        || !role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
    {
        bail!("the EC2 instance metadata service {shown} named no usable IAM role; {hint}");
    }
    let answer = get(join(&format!("{IMDS_ROLE_PATH}{role}")))?;
    if answer.status != 200 {
        bail!(
            "the EC2 instance metadata service {shown} refused the credentials of role {role} \
             (HTTP {}); {hint}",
            answer.status
        );
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Answer {
        code: Option<String>,
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
        token: Option<String>,
        expiration: Option<String>,
    }
    let a: Answer = serde_json::from_slice(&answer.body)
        .map_err(|_| anyhow!("the EC2 instance metadata service's credentials are not JSON"))?;
    let what = "the EC2 instance metadata service's credentials";
    if a.code.as_deref().is_some_and(|c| c != "Success") {
        bail!("{what} are not usable (Code is not Success); {hint}");
    }
    let (Some(id), Some(secret)) = (a.access_key_id, a.secret_access_key) else {
        bail!("{what} lack AccessKeyId / SecretAccessKey");
    };
    Ok((
        role,
        Credentials {
            access_key_id: checked_key_id(&id, what)?,
            secret_access_key: Token::parse(secret, what)?
                .ok_or_else(|| anyhow!("{what}: empty SecretAccessKey"))?,
            session_token: match a.token {
                Some(t) => Token::parse(t, what)?,
                None => None,
            },
            expires_at: a.expiration.as_deref().and_then(parse_time),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const EP: &str = "https://sts.eu-west-1.amazonaws.com/";
    const ROLE: &str = "arn:aws:iam::123456789012:role/ci";

    #[test]
    fn sts_credentials_are_read_from_the_xml_answer() {
        let body = br#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>repo:o/r</SubjectFromWebIdentityToken>
    <Credentials>
      <SessionToken>FQoG/a+b=&amp;c</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG</SecretAccessKey>
      <Expiration>2030-01-02T03:04:05.123Z</Expiration>
      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>"#;
        let c = parse_sts(200, body, EP, ROLE, &[]).unwrap();
        assert_eq!(c.access_key_id, "ASIAEXAMPLE");
        assert_eq!(c.secret_access_key.expose(), "wJalrXUtnFEMI/K7MDENG");
        assert_eq!(c.session_token.unwrap().expose(), "FQoG/a+b=&c");
        assert_eq!(c.expires_at, Some(1_893_553_445));
        for bad in [
            &b"<html/>"[..],
            b"<Credentials><AccessKeyId>A</AccessKeyId></Credentials>",
        ] {
            let msg = format!("{:#}", parse_sts(200, bad, EP, ROLE, &[]).unwrap_err());
            assert!(msg.contains(EP), "{msg}");
        }
    }

    #[test]
    fn sts_errors_are_cleaned_redacted_and_say_what_to_change() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm8vciJ9.c2lnbmF0dXJl";
        let body = format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not \
             authorized for {jwt}\u{1b}[31m</Message></Error></ErrorResponse>"
        );
        let msg = format!(
            "{:#}",
            parse_sts(403, body.as_bytes(), EP, ROLE, &[jwt]).unwrap_err()
        );
        assert!(
            msg.contains("AccessDenied") && msg.contains("trust policy") && msg.contains(ROLE),
            "{msg}"
        );
        assert!(!msg.contains("eyJ") && !msg.contains('\u{1b}'), "{msg}");
        let msg = format!(
            "{:#}",
            parse_sts(500, b"SECRET", EP, ROLE, &[]).unwrap_err()
        );
        assert!(
            msg.contains("retry later") && !msg.contains("SECRET"),
            "{msg}"
        );
    }

    #[test]
    fn xml_elements_match_whole_names() {
        let t = "<CredentialsX>no</CredentialsX><Credentials a=\"1\">yes</Credentials>";
        assert_eq!(xml_element(t, "Credentials"), Some("yes"));
        assert_eq!(xml_element("<A/>", "A"), Some(""));
        assert_eq!(xml_element("<A>unclosed", "A"), None);
    }

    #[test]
    fn times_parse_with_offsets_and_fractions() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_time("1970-01-01T00:00:10.5Z"), Some(10));
        assert_eq!(parse_time("garbage"), None);
        assert_eq!(parse_time("1970-13-01T00:00:00Z"), None);
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn env_credentials_come_in_pairs() {
        assert!(from_env(&env(&[])).unwrap().is_none());
        let c = from_env(&env(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "s3cret-Kk81"),
            ("AWS_SESSION_TOKEN", "sess-Qq19"),
        ]))
        .unwrap()
        .unwrap();
        let secrets = c.secrets();
        let secrets: Vec<&str> = secrets.iter().map(|s| s.as_str()).collect();
        assert_eq!(secrets, ["s3cret-Kk81", "sess-Qq19"]);
        let msg = from_env(&env(&[("AWS_SECRET_ACCESS_KEY", "s3cret-Kk81")]))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("together") && !msg.contains("s3cret"), "{msg}");
    }

    #[test]
    fn the_shared_file_gives_static_keys_and_names_what_it_does_not_support() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        let config = dir.path().join("config");
        std::fs::write(
            &creds,
            "# c\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = sk-Df41\n\
             [ci]\naws_access_key_id=AKIDCI\naws_secret_access_key=sk-Ci77\naws_session_token=st\n",
        )
        .unwrap();
        std::fs::write(
            &config,
            "[profile sso]\nsso_session = corp\n[profile proc]\ncredential_process = x\n",
        )
        .unwrap();
        let c = creds.display().to_string();
        let f = config.display().to_string();
        let base = [
            ("AWS_SHARED_CREDENTIALS_FILE", c.as_str()),
            ("AWS_CONFIG_FILE", f.as_str()),
        ];
        let with = |profile: Option<&str>| {
            let mut e = env(&base);
            if let Some(p) = profile {
                e.insert("AWS_PROFILE".into(), p.into());
            }
            from_shared_file(&e)
        };
        assert_eq!(with(None).unwrap().unwrap().access_key_id, "AKIDDEFAULT");
        let ci = with(Some("ci")).unwrap().unwrap();
        assert_eq!(ci.session_token.unwrap().expose(), "st");
        for (profile, needle) in [
            ("sso", "SSO"),
            ("proc", "credential_process"),
            ("nope", "not in"),
        ] {
            let msg = format!("{:#}", with(Some(profile)).unwrap_err());
            assert!(msg.contains(needle), "{profile}: {msg}");
        }
        let none = env(&[("HOME", "/nonexistent-home")]);
        assert!(from_shared_file(&none).unwrap().is_none());
    }

    #[test]
    fn imds_is_the_link_local_address_or_loopback_only() {
        assert_eq!(
            imds_base(&env(&[])).unwrap().as_str(),
            "http://169.254.169.254/"
        );
        for ok in [
            "http://169.254.169.254",
            "http://127.0.0.1:8080/",
            "http://[::1]:9",
        ] {
            assert!(imds_base(&env(&[(IMDS_VAR, ok)])).is_ok(), "{ok}");
        }
        for bad in [
            "http://169.254.169.254:8080",
            "https://169.254.169.254",
            "http://10.0.0.1",
            "http://evil.example",
            "http://127.0.0.1/x",
            "http://u@127.0.0.1",
        ] {
            let msg = imds_base(&env(&[(IMDS_VAR, bad)])).unwrap_err().to_string();
            assert!(msg.contains(IMDS_VAR), "{bad}: {msg}");
        }
    }
}
