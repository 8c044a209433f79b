//! The `[registries.NAME.sso]` table: raw as written, then validated.

use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;

use crate::schema::KeyError;

/// How `cargo login` signs the developer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flow {
    /// The browser when this machine has a display, the device flow when it
    /// has none and the IdP offers it, paste mode otherwise.
    Auto,
    /// RFC 8628 device authorization: a code to enter on another device.
    Device,
    /// Authorization code with PKCE and a loopback redirect (RFC 8252).
    Browser,
    /// Authorization code with PKCE; the redirected URL is pasted back.
    Paste,
}

/// Whether a login flow may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Interactive {
    /// When a person can answer: a terminal, and not CI.
    Auto,
    /// Never (build machines): `cargo login` fails with what to do instead.
    Never,
}

/// Where the refresh token is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GrantStore {
    /// The OS keychain (the default; the only store used unless chosen).
    Keychain,
    /// A private file (0600, in a 0700 folder of the user's cache folder),
    /// for machines without a keychain; an explicit, loudly named opt-in.
    File,
}

/// The table as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawSso {
    issuer: Option<String>,
    device_authorization_endpoint: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    client_id: Option<String>,
    flow: Option<Flow>,
    scope: Option<String>,
    publish_scope: Option<String>,
    audience: Option<String>,
    resource: Option<String>,
    redirect_port: Option<u16>,
    interactive: Option<Interactive>,
    store: Option<GrantStore>,
    refresh_ahead_secs: Option<u64>,
    timeout_ms: Option<u64>,
    login_timeout_secs: Option<u64>,
}

/// Endpoints set in the table; the rest come from discovery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// RFC 8628 device authorization endpoint.
    pub device_authorization: Option<String>,
    /// Authorization endpoint.
    pub authorization: Option<String>,
    /// Token endpoint.
    pub token: Option<String>,
    /// RFC 7009 revocation endpoint.
    pub revocation: Option<String>,
    /// Whether the IdP is known to offer `offline_access` (set for a
    /// discovered sign-in, whose endpoints come from the binding).
    pub offline_access: bool,
}

/// The validated table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSettings {
    /// The issuer (for discovery and to name the grant), if set.
    pub issuer: Option<String>,
    /// Whether a sign-in asks for `openid` (and then needs an ID token):
    /// a table with `issuer` (OpenID discovery), or a discovered server
    /// that is an OpenID provider.
    pub openid: bool,
    /// Endpoints configured directly.
    pub endpoints: Endpoints,
    /// The public client's id.
    pub client_id: String,
    /// The login flow.
    pub flow: Flow,
    /// Scope for reads.
    pub scope: Option<String>,
    /// Scope for publish, yank, unyank and owners (defaults to `scope`).
    pub publish_scope: Option<String>,
    /// `audience` parameter.
    pub audience: Option<String>,
    /// `resource` parameter (RFC 8707).
    pub resource: Option<String>,
    /// Loopback port of the redirect (0: any free port).
    pub redirect_port: u16,
    /// Whether a login may prompt.
    pub interactive: Interactive,
    /// Where the refresh token lives.
    pub store: GrantStore,
    /// Refresh this long before expiry (at most half the token's life).
    pub refresh_ahead: Duration,
    /// Deadline of each HTTP call.
    pub timeout: Duration,
    /// CA files trusted besides the OS store (`ca-file`; set by the
    /// config from the matched tables and `[defaults]`, not in this table).
    pub ca_files: Vec<std::path::PathBuf>,
    /// How long a login waits for the person (browser or device approval).
    pub login_timeout: Duration,
}

impl SsoSettings {
    /// Whether publishes need a token of their own (different scope).
    pub fn operation_dependent(&self) -> bool {
        self.publish_scope.is_some() && self.publish_scope != self.scope
    }

    /// What names the IdP in keychain items and cache keys.
    pub fn idp_id(&self) -> &str {
        self.issuer
            .as_deref()
            .or(self.endpoints.token.as_deref())
            .unwrap_or("")
    }
}

impl SsoSettings {
    /// The settings of a sign-in learnt from the registry (see
    /// [`super::discover`]): the defaults of a table, with these values.
    pub fn discovered(
        issuer: &str,
        endpoints: Endpoints,
        client_id: &str,
        scope: Option<String>,
        resource: &str,
        openid: bool,
    ) -> SsoSettings {
        SsoSettings {
            issuer: Some(issuer.to_owned()),
            openid,
            endpoints,
            client_id: client_id.to_owned(),
            flow: Flow::Auto,
            scope,
            publish_scope: None,
            audience: None,
            resource: Some(resource.to_owned()),
            redirect_port: 0,
            interactive: Interactive::Auto,
            store: GrantStore::Keychain,
            refresh_ahead: Duration::from_secs(60),
            timeout: Duration::from_millis(10_000),
            ca_files: Vec::new(),
            login_timeout: Duration::from_secs(300),
        }
    }
}

