//! The embedded agent (`knoxctl agent`): restores the applied policies, hands the host's
//! rule set to the enforcer, turns enforcer decisions and monitor events into alerts, and
//! serves the local API until SIGTERM/SIGINT.

pub mod api;
pub mod config;
pub mod container_enforce;
mod container_lsm;
pub mod container_monitor;
pub mod containers;
pub mod core;
pub mod grpc;
pub mod notify;
pub mod pipeline;
pub mod probe;
pub mod server;
pub mod state;

use crate::alert::store::{AlertWriter, Retention, StoreKind, WriterOptions};
use crate::enforce::apparmor::unconfined::{self, Label};
use crate::monitor::{Monitor, MonitorConfig, MonitorEvent, SyscallWatch, Unreached, Untraced};
use config::{Config, EnforcerChoice};
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The monitor's ring buffer. Its pages are mapped twice into the agent (they count in
/// RSS), and at ~300 bytes an event 2 MiB absorbs bursts of several thousand events
/// between the reader's 10 ms polls; beyond that, losses are counted.
const AGENT_RING_BYTES: u32 = 2 << 20;
/// Alerts waiting for the store's writer (a preallocated queue, ~650 bytes a slot).
const ALERT_QUEUE: usize = 4_096;

/// Logs waiting for the telemetry store's writer: its own queue, so that a flood of
/// telemetry fills this one (counted as logs dropped) and never the alerts'.
const LOG_QUEUE: usize = 8_192;

/// Enforcer decisions waiting for the alert pipeline; beyond this they are counted and
/// dropped rather than holding the kernel's permission events.
const EVENT_QUEUE: usize = 8_192;

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

