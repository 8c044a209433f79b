//! Which registry Cargo is asking about, and the names derived from it.

/// The name Cargo gives its default registry.
pub const CRATES_IO: &str = "crates-io";

/// A registry as Cargo names it in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registry<'a> {
    /// The index URL exactly as Cargo sent it (with its `sparse+` prefix, if any).
    pub index_url: &'a str,
    /// The registry's name in Cargo's config; absent for `--index URL`.
    pub name: Option<&'a str>,
}

impl<'a> Registry<'a> {
    /// The registry as Cargo described it in a credential request.
    pub fn from_info(info: &'a cargo_credential::RegistryInfo<'a>) -> Self {
        Registry {
            index_url: info.index_url,
            name: info.name,
        }
    }

    /// The environment variable Cargo itself reads for this registry's token:
    /// `CARGO_REGISTRY_TOKEN` for `crates-io` (only with crates.io's own
    /// index URL), else `CARGO_REGISTRIES_<NAME>_TOKEN`. A request without a
    /// name has none.
    pub fn cargo_env_var(&self) -> Option<String> {
        match self.name? {
            CRATES_IO if is_crates_io_index(self.index_url) => {
                Some("CARGO_REGISTRY_TOKEN".to_owned())
            }
            CRATES_IO => None,
            name => Some(format!("CARGO_REGISTRIES_{}_TOKEN", env_mangle(name))),
        }
    }

    /// How to refer to the registry in a message: its name, else its index URL.
    pub fn display_name(&self) -> &'a str {
        self.name.unwrap_or(self.index_url)
    }
}

/// Cargo's mangling of a config key into an environment variable fragment:
/// upper case, with `-` and `.` turned into `_`.
pub fn env_mangle(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

/// Two index URLs name the same index when they are equal byte for byte,
/// except that one may have a single trailing `/` the other lacks (Cargo adds
/// it to sparse URLs). Nothing else is normalised: not case, not
/// percent-encoding, not default ports, not `..`: a URL that only resembles
/// a configured one is another registry.
pub fn same_index(a: &str, b: &str) -> bool {
    a.strip_suffix('/').unwrap_or(a) == b.strip_suffix('/').unwrap_or(b)
}

/// The index URLs of crates.io, as Cargo sends them.
pub const CRATES_IO_INDEXES: [&str; 2] = [
    "sparse+https://index.crates.io/",
    "https://github.com/rust-lang/crates.io-index",
];

/// Whether `index_url` is crates.io's own index.
pub fn is_crates_io_index(index_url: &str) -> bool {
    CRATES_IO_INDEXES.iter().any(|i| same_index(i, index_url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(name: Option<&'static str>) -> Registry<'static> {
        Registry {
            index_url: match name {
                Some(CRATES_IO) => "sparse+https://index.crates.io/",
                _ => "sparse+https://r.example/index/",
            },
            name,
        }
    }

    #[test]
    fn a_registry_is_shown_by_its_name_else_its_index_url() {
        assert_eq!(reg(Some("my-private")).display_name(), "my-private");
        assert_eq!(reg(None).display_name(), "sparse+https://r.example/index/");
    }

    #[test]
    fn env_var_names_follow_cargo() {
        assert_eq!(
            reg(Some("crates-io")).cargo_env_var().as_deref(),
            Some("CARGO_REGISTRY_TOKEN")
        );
        assert_eq!(
            reg(Some("my-private")).cargo_env_var().as_deref(),
            Some("CARGO_REGISTRIES_MY_PRIVATE_TOKEN")
        );
        assert_eq!(
            reg(Some("acme_internal2")).cargo_env_var().as_deref(),
            Some("CARGO_REGISTRIES_ACME_INTERNAL2_TOKEN")
        );
        assert_eq!(reg(None).cargo_env_var(), None);
        // `crates-io` with another index (a hostile or misconfigured request)
        // does not get crates.io's token.
        let other = Registry {
            index_url: "sparse+https://evil.example/",
            name: Some(CRATES_IO),
        };
        assert_eq!(other.cargo_env_var(), None);
    }

    #[test]
    fn index_comparison_ignores_trailing_slash_only() {
        assert!(same_index("sparse+https://a/x/", "sparse+https://a/x"));
        assert!(same_index("sparse+https://a/x/", "sparse+https://a/x/"));
        assert!(!same_index("sparse+https://a/x//", "sparse+https://a/x"));
        assert!(!same_index("sparse+https://A/x/", "sparse+https://a/x/"));
        assert!(!same_index(
            "sparse+https://a:443/x/",
            "sparse+https://a/x/"
        ));
        assert!(!same_index(
            "sparse+https://a/y/../x/",
            "sparse+https://a/x/"
        ));
        assert!(!same_index("sparse+https://a/%78/", "sparse+https://a/x/"));
        assert!(!same_index("sparse+https://a/x/?", "sparse+https://a/x/"));
        assert!(!same_index("sparse+https://a/x/", "https://a/x/"));
        assert!(!same_index("sparse+https://a/x/", "sparse+https://a/y/"));
    }
}
