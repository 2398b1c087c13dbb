//! `knoxctl completion SHELL`: prints the completion script. The same scripts are committed
//! under completions/ and installed by onboarding (see `crate::cmd::assets`).

use super::ExitStatus;
use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, ValueEnum};
use clap_complete::Shell;

#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// Shell to generate the script for
    #[arg(value_parser = ShellParser)]
    pub shell: Shell,
}

/// clap's own parser for `Shell` answers `tcsh` with "a similar value exists: 'zsh'", which
/// sends a tcsh user to a script their shell cannot read. This one names the shells that
/// have scripts instead, and still lists them for help and completion.
#[derive(Clone, Debug)]
struct ShellParser;

impl TypedValueParser for ShellParser {
    type Value = Shell;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Shell, clap::Error> {
        let text = value.to_string_lossy();
        Shell::from_str(&text, true).map_err(|_| {
            let supported: Vec<String> = crate::cmd::assets::SHELLS
                .iter()
                .filter_map(|s| s.to_possible_value())
                .map(|v| v.get_name().to_string())
                .collect();
            let mut cmd = cmd.clone();
            cmd.error(
                clap::error::ErrorKind::InvalidValue,
                format!(
                    "no completion script for shell '{text}': the supported shells are {}",
                    supported.join(", ")
                ),
            )
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            crate::cmd::assets::SHELLS
                .iter()
                .filter_map(|s| s.to_possible_value()),
        ))
    }
}

pub fn run(args: CompletionArgs) -> anyhow::Result<ExitStatus> {
    let script = crate::cmd::assets::completion(args.shell);
    use std::io::Write;
    std::io::stdout().write_all(&script)?;
    Ok(ExitStatus::Success)
}
