//! Files generated from the clap command tree and committed: shell completions
//! (completions/) and man pages (man/, one per subcommand). A test renders them again and
//! fails when the committed copies are stale; `UPDATE_ASSETS=1 cargo test --test cli assets`
//! rewrites them.

use crate::cmd::Cli;
use clap::{Command, CommandFactory};
use clap_complete::Shell;
use std::path::PathBuf;

pub const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::PowerShell,
    Shell::Elvish,
];

pub fn completion(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "knoxctl", &mut out);
    out
}

fn completion_file(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "knoxctl.bash",
        Shell::Zsh => "_knoxctl",
        Shell::Fish => "knoxctl.fish",
        Shell::PowerShell => "_knoxctl.ps1",
        Shell::Elvish => "knoxctl.elv",
        _ => "knoxctl.unknown",
    }
}

const EXIT_STATUS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Success: every policy valid, the operation done.
.TP
\fB1\fR
A check or an operation failed: an invalid policy, an agent or kernel error, no enforcer usable here (probe), something offboarding could not remove, a command not available in this build.
.TP
\fB2\fR
Usage error: unknown flags, missing or malformed arguments, or a command that changes the host (onboard, offboard) run without a terminal to confirm on and without \-\-yes.
"#;

const ENVIRONMENT: &str = r#".SH ENVIRONMENT
.TP
\fBKNOXCTL_SOCKET\fR
Path of the agent's API socket (default /run/knoxctl/agent.sock).
.TP
\fBKNOXCTL_STATE_DIR\fR
The agent's state directory (default /var/lib/knoxctl).
.TP
\fBKNOXCTL_ROOT\fR
For tests and staging: onboard, offboard and sysdump work below this directory instead of /etc, /var, /run, /usr/local/bin and /sys (never managed by systemd).
.TP
\fBNO_COLOR\fR
When set, output is never coloured.
"#;

fn man_page(cmd: &Command, name: &str) -> Vec<u8> {
    let cmd = cmd
        .clone()
        .name(name.to_string())
        .bin_name(name.replace("-", " "));
    let man = clap_mangen::Man::new(cmd.clone()).date("");
    let mut out = Vec::new();
    // Section by section, so that EXIT STATUS and ENVIRONMENT go where man(7) puts them.
    man.render_title(&mut out).expect("write to vec");
    man.render_name_section(&mut out).expect("write to vec");
    man.render_synopsis_section(&mut out).expect("write to vec");
    man.render_description_section(&mut out)
        .expect("write to vec");
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out).expect("write to vec");
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut out)
            .expect("write to vec");
    }
    out.extend_from_slice(EXIT_STATUS.as_bytes());
    out.extend_from_slice(ENVIRONMENT.as_bytes());
    man.render_version_section(&mut out).expect("write to vec");
    out
}

fn collect_man(cmd: &Command, prefix: &str, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    out.push((
        PathBuf::from(format!("man/{prefix}.1")),
        man_page(cmd, prefix),
    ));
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        collect_man(sub, &format!("{prefix}-{}", sub.get_name()), out);
    }
}

/// Every generated file, as (path relative to the repository, contents).
pub fn render_all() -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = SHELLS
        .iter()
        .map(|&s| {
            (
                PathBuf::from("completions").join(completion_file(s)),
                completion(s),
            )
        })
        .collect();
    let mut cmd = Cli::command();
    cmd.build();
    collect_man(&cmd, "knoxctl", &mut out);
    out
}
