//! `knoxctl version`: the version and what this binary was built from (commit, whether the
//! tree had uncommitted changes, date, target, compiler), recorded by build.rs. Values
//! build.rs could not find are "unknown" (JSON: null for the dirty flag).

use super::ExitStatus;
use super::TextOrJson;
use clap::Args;

#[derive(Args, Debug)]
pub struct VersionArgs {
    #[arg(short, long, value_enum, default_value_t = TextOrJson::Text)]
    pub output: TextOrJson,
}

pub const GIT_COMMIT: &str = env!("KNOXCTL_GIT_COMMIT");
/// "true", "false" or "unknown".
pub const GIT_DIRTY: &str = env!("KNOXCTL_GIT_DIRTY");
pub const BUILD_DATE: &str = env!("KNOXCTL_BUILD_DATE");
pub const TARGET: &str = env!("KNOXCTL_TARGET");
pub const RUSTC: &str = env!("KNOXCTL_RUSTC");

pub fn run(args: VersionArgs) -> anyhow::Result<ExitStatus> {
    let version = env!("CARGO_PKG_VERSION");
    let api = crate::policy::API_VERSION;
    let dirty = match GIT_DIRTY {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    match args.output {
        TextOrJson::Text => {
            let tree = match dirty {
                Some(true) => " (uncommitted changes)",
                Some(false) => "",
                None => " (tree state unknown)",
            };
            println!("knoxctl {version} (policies: {api})");
            println!("commit:  {GIT_COMMIT}{tree}");
            println!("built:   {BUILD_DATE}");
            println!("target:  {TARGET}");
            println!("rustc:   {RUSTC}");
        }
        TextOrJson::Json => println!(
            "{}",
            serde_json::json!({
                "version": version,
                "policyApiVersion": api,
                "gitCommit": GIT_COMMIT,
                "gitDirty": dirty,
                "buildDate": BUILD_DATE,
                "target": TARGET,
                "rustc": RUSTC,
            })
        ),
    }
    Ok(ExitStatus::Success)
}
