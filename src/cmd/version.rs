//! `knoxctl version`.

use super::TextOrJson;
use clap::Args;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct VersionArgs {
    #[arg(short, long, value_enum, default_value_t = TextOrJson::Text)]
    pub output: TextOrJson,
}

pub fn run(args: VersionArgs) -> anyhow::Result<ExitCode> {
    let version = env!("CARGO_PKG_VERSION");
    let api = crate::policy::API_VERSION;
    match args.output {
        TextOrJson::Text => println!("knoxctl {version} (policies: {api})"),
        TextOrJson::Json => println!(
            "{}",
            serde_json::json!({ "version": version, "policyApiVersion": api })
        ),
    }
    Ok(ExitCode::SUCCESS)
}
