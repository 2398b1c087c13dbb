//! `knoxctl completion SHELL`: prints the completion script. The same scripts are committed
//! under completions/ (see `crate::assets`).

use clap::Args;
use clap_complete::Shell;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// Shell to generate the script for
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: CompletionArgs) -> anyhow::Result<ExitCode> {
    let script = crate::assets::completion(args.shell);
    use std::io::Write;
    std::io::stdout().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}
