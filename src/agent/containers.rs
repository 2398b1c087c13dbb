//! Container discovery, always on (KubeArmor watches one runtime chosen at start and gives
//! up for good when none is there yet, #2329): every few seconds the agent looks for
//! Docker-API sockets (docker's, podman's service) and follows each that answers — a list,
//! then the event stream from just before the list, and a re-list every 10 s that catches
//! what an event did not say (podman 4.3 sends no rename event) — scans /proc every 10 s for
//! containers no runtime reported (their cgroup path gives the id), and drops entries whose
//! process is gone. Podman's OCI hook (`knoxctl oci-hook`) reports through the API socket
//! instead, before a container's entrypoint runs ([`register_hook`]).

use super::container_enforce;
use crate::container::docker::{self, Client};
use crate::container::registry::{self, Registry};
use crate::container::{self, Container, hook};
use crate::kernel::clock::now_epoch;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often sockets are probed (a stat of a few paths: a runtime started later is
/// followed within this).
pub const PROBE_EVERY: Duration = Duration::from_secs(2);

/// How often an engine is listed again and /proc is scanned. Both are fallbacks (events
/// and the OCI hook say the rest at once), and an idle agent must stay near 0 % of a core:
/// a list costs the engine a request and a scan reads every process's cgroup.
pub const RESCAN_EVERY: Duration = Duration::from_secs(10);

/// Where docker and podman listen by default; `*` is any directory (rootless podman's
/// `/run/user/<uid>`).
pub const DEFAULT_SOCKETS: &[&str] = &[
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/podman/podman.sock",
    "/run/user/*/podman/podman.sock",
];

pub type Shared = Arc<Mutex<Registry>>;

/// What discovery and the API share: the registry and the enforcement that follows it.
#[derive(Clone)]
pub struct Containers {
    pub registry: Shared,
    pub enforcement: container_enforce::Shared,
}

impl Containers {
    /// Gives the registered containers the rules that select them now (blocking: an apply
    /// walks the container's files and adds marks).
    pub fn sync(&self) {
        let mut enforcement = container_enforce::lock(&self.enforcement);
        let list = lock(&self.registry).list();
        enforcement.sync(&list);
    }

    /// [`Containers::sync`] off the async runtime's thread.
    async fn sync_async(&self) {
        let me = self.clone();
        let _ = tokio::task::spawn_blocking(move || me.sync()).await;
    }
}

fn lock(r: &Shared) -> std::sync::MutexGuard<'_, Registry> {
    // A panic while holding the registry leaves a consistent map: keep using it.
    r.lock().unwrap_or_else(|p| p.into_inner())
}

/// The existing sockets `patterns` name, each once (`/var/run` is usually `/run`).
fn candidates(patterns: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = BTreeSet::new();
    for p in patterns {
        let s = p.display().to_string();
        let paths: Vec<PathBuf> = match s.split_once("/*/") {
            Some((dir, rest)) => std::fs::read_dir(dir)
                .map(|d| d.flatten().map(|e| e.path().join(rest)).collect())
                .unwrap_or_default(),
            None => vec![p.clone()],
        };
        for path in paths {
            if let Ok(real) = path.canonicalize() {
                out.insert(real);
            }
        }
    }
    out.into_iter().collect()
}

fn runtime_of(socket: &Path) -> &'static str {
    if socket.display().to_string().contains("podman") {
        "podman"
    } else {
        "docker"
    }
}

/// Runs discovery until the agent stops; containers get their rules as they come and go.
pub async fn run(ctx: Containers, sockets: Vec<PathBuf>) {
    let registry = ctx.registry.clone();
    let cgroup2 = container::cgroup2_mount();
    let mut watching: BTreeMap<PathBuf, tokio::task::JoinHandle<()>> = BTreeMap::new();
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_scan: Option<std::time::Instant> = None;
    loop {
        tick.tick().await;
        watching.retain(|_, h| !h.is_finished());
        for socket in candidates(&sockets) {
            if let std::collections::btree_map::Entry::Vacant(slot) = watching.entry(socket) {
                let (c, s, cg) = (ctx.clone(), slot.key().clone(), cgroup2.clone());
                slot.insert(tokio::spawn(watch(c, s, cg)));
            }
        }
        // A container the hook registered before its runtime exec'd the entrypoint in its
        // AppArmor profile: its backend is chosen again once it runs there.
        let labels = {
            let e = container_enforce::lock(&ctx.enforcement);
            e.labels_changed()
        };
        if labels {
            ctx.sync_async().await;
        }
        if last_scan.is_some_and(|t| t.elapsed() < RESCAN_EVERY) {
            continue;
        }
        last_scan = Some(std::time::Instant::now());
        let (r, cg) = (registry.clone(), cgroup2.clone());
        let _ = tokio::task::spawn_blocking(move || scan(&r, cg.as_deref())).await;
        // What the scan pruned or found, and what a re-list changed meanwhile.
        ctx.sync_async().await;
    }
}

/// Registers `id` as the engine at `client` describes it now, if it runs.
async fn refresh(registry: &Shared, client: &Client, id: &str, cgroup2: Option<&Path>) {
    let source = registry::api_source(&client.socket);
    match client.inspect(id).await {
        Ok(Some(i)) if i.running && i.pid != 0 => {
            let mut c = i.into_container(runtime_of(&client.socket));
            c.read_proc(cgroup2);
            if !c.verified {
                tracing::warn!(id = %c.id, pid = c.pid, "the runtime's pid is not in this container's cgroup: namespaces unknown");
            }
            let mut r = lock(registry);
            if r.get(&c.id).is_none() {
                tracing::info!(id = %c.short_id(), name = %c.name, source = %source, "container registered");
            }
            r.upsert(c, &source);
        }
        Ok(_) => {}
        Err(e) => tracing::debug!(error = %e, "inspect failed"),
    }
}