pub fn init_logging() {
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

/// Runs the agent in the foreground until SIGTERM or SIGINT: build (enforce the persisted
/// policies, start the monitor and the alert pipeline), serve the API, shut down.
pub fn run(overrides: Overrides) -> anyhow::Result<()> {
    init_logging();
    let config = load_config(&overrides)?;
    grpc::check(&config.grpc)?;
    let _lock = lock_state(&config.state_dir)?;
    let agent = Agent::build(&config)?;
    let notifier = notify::Notifier::from_env();
    let core = serve(
        &config,
        agent.access,
        agent.core,
        agent.containers.clone(),
        agent.fanout,
        &notifier,
    )?;
    // Container groups hold a sender of the enforcer's events: released before the
    // pipeline waits for that queue to close.
    container_enforce::lock(&agent.containers).stop();
    shutdown(
        core,
        agent.monitor,
        agent.threads,
        agent.writer,
        agent.log_writer,
    );
    // After the writer's last commit, so that its alerts are forwarded too.
    if let Some(f) = agent.forwarders {
        for s in f.stop() {
            tracing::info!(forwarder = %s.name, sent = s.sent, pending = s.pending, lost = s.lost, "forwarder stopped");
        }
    }
    Ok(())
}

/// A started agent, before its API opens: the core enforcing the persisted policies, the
/// monitor and the alert pipeline's threads running.
struct Agent {
    access: server::Access,
    core: core::Core,
    monitor: Option<Arc<Monitor>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    writer: AlertWriter,
    /// The telemetry store's writer, when visibility asks for logs.
    log_writer: Option<AlertWriter>,
    containers: container_enforce::Shared,
    /// Stored alerts for the gRPC API's streams.
    fanout: grpc::Fanout,
    forwarders: Option<crate::forward::Forwarders>,
}

impl Agent {
    fn build(config: &Config) -> anyhow::Result<Agent> {
        let state = state::PolicyState::open(&config.state_dir)?;
        let access = server::Access::for_group(config.api_group.as_deref())?;
        let (events_tx, events_rx) = std::sync::mpsc::sync_channel(EVENT_QUEUE);
        let container_events = events_tx.clone();
        let mut selected = crate::enforce::select(
            config.enforcer,
            &config.default_posture,
            &config.bpf_pin_dir,
            events_tx,
        )?;
        // With BPF-LSM on the host, containers get targets of their own in its maps.
        let container_lsm = selected.enforcer.container_rules();
        tracing::info!(enforcer = %selected.enforcer.backend(), reason = %selected.reason, "enforcer selected");
        let hostname = crate::identity::hostname();
        let ctx = pipeline::AlertContext {
            cluster_name: config.cluster_name.clone(),
            host_name: hostname.clone(),
        };
        let retention = Retention {
            max_age: Duration::from_secs(config.alerts.max_age_days.saturating_mul(86_400)),
            max_rows: config.alerts.max_rows,
        };
        let writer_options = WriterOptions {
            capacity: ALERT_QUEUE,
            throttle: config.alerts.throttle,
            ..WriterOptions::default()
        };
        let fanout = grpc::Fanout::default();
        let hook = config.grpc.enabled.then(|| fanout.hook(StoreKind::Alerts));
        let (writer, alerts) =
            AlertWriter::spawn_hooked(&config.state_dir, retention, writer_options, hook)?;
        let logs = start_log_writer(config, &fanout)?;

        // Enforcement first: after a crash or a restart, every millisecond before the
        // persisted policies are enforced again is a window in which nothing is blocked; the
        // monitor's alerts can wait for it.
        let mut core = core::Core::start(
            config.clone(),
            hostname,
            state,
            selected.enforcer,
            selected.reason,
        )?;
        let monitor = start_monitor();
        let monitor_handle = monitor.as_ref().map(|(m, _)| m.clone());
        let follower = monitor_handle
            .as_ref()
            .map(|m| Arc::new(Follower::new(m, Needs::of_visibility(&config.visibility))));
        if let Some(f) = &follower {
            let f = f.clone();
            core.follow_rules(Box::new(move |rules| f.host(rules)));
        }
        let index = Arc::new(container_monitor::ContainerIndex::new(follower.map(|f| {
            Box::new(move |sets: &[Arc<core::HostRules>]| f.containers(sets))
                as container_monitor::RulesListener
        })));
        let forwarders = start_forwarders(config, &writer, &alerts)?;
        let forwarder_status = forwarders.as_ref().map(|f| f.status_handle());
        {
            let writer_stats = writer.stats_handle();
            let log_stats = logs.as_ref().map(|(w, _)| w.stats_handle());
            let m = monitor_handle.clone();
            core.status_source = Some(Box::new(move |s| {
                let w = writer_stats();
                s.alerts_stored = w.stored;
                s.alerts_dropped = w.dropped + w.failed;
                s.alerts_folded = w.folded;
                if let Some(l) = &log_stats {
                    let l = l();
                    s.logs_stored = l.stored;
                    s.logs_dropped = l.dropped + l.failed;
                }
                if let Some(f) = &forwarder_status {
                    s.forwarders = f.get();
                }
                if let Some(m) = &m {
                    let ms = m.stats();
                    s.monitor_received = ms.received;
                    s.monitor_lost_in_kernel = ms.lost_in_kernel;
                    s.monitor_dropped_in_userspace = ms.dropped_in_userspace;
                }
            }));
        }
        let (log_writer, log_sender) = match logs {
            Some((w, tx)) => (Some(w), Some(tx)),
            None => (None, None),
        };
        let mut threads = Vec::new();
        // `_` would leave the Arc inside `monitor` alive to the end of run(), and the monitor
        // could then never be stopped at shutdown.
        if let Some((handle, rx)) = monitor {
            drop(handle);
            let (host, ctx, alerts) = (core.host.clone(), ctx.clone(), alerts.clone());
            let index = index.clone();
            let sink = log_sender.map(|logs| pipeline::LogSink {
                logs,
                visibility: config.visibility,
            });
            threads.push(
                std::thread::Builder::new()
                    .name("monitor-events".into())
                    .spawn(move || {
                        pipeline::run_monitor_events(rx, host, index, ctx, alerts, sink)
                    })?,
            );
        }
        {
            let (host, ctx, alerts) = (core.host.clone(), ctx.clone(), alerts.clone());
            let monitor_running = monitor_handle.is_some();
            threads.push(
                std::thread::Builder::new()
                    .name("enforcer-events".into())
                    .spawn(move || {
                        pipeline::run_enforcer_events(events_rx, host, ctx, alerts, monitor_running)
                    })?,
            );
        }
        drop(alerts);
        tracing::info!(
            policies = core.status().policies,
            host_rules = core.status().host_rules,
            "policies restored"
        );
        // Containers are enforced by BPF-LSM when it protects the host (and the container
        // has a cgroup v2 id), else by fanotify groups of their own.
        let mut containers = container_enforce::ContainerEnforcement::start(
            container_events,
            config.default_posture.file,
            config.enforcer == EnforcerChoice::MonitorOnly,
            container_lsm,
            index,
        );
        containers.set_policies(core.list().iter().map(|l| &l.stored.policy));
        release_free_memory();
        Ok(Agent {
            access,
            core,
            monitor: monitor_handle,
            threads,
            writer,
            log_writer,
            containers: Arc::new(Mutex::new(containers)),
            fanout,
            forwarders,
        })
    }
}

/// The telemetry store's writer (`logs.db`), with its own queue and thread, when the
/// configuration's visibility asks for logs; None (and no file) otherwise.
fn start_log_writer(
    config: &Config,
    fanout: &grpc::Fanout,
) -> anyhow::Result<Option<(AlertWriter, crate::alert::store::AlertSender)>> {
    let v = &config.visibility;
    if v.is_none() {
        return Ok(None);
    }
    if v.host.capabilities || v.containers.capabilities {
        tracing::warn!(
            "visibility: capabilities are accepted for KubeArmor's configurations, but the \
             eBPF monitor has no capability events: no Capabilities logs"
        );
    }
    let retention = Retention {
        max_age: Duration::from_secs(config.logs.max_age_days.saturating_mul(86_400)),
        max_rows: config.logs.max_rows,
    };
    let options = WriterOptions {
        capacity: LOG_QUEUE,
        ..WriterOptions::default()
    };
    let hook = config.grpc.enabled.then(|| fanout.hook(StoreKind::Logs));
    let started =
        AlertWriter::spawn_kind(&config.state_dir, StoreKind::Logs, retention, options, hook)?;
    tracing::info!(host = %v.host, containers = %v.containers, "telemetry logs recorded");
    Ok(Some(started))
}

/// A thread per configured forwarder, reading the store behind the writer (see
/// [`crate::forward`]); None without forwarders.
fn start_forwarders(
    config: &Config,
    writer: &AlertWriter,
    alerts: &crate::alert::store::AlertSender,
) -> anyhow::Result<Option<crate::forward::Forwarders>> {
    if config.forwarders.is_empty() {
        return Ok(None);
    }
    let stats = writer.stats_handle();
    let raise = alerts.clone();
    let ctx = crate::forward::Context {
        state_dir: config.state_dir.clone(),
        commits: Box::new(move || stats().batches),
        raise: Box::new(move |a| {
            raise.send(a);
        }),
        cluster_name: config.cluster_name.clone(),
        host_name: crate::identity::hostname(),
    };
    Ok(Some(crate::forward::Forwarders::start(
        &config.forwarders,
        ctx,
    )?))
}

/// The eBPF monitor, with exec events only: `follow_rules` switches families on as
/// policies need them, so an idle host pays nothing for file-open tracing. `None` when
/// this kernel refuses it (no Audit alerts from it then).
fn start_monitor() -> Option<(Arc<Monitor>, std::sync::mpsc::Receiver<MonitorEvent>)> {
    match Monitor::start_with_ring_size(
        MonitorConfig {
            exec: true,
            files: false,
            network: false,
            // Preallocated: every slot is resident memory. Beyond it, events are counted as dropped.
            channel_capacity: 16_384,
            ..MonitorConfig::default()
        },
        AGENT_RING_BYTES,
    ) {
        Ok((m, rx)) => Some((Arc::new(m), rx)),
        Err(e) => {
            tracing::warn!(error = %e, "eBPF monitor unavailable: no Audit alerts from it");
            None
        }
    }
}

/// Serves the API until SIGTERM or SIGINT; hands the core back, no request in flight.
fn serve(
    config: &Config,
    access: server::Access,
    core: core::Core,
    enforcement: container_enforce::Shared,
    fanout: grpc::Fanout,
    notifier: &notify::Notifier,
) -> anyhow::Result<core::Core> {
    use anyhow::Context;
    let core = Arc::new(Mutex::new(core));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        // gRPC first: once the socket answers, both APIs do.
        let ctx = containers::Containers {
            registry: Default::default(),
            enforcement,
        };
        let grpc = match config.grpc.enabled {
            true => {
                let l = grpc::bind(&config.grpc, &core, ctx.clone(), fanout)?;
                tracing::info!(address = %l.address(), tls = config.grpc.tls.is_some(), "KubeArmor gRPC API listening");
                Some(l.start()?)
            }
            false => None,
        };
        let listener = server::bind(&config.socket, &access)?;
        tracing::info!(socket = %config.socket.display(), "listening");
        // Ready only now: policies were enforced before the API opened, so a unit ordered
        // after knoxctl.service starts on a protected host.
        notifier.notify("READY=1");
        if let Some(every) = notifier.watchdog_interval() {
            tokio::spawn(watchdog(notifier.clone(), every, Arc::downgrade(&core)));
        }
        // Discovery starts with the API: the hook reports through it, and a container
        // the first list finds is then selected by policies already enforced.
        let sockets = config.container_sockets.clone().unwrap_or_else(|| {
            containers::DEFAULT_SOCKETS
                .iter()
                .map(PathBuf::from)
                .collect()
        });
        tokio::spawn(containers::run(ctx.clone(), sockets));
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
            ctx,
            access,
            shutdown,
        )
        .await;
        if let Some(g) = grpc {
            g.stop().await;
        }
        anyhow::Ok(())
    })?;
    tracing::info!("stopping");
    notifier.notify("STOPPING=1");
    Ok(Arc::try_unwrap(core)
        .ok()
        .expect("no request in flight after the server stopped")
        .into_inner()
        .expect("core lock"))
}

