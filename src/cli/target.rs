//! Which registry a command is about: `--registry NAME`, `--index URL`, or both.

/// The registry a command is about.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The registry's name in Cargo's config (e.g. `my-private`).
    #[arg(long)]
    pub registry: Option<String>,
    /// The registry's index URL, as in Cargo's config (e.g. `sparse+https://…/`).
    #[arg(long)]
    pub index: Option<String>,
}
