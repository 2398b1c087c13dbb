//! `knoxctl agent`: the embedded agent in the foreground (systemd or `onboard` run it).

use super::AgentArgs;
use crate::agent::{Overrides, run as run_agent};
use std::process::ExitCode;

pub fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    let config_given = args.config.as_os_str() != crate::agent::config::DEFAULT_CONFIG;
    run_agent(Overrides {
        config: config_given.then_some(args.config),
        state_dir: args.state_dir,
        socket: args.socket,
        enforcer: args.enforcer,
        labels: args.labels,
    })?;
    Ok(ExitCode::SUCCESS)
}