/// The enforcer answers what is pending and drops its event sender; the monitor stops;
/// then the pipeline threads see their queues close and the writer flushes the rest.
fn shutdown(
    mut core: core::Core,
    monitor: Option<Arc<Monitor>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    writer: AlertWriter,
    log_writer: Option<AlertWriter>,
) {
    core.shutdown();
    drop(core);
    if let Some(m) = monitor {
        match Arc::try_unwrap(m) {
            Ok(m) => m.stop(),
            Err(_) => tracing::warn!("monitor still shared at shutdown"),
        }
    }
    for t in threads {
        let _ = t.join();
    }
    let stats = writer.shutdown();
    tracing::info!(
        stored = stats.stored,
        dropped = stats.dropped,
        "alerts flushed"
    );
    if let Some(w) = log_writer {
        let stats = w.shutdown();
        tracing::info!(
            stored = stats.stored,
            dropped = stats.dropped,
            "logs flushed"
        );
    }
}

/// Pings systemd's watchdog while the event loop runs and the core can be taken. Ticks
/// come four times per timeout and a tick pings only when the core is free, so an agent
/// whose core stays locked (a deadlock, a wedged enforcer) for most of the timeout stops
/// pinging and is restarted; a poisoned core (a request panicked) never pings again.
/// It holds the core weakly: shutdown takes the core back once the server stops.
async fn watchdog(
    notifier: notify::Notifier,
    every: Duration,
    core: std::sync::Weak<Mutex<core::Core>>,
) {
    let mut tick = tokio::time::interval(every / 2);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(core) = core.upgrade() else { return };
        match core.try_lock() {
            Ok(_) => notifier.notify("WATCHDOG=1"),
            Err(std::sync::TryLockError::WouldBlock) => {}
            Err(std::sync::TryLockError::Poisoned(_)) => {
                tracing::error!("the agent core is poisoned: no more watchdog pings");
                return;
            }
        }
    }
}

