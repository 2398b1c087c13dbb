//! Commands that do nothing here, and say so: capabilities that have not landed yet (they
//! fail, so that no script mistakes a missing feature for a successful run), and command
//! names karmor users type out of habit (a usage error that names knoxctl's command).

use super::Cli;
use super::ExitStatus;
use clap::CommandFactory;

/// Reports that `command` is not in this build: one `knoxctl: error:` line on stderr, and
/// with `json` also a JSON object on stdout, since a script that asked for JSON parses
/// stdout and must not get an empty document.
pub fn not_yet(command: &str, planned: &str, json: bool) -> anyhow::Result<ExitStatus> {
    let msg =
        format!("'{command}' is not available in this build yet ({planned}); nothing was done");
    super::error(&msg);
    if json {
        println!(
            "{}",
            serde_json::json!({ "error": msg, "command": command, "available": false })
        );
    }
    Ok(ExitStatus::Failure)
}

/// karmor's command names that knoxctl spells differently, and the hint for each. None
/// today: `logs` was one until `knoxctl logs` became the telemetry command (KubeArmor's
/// HostLog/ContainerLog), whose help points at `alerts` for policy alerts.
const KARMOR_HABITS: &[(&str, &str, &str)] = &[];

/// `knoxctl logs` and the like: karmor's spelling of a knoxctl command gets a usage error
/// (exit status 2) in clap's format that names knoxctl's command. Checked before clap
/// parses, because a hidden subcommand would still be offered by the generated
/// completion scripts and by clap's did-you-mean; None for every other command line.
pub fn karmor_habit(args: &[std::ffi::OsString]) -> Option<std::process::ExitCode> {
    let mut words = args.iter().skip(1);
    // The command is the first word that is neither an option nor the global --socket's
    // value; any other option first (--help, -V) is clap's to answer.
    let command = loop {
        let w = words.next()?.to_str()?;
        match w {
            "--socket" => {
                words.next()?;
            }
            _ if w.starts_with("--socket=") => {}
            _ if w.starts_with('-') => return None,
            _ => break w,
        }
    };
    let &(typed, knoxctl, note) = KARMOR_HABITS.iter().find(|(t, _, _)| *t == command)?;
    let msg =
        format!("unrecognized subcommand '{typed}': did you mean `knoxctl {knoxctl}`? ({note})");
    let e = Cli::command().error(clap::error::ErrorKind::InvalidSubcommand, msg);
    Some(super::clap_error(&e).into())
}
