//! Commands whose capability has not landed yet. They say so plainly and fail, so that no
//! script mistakes a missing feature for a successful run.

use super::EXIT_FAILED;
use std::process::ExitCode;

pub fn not_yet(command: &str, planned: &str) -> anyhow::Result<ExitCode> {
    eprintln!(
        "knoxctl: '{command}' is not available in this build yet ({planned}); nothing was done."
    );
    Ok(ExitCode::from(EXIT_FAILED))
}