/// The processes outside knoxctl's AppArmor profiles, as the monitor's filter of opens
/// asks about them: the enforcer's labels mapped to the monitor's [`Unreached`] (the
/// enforcer and the monitor do not know each other).
struct AppArmorUnreached;

impl AppArmorUnreached {
    fn why(label: Option<Label>) -> Option<Unreached> {
        match label? {
            Label::Unconfined => Some(Unreached::Unconfined),
            Label::Other(_) => Some(Unreached::OtherProfile),
            Label::Knoxctl => None,
        }
    }
}

impl crate::monitor::Unreachable for AppArmorUnreached {
    fn scan(&self) -> crate::monitor::UnreachedScan {
        unconfined::scan()
            .into_iter()
            .map(|(pid, label)| (pid, Self::why(label)))
            .collect()
    }

    fn after_exec(&self, tgid: u32) -> Option<Unreached> {
        Self::why(unconfined::after_exec(tgid))
    }
}

/// What the monitor must report for one rule set: which families, which syscalls.
#[derive(Clone, Debug, Default, PartialEq)]
struct Needs {
    exec: bool,
    /// Every open.
    files: bool,
    /// The opens of processes the enforcer does not reach (AppArmor: outside knoxctl's
    /// profiles), which `files` includes; alone, the monitor filters opens in the kernel.
    unreached_opens: bool,
    network: bool,
    syscalls: std::collections::BTreeSet<String>,
}

