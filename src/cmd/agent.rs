//! `knoxctl agent`: the embedded agent in the foreground (systemd or `onboard` run it), or
//! with `--supervise` the standalone supervisor that keeps one running.

use super::AgentArgs;
use super::ExitStatus;
use crate::agent::{Overrides, load_config, run as run_agent};
use anyhow::Context;
use std::ffi::OsString;
use std::path::PathBuf;

pub fn run(args: AgentArgs, socket: Option<PathBuf>) -> anyhow::Result<ExitStatus> {
    let config_given = args.config.as_os_str() != crate::agent::config::DEFAULT_CONFIG;
    let overrides = Overrides {
        config: config_given.then_some(args.config),
        state_dir: args.state_dir,
        socket,
        enforcer: args.enforcer,
        labels: args.labels,
    };
    if args.supervise {
        return supervise(&overrides);
    }
    run_agent(overrides)?;
    Ok(ExitStatus::Success)
}

/// Runs this same command line without `--supervise` under the supervisor. The program is
/// the path it was started as (onboarding starts it by its absolute path), so an upgrade that
/// replaced the binary restarts the new one rather than the deleted old file.
fn supervise(overrides: &Overrides) -> anyhow::Result<ExitStatus> {
    crate::agent::init_logging();
    // A configuration the agent would refuse is reported now, once, rather than restarted
    // forever.
    let config = load_config(overrides)?;
    let mut argv = std::env::args_os();
    let arg0 = argv.next().map(PathBuf::from);
    let exe = match arg0 {
        Some(p) if p.is_absolute() => p,
        _ => std::env::current_exe().context("finding the knoxctl executable")?,
    };
    let args: Vec<OsString> = argv.filter(|a| a != "--supervise").collect();
    let record = crate::onboard::supervisor::record_path(&config.socket);
    tracing::info!(record = %record.display(), "supervisor: starting the agent");
    crate::onboard::supervisor::run(&exe, &args, &record)?;
    Ok(ExitStatus::Success)
}
