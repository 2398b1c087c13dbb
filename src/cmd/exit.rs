//! How a command ends: the exit status it returns and the one place that prints error
//! lines. Handlers return `anyhow::Result<ExitStatus>`: `Err` is an unexpected failure
//! (reported by `report`, status 1); a failed check or a usage mistake the handler found
//! itself is an `Ok` status, printed first with `error` or `usage`. Nothing else in the
//! crate writes `knoxctl: error:` (tests/cli/commands.rs keeps it so).

use std::process::ExitCode;

/// The statuses documented in every man page's EXIT STATUS section (src/cmd/assets.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: every check passed, the operation was done.
    Success,
    /// 1: a check or an operation failed (invalid policy, agent or kernel error, and
    /// `policy diff` found differences).
    Failure,
    /// 2: the command line was wrong, or a change needs a confirmation that was not given.
    Usage,
    /// 2: `policy diff` could not compare at all; kubectl diff and diff(1) use a status
    /// above 1 for this so that "differences" (1) stays unambiguous.
    Trouble,
}

impl ExitStatus {
    /// Success when `ok`, otherwise a failed check.
    pub fn success_if(ok: bool) -> ExitStatus {
        if ok {
            ExitStatus::Success
        } else {
            ExitStatus::Failure
        }
    }

    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage | ExitStatus::Trouble => 2,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> ExitCode {
        ExitCode::from(s.code())
    }
}

/// Prints an error and its causes as one `knoxctl: error:` line; causes whose text the
/// message already contains are not repeated.
pub fn report(e: &anyhow::Error) {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg = format!("{msg}: {c}");
        }
    }
    error(&msg);
}

/// One error line, for commands that report a failure and go on (or choose their exit
/// status) rather than return an `Err`.
pub fn error(msg: &str) {
    eprintln!("knoxctl: error: {msg}");
}

/// A usage mistake found after parsing (a flag's value clap cannot judge, flags that do
/// not go together): the error line and clap's pointer to the command's help, status 2,
/// as clap's own usage errors look.
pub fn usage(msg: &str, command: &str) -> ExitStatus {
    error(msg);
    eprintln!("For more information, try 'knoxctl {command} --help'.");
    ExitStatus::Usage
}

/// A usage error clap found (or one built in clap's format): clap's message with the same
/// `knoxctl: ` prefix as every other error line, so that one prefix marks them all; help
/// and version requests (not errors) print as clap has them, on stdout, status 0.
pub fn clap_error(e: &clap::Error) -> ExitStatus {
    if !e.use_stderr() {
        let _ = e.print();
        return ExitStatus::Success;
    }
    let styled = e.render();
    let text = if crate::output::color_enabled_on(&std::io::stderr()) {
        styled.ansi().to_string()
    } else {
        styled.to_string()
    };
    eprint!("knoxctl: {text}");
    ExitStatus::Usage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_documented_codes() {
        assert_eq!(ExitStatus::Success.code(), 0);
        assert_eq!(ExitStatus::Failure.code(), 1);
        assert_eq!(ExitStatus::Usage.code(), 2);
        assert_eq!(ExitStatus::Trouble.code(), 2);
        assert_eq!(ExitStatus::success_if(true), ExitStatus::Success);
        assert_eq!(ExitStatus::success_if(false), ExitStatus::Failure);
    }
}