impl Needs {
    /// Opens are needed only for processes the enforcer does not reach: the monitor reports
    /// theirs alone ([`crate::monitor::Monitor::set_unreached`]), and every other process's
    /// open costs a map lookup, not an event.
    fn opens_of_unreached_only(&self) -> bool {
        self.unreached_opens && !self.files
    }

    fn of(rules: &core::HostRules) -> Needs {
        use crate::policy::normalize::Category;
        // Rules the enforcer reports itself (BPF-LSM sees every operation in the kernel;
        // a container's fanotify group reports its audits) need no monitor events:
        // tracing every open for them would only double the cost.
        let has = |c: Category| {
            rules
                .set
                .rules
                .iter()
                .enumerate()
                .any(|(i, r)| r.category == c && !rules.enforcer_reports.contains(&i))
        };
        // An audited program run as `ld.so PROGRAM` is never exec'd: only the loader's open
        // of it shows (see pipeline::monitor_alerts), so audited programs need open events too.
        let audited_programs = rules.set.rules.iter().enumerate().any(|(i, r)| {
            r.category == Category::Process
                && r.action == crate::policy::Action::Audit
                && !rules.enforcer_reports.contains(&i)
        });
        // With the executable always: fromSource needs it, and so do the alert's ProcessName
        // and Source when the caller has exited before its event is read (`unlink FILE` has).
        let mut syscalls: std::collections::BTreeSet<String> = rules
            .syscalls
            .names()
            .into_iter()
            .map(str::to_string)
            .collect();
        // Renames, links and unlinks of protected files cannot be refused without an LSM
        // hook: they are watched so that each one is at least an `Audit (Block)` alert.
        // Any file rule: an enforcer that holds it (fanotify) still cannot see these.
        if !rules.kernel_reports && rules.set.rules.iter().any(|r| r.category == Category::File) {
            syscalls.extend(pipeline::NAME_CHANGES.iter().map(|s| s.to_string()));
        }
        // File rules of an enforcer that does not reach every process (AppArmor: one
        // running since before the profile was loaded): an open they name that succeeded
        // is alerted (pipeline::unreached_block), so the monitor reports opens. Not execs:
        // AppArmor refuses a blocked program whatever its caller (an unconfined caller's
        // program runs in a profile that grants nothing, and is alerted from its records),
        // so exec events would cost every exec for nothing.
        let unreached_files =
            rules.unreached && rules.set.rules.iter().any(|r| r.category == Category::File);
        // fromSource on a rule the monitor judges: a process gone before its event is read
        // has no /proc/PID/exe, and its program is the one its exec event named (the
        // pipeline's exec map), so execs are needed even where no process rule asks for
        // them (BPF-LSM or AppArmor enforcing, a file Audit rule with fromSource).
        let sourced = rules.set.rules.iter().enumerate().any(|(i, r)| {
            r.category != Category::Syscall
                && !r.from_source.is_empty()
                && (rules.unreached || !rules.enforcer_reports.contains(&i))
        });
        Needs {
            exec: !rules.kernel_reports || has(Category::Process) || sourced,
            files: has(Category::File) || audited_programs,
            unreached_opens: unreached_files,
            network: has(Category::Network),
            syscalls,
        }
    }