impl RawSso {
    /// Validates the table; `table` names it for messages.
    pub fn validate(&self, table: &str) -> anyhow::Result<SsoSettings> {
        let key_error = |key: &'static str, why: &str| KeyError {
            table: table.to_owned(),
            key,
            why: why.to_owned(),
        };
        crate::schema::check_urls(
            table,
            &[
                ("issuer", &self.issuer),
                (
                    "device-authorization-endpoint",
                    &self.device_authorization_endpoint,
                ),
                ("authorization-endpoint", &self.authorization_endpoint),
                ("token-endpoint", &self.token_endpoint),
                ("revocation-endpoint", &self.revocation_endpoint),
            ],
        )?;
        if self.issuer.is_none() && self.token_endpoint.is_none() {
            bail!(
                "[{table}] needs `issuer` (OIDC discovery) or `token-endpoint` with \
                 `device-authorization-endpoint` and/or `authorization-endpoint`"
            );
        }
        if self.issuer.is_none()
            && self.device_authorization_endpoint.is_none()
            && self.authorization_endpoint.is_none()
        {
            bail!(
                "[{table}] sets no `issuer`, so it needs `device-authorization-endpoint` or \
                 `authorization-endpoint` to sign in with"
            );
        }
        if self.publish_scope.is_some() && self.scope.is_none() {
            // Reads would refresh without a scope and get every scope the
            // login holds, publish included (RFC 6749 §6).
            bail!(
                "[{table}] sets `publish-scope` but no `scope`: set `scope` too, so that reads \
                 get tokens without the publish scope"
            );
        }
        let Some(client_id) = self.client_id.clone() else {
            bail!("[{table}] needs `client-id` (the IdP's public client for developers)");
        };
        if client_id.is_empty() || client_id.chars().any(char::is_control) {
            return Err(key_error("client-id", "is empty or has a control character").into());
        }
        let timeout_ms = self.timeout_ms.unwrap_or(10_000);
        if !(100..=120_000).contains(&timeout_ms) {
            bail!("`timeout-ms` in [{table}] is {timeout_ms}; use 100 to 120000");
        }
        let login_secs = self.login_timeout_secs.unwrap_or(300);
        if !(5..=3600).contains(&login_secs) {
            bail!("`login-timeout-secs` in [{table}] is {login_secs}; use 5 to 3600");
        }
        Ok(SsoSettings {
            issuer: self.issuer.clone(),
            openid: self.issuer.is_some(),
            endpoints: Endpoints {
                device_authorization: self.device_authorization_endpoint.clone(),
                authorization: self.authorization_endpoint.clone(),
                token: self.token_endpoint.clone(),
                revocation: self.revocation_endpoint.clone(),
                offline_access: false,
            },
            client_id,
            flow: self.flow.unwrap_or(Flow::Auto),
            scope: self.scope.clone(),
            publish_scope: self.publish_scope.clone(),
            audience: self.audience.clone(),
            resource: self.resource.clone(),
            redirect_port: self.redirect_port.unwrap_or(0),
            interactive: self.interactive.unwrap_or(Interactive::Auto),
            store: self.store.unwrap_or(GrantStore::Keychain),
            refresh_ahead: Duration::from_secs(self.refresh_ahead_secs.unwrap_or(60)),
            timeout: Duration::from_millis(timeout_ms),
            ca_files: Vec::new(),
            login_timeout: Duration::from_secs(login_secs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<SsoSettings> {
        let raw: RawSso = toml::from_str(text)?;
        raw.validate("registries.x.sso")
    }

    #[test]
    fn minimal_table_uses_discovery_and_auto_flow() {
        let s = parse("issuer = \"https://idp.example\"\nclient-id = \"cargo\"\n").unwrap();
        assert_eq!(s.flow, Flow::Auto);
        assert_eq!(s.store, GrantStore::Keychain);
        assert_eq!(s.redirect_port, 0);
        assert_eq!(s.idp_id(), "https://idp.example");
        assert!(!s.operation_dependent());
    }

    #[test]
    fn rules_are_enforced_with_the_key_to_set() {
        for (text, needle) in [
            ("client-id = \"c\"\n", "`issuer`"),
            ("issuer = \"https://i\"\n", "client-id"),
            (
                "issuer = \"http://idp.example\"\nclient-id = \"c\"\n",
                "plain http",
            ),
            (
                "token-endpoint = \"https://i/t\"\nclient-id = \"c\"\n",
                "device-authorization-endpoint",
            ),
            (
                "issuer = \"https://i\"\nclient-id = \"c\"\ntimeout-ms = 1\n",
                "timeout-ms",
            ),
            (
                "issuer = \"https://i\"\nclient-id = \"c\"\nflow = \"telepathy\"\n",
                "unknown variant",
            ),
        ] {
            let msg = format!("{:#}", parse(text).unwrap_err());
            assert!(msg.contains(needle), "{text}: {msg}");
        }
        // A client secret has no place here: SSO clients are public.
        assert!(
            parse("issuer = \"https://i\"\nclient-id = \"c\"\nclient-secret = \"x\"\n").is_err()
        );
    }
}