/// Lists, then re-lists each round while the event stream runs; returns when the engine
/// goes away (the next probe starts again).
async fn watch(ctx: Containers, socket: PathBuf, cgroup2: Option<PathBuf>) {
    let registry = ctx.registry.clone();
    let client = Client::new(&socket);
    if !client.ping().await {
        return;
    }
    tracing::info!(socket = %socket.display(), "following container events");
    let since = now_epoch() - 1;
    if relist(&registry, &client, cgroup2.as_deref())
        .await
        .is_err()
    {
        return;
    }
    ctx.sync_async().await;
    let mut events = match client.events(since).await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "cannot follow container events");
            return;
        }
    };
    let mut every =
        tokio::time::interval_at(tokio::time::Instant::now() + RESCAN_EVERY, RESCAN_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            next = events.next_json() => match next {
                Ok(Some(v)) => {
                    let Some((id, action)) = docker::event_of(&v) else { continue };
                    if docker::ends(&action) {
                        if lock(&registry).remove(&id).is_some() {
                            tracing::info!(id = %&id[..id.len().min(12)], %action, "container gone");
                        }
                    } else {
                        refresh(&registry, &client, &id, cgroup2.as_deref()).await;
                    }
                    ctx.sync_async().await;
                }
                Ok(None) | Err(_) => break,
            },
            _ = every.tick() => {
                if relist(&registry, &client, cgroup2.as_deref()).await.is_err() {
                    break;
                }
                ctx.sync_async().await;
            }
        }
    }
    // The engine stopped, its containers may run on: their entries stay until their
    // processes are gone (`scan` prunes them) or the engine lists them again.
    tracing::info!(socket = %socket.display(), "container events ended");
}

/// Lists the running containers: new ones and changed names or labels are (re)inspected,
/// those this source reported and that no longer run are dropped.
async fn relist(
    registry: &Shared,
    client: &Client,
    cgroup2: Option<&Path>,
) -> Result<(), docker::DockerError> {
    let source = registry::api_source(&client.socket);
    let mark = lock(registry).seq();
    let listed = client.list().await?;
    for l in &listed {
        let stale = lock(registry).get(&l.id).is_none_or(|c| {
            c.name != l.name || c.labels != l.labels || !c.sources.contains(&source)
        });
        if stale {
            refresh(registry, client, &l.id, cgroup2).await;
        }
    }
    let running: BTreeSet<String> = listed.into_iter().map(|l| l.id).collect();
    for id in lock(registry).reconcile(&source, &running, mark) {
        tracing::info!(id = %&id[..id.len().min(12)], "container no longer listed");
    }
    Ok(())
}

/// Whether `c`'s process still exists and, when its id was verified, is still in its
/// cgroup (a pid reused by another process is not the container).
fn alive(c: &Container) -> bool {
    match std::fs::read_to_string(format!("/proc/{}/cgroup", c.pid)) {
        Err(_) => false,
        Ok(_) if !c.verified => true,
        Ok(text) => {
            container::cgroup::container_of_proc_cgroup(&text).is_some_and(|m| m.id == c.id)
        }
    }
}

/// One /proc round: id-only entries for containers no runtime reported, and no entry
/// whose process is gone.
fn scan(registry: &Shared, cgroup2: Option<&Path>) {
    let found = container::scan_proc();
    let unknown: Vec<(String, u32, &'static str)> = lock(registry)
        .unknown(&found)
        .into_iter()
        .map(|(id, pid, rt)| (id.clone(), pid, rt))
        .collect();
    for (id, pid, runtime) in unknown {
        let mut c = Container {
            name: id[..id.len().min(12)].to_string(),
            id,
            runtime: runtime.to_string(),
            pid,
            ..Container::default()
        };
        c.read_proc(cgroup2);
        let mut r = lock(registry);
        // A runtime may have reported it meanwhile: its entry is richer.
        if r.get(&c.id).is_none() {
            tracing::info!(id = %c.short_id(), runtime, "container found by its cgroup");
            r.upsert(c, registry::SOURCE_SCAN);
        }
    }
    let mut r = lock(registry);
    r.scanned(&found);
    for id in r.prune(alive) {
        tracing::info!(id = %&id[..id.len().min(12)], "container process gone");
    }
}

/// What an OCI hook reported: at `createRuntime` the container is registered, and its
/// rules enforced, before its entrypoint runs; at `poststop` it is forgotten.
pub fn register_hook(ctx: &Containers, state: &hook::State) -> Option<Container> {
    let registered = register(&ctx.registry, state);
    // The runtime waits for this answer (the hook's budget is 2 s): only this container.
    // The list is read under the enforcement lock, so a sync that ran meanwhile cannot be
    // undone with an older list.
    let mut enforcement = container_enforce::lock(&ctx.enforcement);
    let list = lock(&ctx.registry).list();
    enforcement.sync_one(&list, &state.id);
    registered
}

fn register(registry: &Shared, state: &hook::State) -> Option<Container> {
    if state.stopped() {
        if lock(registry).remove(&state.id).is_some() {
            tracing::info!(id = %&state.id[..state.id.len().min(12)], "container stopped (hook)");
        }
        return None;
    }
    let mut c = hook::container_of(state, Path::new(hook::PODMAN_STORAGE));
    c.read_proc(container::cgroup2_mount().as_deref());
    if !c.verified {
        tracing::warn!(id = %c.short_id(), pid = c.pid, "hook: the pid is not in the container's cgroup");
    }
    tracing::info!(id = %c.short_id(), name = %c.name, "container registered (hook)");
    let mut r = lock(registry);
    r.upsert(c.clone(), registry::SOURCE_HOOK);
    r.get(&c.id).cloned()
}