    /// What the visibility settings need, whatever the rules: a family visible for the
    /// host or for containers is reported for every process (the pipeline sorts them).
    fn of_visibility(v: &config::Visibility) -> Needs {
        Needs {
            exec: v.host.process || v.containers.process,
            files: v.host.file || v.containers.file,
            unreached_opens: false,
            network: v.host.network || v.containers.network,
            syscalls: Default::default(),
        }
    }

    fn add(&mut self, other: &Needs) {
        self.exec |= other.exec;
        self.files |= other.files;
        self.unreached_opens |= other.unreached_opens;
        self.network |= other.network;
        self.syscalls.extend(other.syscalls.iter().cloned());
    }
}

/// Turns monitor families on, and traces syscalls, only when some rule needs what they
/// see (the host's rules and the rules of the containers policies select) or the
/// visibility settings ask for their events as logs.
struct Follower {
    /// Weak: the container index holds this follower, and the monitor-events thread holds
    /// the index until the monitor stops, which shutdown does only once it owns the monitor.
    monitor: std::sync::Weak<Monitor>,
    /// (host, containers); the monitor gets their union.
    needs: Mutex<(Needs, Needs)>,
    /// What the visibility settings need; constant (the configuration is read once).
    visibility: Needs,
}

impl Follower {
    fn new(monitor: &Arc<Monitor>, visibility: Needs) -> Follower {
        Follower {
            monitor: Arc::downgrade(monitor),
            needs: Mutex::new(Default::default()),
            visibility,
        }
    }

    /// A new host rule set; returns its syscall rules the monitor cannot audit, and why.
    fn host(&self, rules: &core::HostRules) -> Vec<(usize, String)> {
        let untraced = {
            let mut needs = self.needs.lock().unwrap_or_else(|p| p.into_inner());
            needs.0 = Needs::of(rules);
            self.switch(&needs.0, &needs.1)
        };
        let mut unaudited: std::collections::BTreeMap<usize, Vec<String>> = Default::default();
        for u in &untraced {
            tracing::warn!(syscall = %u.name, reason = %u.reason, "syscall not traced: its rules raise no alerts");
            for rule in rules.syscalls.rules_naming(&u.name) {
                unaudited
                    .entry(rule)
                    .or_default()
                    .push(format!("{}: {}", u.name, u.reason));
            }
        }
        unaudited
            .into_iter()
            .map(|(rule, why)| (rule, format!("not traced here: {}", why.join("; "))))
            .collect()
    }

    /// The containers' rule sets changed.
    fn containers(&self, sets: &[Arc<core::HostRules>]) {
        let mut union = Needs::default();
        for s in sets {
            union.add(&Needs::of(s));
        }
        let mut needs = self.needs.lock().unwrap_or_else(|p| p.into_inner());
        if needs.1 == union {
            return;
        }
        needs.1 = union;
        for u in self.switch(&needs.0, &needs.1) {
            tracing::warn!(syscall = %u.name, reason = %u.reason, "syscall not traced: container rules naming it raise no alerts");
        }
    }

    fn switch(&self, host: &Needs, containers: &Needs) -> Vec<Untraced> {
        let Some(monitor) = self.monitor.upgrade() else {
            return Vec::new(); // shutting down
        };
        let mut all = host.clone();
        all.add(containers);
        all.add(&self.visibility);
        let files = all.files || all.unreached_opens;
        if let Err(e) = monitor.set_families(all.exec, files, all.network) {
            tracing::warn!(error = %e, "cannot switch monitor families");
        }
        let filter = all
            .opens_of_unreached_only()
            .then(|| Arc::new(AppArmorUnreached) as Arc<dyn crate::monitor::Unreachable>);
        if let Err(e) = monitor.set_unreached(filter) {
            tracing::warn!(error = %e, "cannot filter the monitor's opens; every open is reported");
        }
        let watch: Vec<SyscallWatch> = all
            .syscalls
            .iter()
            .map(|name| SyscallWatch {
                name: name.clone(),
                exe: true,
            })
            .collect();
        match monitor.set_syscalls(&watch) {
            Ok(untraced) => untraced,
            Err(e) => {
                tracing::warn!(error = %e, "cannot switch the monitor's syscalls");
                watch
                    .iter()
                    .map(|w| Untraced {
                        name: w.name.clone(),
                        reason: e.to_string(),
                    })
                    .collect()
            }
        }
    }
}

