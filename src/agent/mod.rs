//! The embedded agent (`knoxctl agent`): restores the applied policies, hands the host's
//! rule set to the enforcer, turns enforcer decisions and monitor events into alerts, and
//! serves the local API until SIGTERM/SIGINT.

pub mod api;
pub mod config;
pub mod core;
// TEMP pub mod pipeline;
pub mod server;
pub mod state;

use config::{Config, EnforcerChoice};
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Enforcer decisions waiting for the alert pipeline; beyond this they are counted and
/// dropped rather than holding the kernel's permission events.
const EVENT_QUEUE: usize = 65_536;

/// Flags that override the configuration file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub socket: Option<PathBuf>,
    pub enforcer: Option<EnforcerChoice>,
    pub labels: Vec<String>,
}

pub fn load_config(o: &Overrides) -> anyhow::Result<Config> {
    use anyhow::Context;
    let (path, explicit) = match &o.config {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(config::DEFAULT_CONFIG), false),
    };
    let mut c = Config::load(&path, explicit)?;
    if let Some(d) = &o.state_dir {
        c.state_dir = d.clone();
    }
    if let Some(s) = &o.socket {
        c.socket = s.clone();
    }
    if let Some(e) = o.enforcer {
        c.enforcer = e;
    }
    let extra = crate::identity::parse_labels(&o.labels)
        .map_err(anyhow::Error::msg)
        .context("--label")?;
    c.labels.extend(extra);
    Ok(c)
}

/// Holds an exclusive lock on the state directory for the agent's lifetime, so two agents
/// never enforce from (and write) the same state.
struct StateLock(#[allow(dead_code)] std::fs::File);

fn lock_state(dir: &std::path::Path) -> anyhow::Result<StateLock> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("agent.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        anyhow::bail!(
            "another knoxctl agent is running with state directory {}",
            dir.display()
        );
    }
    Ok(StateLock(f))
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("KNOXCTL_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
}

/// Runs the agent in the foreground until SIGTERM or SIGINT.
pub fn run(overrides: Overrides) -> anyhow::Result<()> {
    use anyhow::Context;
    init_logging();
    let config = load_config(&overrides)?;
    let _lock = lock_state(&config.state_dir)?;
    let state = state::PolicyState::open(&config.state_dir)?;
    let access = server::Access::for_group(config.api_group.as_deref())?;
    let (events_tx, events_rx) = std::sync::mpsc::sync_channel(EVENT_QUEUE);
    let selected = crate::enforce::select(config.enforcer, config.default_posture.file, events_tx)?;
    tracing::info!(enforcer = %selected.enforcer.backend(), reason = %selected.reason, "enforcer selected");
    let hostname = crate::identity::hostname();
    let core = core::Core::start(
        config.clone(),
        hostname,
        state,
        selected.enforcer,
        selected.reason,
    )
    .map_err(anyhow::Error::msg)?;
    tracing::info!(
        policies = core.status().policies,
        host_rules = core.status().host_rules,
        "policies restored"
    );
    let core = Arc::new(Mutex::new(core));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let listener = server::bind(&config.socket, &access)?;
        tracing::info!(socket = %config.socket.display(), "listening");
        let shutdown = async {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
            let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        server::serve(
            listener,
            config.socket.clone(),
            core.clone(),
            access,
            shutdown,
        )
        .await;
        anyhow::Ok(())
    })?;
    tracing::info!("stopping");
    core.lock().expect("core lock").shutdown();
    Ok(())
}
