//! What `doctor` found: findings with a severity, a stable code and a fix;
//! per registry what Cargo would get; the `--json` schema; and the report
//! for a person, every value shown escaped.

use serde::Serialize;

use super::super::shown::shown;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// All is well.
    Ok,
    /// Worth knowing.
    Info,
    /// Works, but something should change.
    Warning,
    /// Cargo gets no token (or the wrong one) because of this.
    Error,
}

/// One finding.
#[derive(Debug, Serialize)]
pub struct Finding {
    /// A stable kebab-case code.
    pub code: &'static str,
    /// How serious it is.
    pub level: Severity,
    /// What was found (never a secret).
    pub message: String,
    /// What to change, when something should.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The token this provider would hand Cargo, described.
#[derive(Debug, Serialize)]
pub struct TokenInfo {
    /// The source that has it.
    pub source: String,
    /// Where in that source: the variable, the keychain item, the single
    /// sign-on account, the CI identity (never the token).
    pub from: String,
    /// How it is sent: `none` (as is) or `bearer`.
    pub scheme: &'static str,
    /// `session` (long-lived), `until` (short-lived, see `expires_at`) or
    /// `unknown`.
    pub lifetime: &'static str,
    /// When it expires (Unix seconds), for a short-lived token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// One registry's report.
#[derive(Debug, Serialize)]
pub struct RegistryReport {
    /// Its name in Cargo's config, if it has one.
    pub name: Option<String>,
    /// Its index URL.
    pub index: String,
    /// The providers Cargo tries, in the order it tries them.
    pub providers: Vec<String>,
    /// Whether this provider is among them.
    pub uses_this_provider: bool,
    /// The token this provider would hand out, if any.
    pub token: Option<TokenInfo>,
    /// What was found, in order.
    pub findings: Vec<Finding>,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The schema version ([`SCHEMA_VERSION`]).
    pub version: u32,
    /// Cargo config files read, highest precedence first.
    pub cargo_config_files: Vec<String>,
    /// The provider's config files read.
    pub provider_config_files: Vec<String>,
    /// One entry per registry.
    pub registries: Vec<RegistryReport>,
}

pub(super) fn finding(
    code: &'static str,
    level: Severity,
    message: String,
    fix: Option<String>,
) -> Finding {
    Finding {
        code,
        level,
        message,
        fix,
    }
}

/// The report for a person; every value shown escaped (a project's Cargo
/// config may hold terminal escapes).
pub(super) fn human(report: &Report) -> String {
    let mut out = String::new();
    let files = |list: &[String]| {
        if list.is_empty() {
            "(none)".to_owned()
        } else {
            shown(&list.join(", ")).into_owned()
        }
    };
    out.push_str(&format!(
        "Cargo config: {}\nprovider config: {}\n",
        files(&report.cargo_config_files),
        files(&report.provider_config_files)
    ));
    for r in &report.registries {
        out.push_str(&format!(
            "\n{} ({})\n  providers, in Cargo's order: {}\n",
            shown(r.name.as_deref().unwrap_or("(no name)")),
            shown(&r.index),
            shown(&r.providers.join(" → "))
        ));
        for f in &r.findings {
            let mark = match f.level {
                Severity::Ok => "ok",
                Severity::Info => "info",
                Severity::Warning => "warning",
                Severity::Error => "error",
            };
            out.push_str(&format!("  [{mark}] {}: {}\n", f.code, shown(&f.message)));
            if let Some(fix) = &f.fix {
                out.push_str(&format!("         fix: {}\n", shown(fix)));
            }
        }
        match &r.token {
            Some(t) => out.push_str(&format!(
                "  → a token from {} (scheme {}, lifetime {}): {}\n",
                t.source,
                t.scheme,
                t.lifetime,
                shown(&t.from)
            )),
            None if r.uses_this_provider => out.push_str("  → no token from this provider\n"),
            None => {}
        }
    }
    out
}
