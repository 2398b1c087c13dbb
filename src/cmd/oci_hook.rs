//! `knoxctl oci-hook`: run by podman's runtime at `createRuntime` and `poststop` (onboarding
//! installs the hook definition); reports the container to the agent and waits for its
//! answer, so that a container is known before its entrypoint runs.

use super::{AgentConn, ExitStatus};
use crate::agent::api::{self, Request, Response};
use clap::Args;
use std::io::Read;
use std::time::Duration;

pub const ABOUT: &str = "\
Reads the OCI runtime state (JSON) a container runtime hands a hook on stdin and sends it to \
the agent: at createRuntime the agent registers the container before its entrypoint runs; at \
poststop (state `stopped`) it forgets it. Waits at most 2 s for the agent's answer.

Fails open: when the agent does not answer (not running, slow), a warning goes to stderr and \
the exit status is still 0, so that containers start without an agent. Onboarding installs it \
for podman as /usr/share/containers/oci/hooks.d/knoxctl.json; not meant to be run by hand.";

/// What the runtime may wait for the agent.
const HOOK_TIMEOUT: Duration = Duration::from_secs(2);
/// A state larger than this is not an OCI state.
const MAX_STATE: u64 = 1 << 20;

#[derive(Args, Debug)]
pub struct OciHookArgs {}

pub fn run(_args: OciHookArgs, conn: &AgentConn) -> anyhow::Result<ExitStatus> {
    let mut bytes = Vec::new();
    std::io::stdin().take(MAX_STATE).read_to_end(&mut bytes)?;
    let state = match crate::container::hook::parse_state(&bytes) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("knoxctl oci-hook: {e}; container not registered");
            return Ok(ExitStatus::Success);
        }
    };
    match api::call(&conn.socket, &Request::OciHook { state }, HOOK_TIMEOUT) {
        Ok(Response::Hooked { .. }) => {}
        Ok(Response::Error { message, .. }) => {
            eprintln!("knoxctl oci-hook: the agent refused: {message}");
        }
        Ok(_) => eprintln!("knoxctl oci-hook: unexpected answer from the agent"),
        Err(e) => eprintln!("knoxctl oci-hook: {e}; the container runs unregistered"),
    }
    Ok(ExitStatus::Success)
}