/// Loading BPF objects parses the kernel's BTF and an apply validates whole files: megabytes
/// that are freed right after. Giving free heap back keeps the resident set at what the
/// agent really holds.
pub fn release_free_memory() {
    // SAFETY: malloc_trim only releases memory that is already free.
    unsafe { libc::malloc_trim(0) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enforce::ApplyReport;
    use crate::policy::matcher::Posture;
    use crate::policy::normalize::RuleSet;

    fn host_rules(yaml: &str, enforced: Vec<usize>, kernel_reports: bool) -> core::HostRules {
        let r =
            crate::policy::validate::validate_bytes("p.yaml", yaml.as_bytes(), Default::default());
        let policies: Vec<_> = r.policies().map(|p| p.clone().defaulted()).collect();
        assert!(!policies.is_empty(), "{yaml}");
        let report = ApplyReport {
            enforced,
            ..Default::default()
        };
        core::HostRules::for_container(
            RuleSet::from_policies(&policies),
            report,
            Posture::Audit,
            kernel_reports,
        )
    }

    const HOSTS_FROM_CAT: &str = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: p}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n  file:\n    matchPaths:\n    - path: /etc/hosts\n      fromSource: [{path: /usr/bin/cat}]\n  action: Audit\n";
    const HOSTS: &str = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: p}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n  file:\n    matchPaths:\n    - path: /etc/hosts\n  action: Block\n";

    /// A file Audit rule with fromSource under an enforcer that reports from the kernel
    /// (BPF-LSM, AppArmor) still needs exec events: a `cat` gone before its open is read
    /// is known by its exec (the AppArmor VM suite's hosts-fromsource-audit).
    #[test]
    fn from_source_on_a_monitored_rule_needs_exec_events() {
        let n = Needs::of(&host_rules(HOSTS_FROM_CAT, vec![], true));
        assert!(n.files && n.exec, "{n:?}");
        // The enforcer reports the rule itself: neither family.
        let n = Needs::of(&host_rules(HOSTS_FROM_CAT, vec![0], true));
        assert!(!n.files && !n.exec, "{n:?}");
    }

    /// AppArmor's file rules still need the monitor's opens: a process running since
    /// before the profile was loaded is not refused, and its opens are alerted. Its execs
    /// are not needed (AppArmor refuses a blocked program whatever the caller).
    #[test]
    fn rules_of_an_enforcer_that_does_not_reach_every_process_are_watched() {
        let mut rules = host_rules(HOSTS, vec![0], true);
        assert!(!Needs::of(&rules).files);
        rules.unreached = true;
        let n = Needs::of(&rules);
        assert!(n.unreached_opens && !n.files && !n.exec, "{n:?}");
    }

    /// Opens are filtered in the kernel (only those of processes outside knoxctl's
    /// profiles) when nothing else needs every open: not with an Audit file rule the
    /// monitor judges, nor with file visibility, nor with a container's file rule.
    #[test]
    fn opens_are_filtered_only_when_unreached_processes_alone_need_them() {
        let mut rules = host_rules(HOSTS, vec![0], true);
        rules.unreached = true;
        let only = Needs::of(&rules);
        assert!(only.opens_of_unreached_only(), "{only:?}");

        // An Audit file rule the enforcer does not report: every open.
        let mut audit = host_rules(HOSTS_FROM_CAT, vec![], true);
        audit.unreached = true;
        let mut all = only.clone();
        all.add(&Needs::of(&audit));
        assert!(all.files && !all.opens_of_unreached_only(), "{all:?}");

        // File visibility: every open.
        let mut visible = config::Visibility::default();
        visible.host.file = true;
        let mut all = only.clone();
        all.add(&Needs::of_visibility(&visible));
        assert!(!all.opens_of_unreached_only(), "{all:?}");

        // A container's file rule the monitor judges (no unreached flag there).
        let mut all = only.clone();
        all.add(&Needs::of(&host_rules(HOSTS, vec![], false)));
        assert!(!all.opens_of_unreached_only(), "{all:?}");

        // No rule at all: no opens.
        assert!(!Needs::default().opens_of_unreached_only());
    }
}
