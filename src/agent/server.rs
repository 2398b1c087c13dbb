//! The API socket: listening, authorizing each peer by its kernel-reported credentials,
//! handing requests to the core one at a time, and turning the core's domain outcomes into
//! the wire's responses (the prose a client prints included).

use super::api::{self, ApplyResult, MAX_REQUEST_BYTES, PolicySummary, Request, Response, Status};
use super::core::{
    Applied, Core, CoreStatus, Cover, Deleted, Effect, HostEffect, Listed, Miss, NotSelected,
    Refused,
};
use super::{container_enforce, containers};
use crate::enforce::Backend;
use crate::policy::id::ResolveError;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("another knoxctl agent is already listening on {0}")]
    InUse(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("API group '{0}' does not exist")]
    NoSuchGroup(String),
}

/// Who may use the API: root, and members of `group` when one is configured.
#[derive(Clone, Debug)]
pub struct Access {
    pub gid: Option<u32>,
}

impl Access {
    pub fn for_group(name: Option<&str>) -> Result<Access, ServerError> {
        let Some(name) = name else {
            return Ok(Access { gid: None });
        };
        let gid = group_gid(name).ok_or_else(|| ServerError::NoSuchGroup(name.to_string()))?;
        Ok(Access { gid: Some(gid) })
    }

    fn allows(&self, uid: u32, gid: u32, pid: Option<i32>) -> bool {
        if uid == 0 {
            return true;
        }
        let Some(want) = self.gid else { return false };
        gid == want || pid.is_some_and(|p| supplementary_groups(p).contains(&want))
    }
}

fn group_gid(name: &str) -> Option<u32> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then(|| f.nth(1)?.parse().ok())?
    })
}

fn supplementary_groups(pid: i32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Groups:")).map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .filter_map(|g| g.parse().ok())
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// Binds the socket: refuses if a live agent answers there, replaces a stale file, and
/// restricts the file to root (and the API group).
pub fn bind(path: &Path, access: &Access) -> Result<UnixListener, ServerError> {
    let name = path.display().to_string();
    let io = |source| ServerError::Io {
        path: name.clone(),
        source,
    };
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(ServerError::InUse(name));
        }
        std::fs::remove_file(path).map_err(io)?;
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    let mode = if access.gid.is_some() { 0o660 } else { 0o600 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io)?;
    if let Some(gid) = access.gid {
        std::os::unix::fs::chown(path, Some(0), Some(gid)).map_err(io)?;
    }
    Ok(listener)
}

async fn read_request(stream: &mut UnixStream) -> Result<Request, Response> {
    let mut reader = BufReader::new(stream).take(MAX_REQUEST_BYTES as u64 + 1);
    let mut line = String::new();
    match reader.read_line(&mut line).await {
        Ok(n) if n > MAX_REQUEST_BYTES => Err(Response::error("bad-request", "request too large")),
        Ok(_) => serde_json::from_str(&line)
            .map_err(|e| Response::error("bad-request", format!("malformed request: {e}"))),
        Err(e) => Err(Response::error(
            "bad-request",
            format!("cannot read the request: {e}"),
        )),
    }
}

async fn serve_one(
    mut stream: UnixStream,
    core: Arc<Mutex<Core>>,
    containers: containers::Containers,
    access: Access,
) {
    let response = match stream.peer_cred() {
        Ok(cred) if access.allows(cred.uid(), cred.gid(), cred.pid()) => {
            match read_request(&mut stream).await {
                Ok(request) => {
                    let core = core.clone();
                    tokio::task::spawn_blocking(move || handle(&core, &containers, request))
                        .await
                        .unwrap_or_else(|e| {
                            Response::error("failed", format!("internal error: {e}"))
                        })
                }
                Err(r) => r,
            }
        }
        Ok(cred) => {
            tracing::warn!(uid = cred.uid(), pid = ?cred.pid(), "refused API access");
            Response::error(
                "forbidden",
                format!(
                    "uid {} may not use the knoxctl API: it is for root{}",
                    cred.uid(),
                    if access.gid.is_some() {
                        " and the configured API group"
                    } else {
                        ""
                    }
                ),
            )
        }
        Err(e) => Response::error("forbidden", format!("cannot read peer credentials: {e}")),
    };
    let mut line = serde_json::to_vec(&response).expect("response serializes");
    line.push(b'\n');
    let _ = stream.write_all(&line).await;
}

/// Answers one request (blocking): what the socket and the gRPC API's policy calls share.
pub fn handle(
    core: &Mutex<Core>,
    containers: &containers::Containers,
    request: Request,
) -> Response {
    match request {
        Request::Containers => list_containers(core, containers),
        // Never behind the core's lock: the runtime waits for this answer before the
        // container's entrypoint runs, and an apply may hold the core for seconds.
        Request::OciHook { state } => Response::Hooked {
            registered: containers::register_hook(containers, &state).is_some(),
        },
        request => {
            let changes = matches!(request, Request::Apply { .. } | Request::Delete { .. });
            let mut core = core.lock().expect("core lock");
            let mut response = answer(&mut core, request);
            if changes {
                // Containers follow the policies before the caller hears back.
                let enforcement = &containers.enforcement;
                container_enforce::lock(enforcement)
                    .set_policies(core.list().iter().map(|l| &l.stored.policy));
                drop(core);
                containers.sync();
                if let Response::Applied { results, .. } = &mut response {
                    let e = container_enforce::lock(enforcement);
                    for r in results
                        .iter_mut()
                        .filter(|r| r.kind != "KubeArmorHostPolicy")
                    {
                        r.effect = e.effect(&r.id);
                    }
                }
            }
            response
        }
    }
}

/// Hands one request to the core and phrases its outcome for the wire.
pub fn answer(core: &mut Core, request: Request) -> Response {
    match request {
        Request::Apply {
            files,
            skip_other_kinds,
        } => {
            let r = core.apply(files, false, skip_other_kinds);
            super::release_free_memory();
            r.map_or_else(refusal, applied)
        }
        Request::DryRunApply {
            files,
            skip_other_kinds,
        } => {
            let r = core.apply(files, true, skip_other_kinds);
            super::release_free_memory();
            r.map_or_else(refusal, applied)
        }
        Request::Delete { names, files, all } => core
            .delete(names, files, all, false)
            .map_or_else(refusal, deleted),
        Request::DryRunDelete { names, files, all } => core
            .delete(names, files, all, true)
            .map_or_else(refusal, deleted),
        Request::List => Response::Policies {
            items: core.list().into_iter().map(summary).collect(),
        },
        Request::Get { name } => match core.get(&name) {
            Ok(policy) => Response::Policy {
                policy: serde_json::to_value(policy).expect("policy serializes"),
            },
            Err(r) => refusal(r),
        },
        Request::Status => Response::Status {
            status: status(core.status()),
        },
        Request::Containers | Request::OciHook { .. } => Response::error(
            "bad-request",
            "container requests are served outside the core",
        ),
    }
}

/// The registry's containers, each with the applied policies that select it.
fn list_containers(core: &Mutex<Core>, containers: &containers::Containers) -> Response {
    let policies: Vec<(String, crate::policy::Policy)> = {
        let core = core.lock().expect("core lock");
        core.list()
            .into_iter()
            .map(|l| &l.stored.policy)
            .filter(|p| p.kind != crate::policy::Kind::KubeArmorHostPolicy)
            .map(|p| (p.id().to_string(), p.clone()))
            .collect()
    };
    let known = containers
        .registry
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .list();
    let enforcement = container_enforce::lock(&containers.enforcement);
    let items = known
        .into_iter()
        .map(|c| api::ContainerItem {
            enforcement: enforcement.state(&c.id),
            policies: policies
                .iter()
                .filter(|(_, p)| crate::container::select::selects(p, &c))
                .map(|(id, _)| id.clone())
                .collect(),
            container: c,
        })
        .collect();
    Response::Containers { items }
}

fn refusal(r: Refused) -> Response {
    match r {
        Refused::Invalid(diagnostics) => Response::Invalid { diagnostics },
        Refused::BadRequest(message) => Response::error("bad-request", message),
        Refused::Unresolved(e) => Response::error(unresolved_code(&e), e.to_string()),
        Refused::Commit(e) => Response::error("failed", e.to_string()),
    }
}

/// `not-found` is what `--ignore-not-found` forgives; an ambiguous or malformed reference
/// is not.
fn unresolved_code(e: &ResolveError) -> &'static str {
    match e {
        ResolveError::NotFound(_) => "not-found",
        _ => "bad-request",
    }
}

fn applied(a: Applied) -> Response {
    let results = a
        .results
        .into_iter()
        .map(|r| ApplyResult {
            kind: r.kind.as_str().to_string(),
            name: r.key,
            id: r.id.to_string(),
            outcome: r.change.as_str().to_string(),
            effect: r.effect.as_ref().map(effect).unwrap_or_default(),
        })
        .collect();
    Response::Applied {
        results,
        warnings: a.warnings,
    }
}

fn deleted(d: Deleted) -> Response {
    let failed = d
        .failed
        .into_iter()
        .map(|f| match f.miss {
            Miss::Unresolved(e) => api::NotDeleted {
                code: unresolved_code(&e).to_string(),
                message: e.to_string(),
                reference: f.reference,
            },
            Miss::NotApplied { source } => api::NotDeleted {
                code: "not-found".into(),
                message: format!("{} (from {source}) is not applied", f.reference),
                reference: f.reference,
            },
        })
        .collect();
    Response::Deleted {
        names: d.ids.iter().map(|i| i.to_string()).collect(),
        failed,
    }
}

fn summary(l: Listed) -> PolicySummary {
    let p = &l.stored.policy;
    PolicySummary {
        kind: p.kind.as_str().to_string(),
        name: p.key(),
        id: p.id().to_string(),
        action: p
            .spec
            .info
            .action
            .map(|a| a.to_string())
            .unwrap_or_else(|| "Block".into()),
        rules: l.rules,
        applies_here: l.applies_here,
        applied_at: l.stored.applied_at,
        source: l.stored.source.clone(),
    }
}

/// A policy's effect as `policy apply` prints it.
fn effect(e: &Effect) -> String {
    match e {
        Effect::Host(h) => host_effect(h),
        Effect::OtherHosts(n) => not_selected(n),
        // A dry run: no container is given anything (a real apply says which ones).
        Effect::Containers => "for the containers it selects (knoxctl containers)".to_string(),
    }
}

fn host_effect(h: &HostEffect) -> String {
    let (observed, unprotected) = (h.observed, h.unprotected);
    // Raw AppArmor rules go into profiles, which only the AppArmor backend loads (the
    // warning at the policy's spec.apparmor says the same).
    let raw_ignored = h.raw_apparmor && h.backend != Backend::Apparmor;
    if raw_ignored && h.rules == 0 && h.syscall_rules == 0 {
        return format!(
            "not enforced on this host: its only rules are spec.apparmor raw AppArmor rules, which the agent's enforcer ({}) does not load (only the AppArmor enforcer does)",
            h.backend
        );
    }
    let mut enforced = match observed + unprotected {
        0 => format!("enforced on this host ({})", h.backend),
        _ => format!("on this host ({})", h.backend),
    };
    if raw_ignored {
        enforced.push_str(&format!(
            "; its spec.apparmor raw AppArmor rules are not enforced here ({} does not load them)",
            h.backend
        ));
    }
    if observed > 0 {
        enforced.push_str(&format!(
            "; {observed} rule(s) observed only (alerted, not blocked)"
        ));
    }
    if unprotected > 0 {
        enforced.push_str(&format!(
            "; {unprotected} rule(s) neither blocked nor alerted"
        ));
    }
    if observed + unprotected > 0 {
        enforced.push_str(", see `knoxctl probe`");
    }
    let syscalls = h.syscall_rules;
    let audited = match h.unaudited {
        0 => format!("{syscalls} syscall rule(s) audited by the eBPF monitor"),
        n => format!("{n} of {syscalls} syscall rule(s) raise no alerts here, see `knoxctl probe`"),
    };
    match (h.rules, syscalls) {
        (_, 0) => enforced,
        (0, _) if h.unaudited == 0 => format!("audited on this host: {audited}"),
        (0, _) => format!("on this host; {audited}"),
        _ => format!("{enforced}; {audited}"),
    }
}

fn not_selected(n: &NotSelected) -> String {
    let shown: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut msg = format!(
        "stored; its nodeSelector does not select this host ({}; labels: {})",
        n.hostname,
        shown.join(", ")
    );
    for (key, close) in &n.hints {
        msg.push_str(&format!("; label '{key}': did you mean '{close}'?"));
    }
    msg
}

fn status(s: CoreStatus) -> Status {
    let describe = |n: &super::core::RuleNote| {
        let r = &n.rule;
        format!("{} {} ({}): {}", r.category, r.matcher, r.policy, n.why)
    };
    let covered = |cover: Cover| -> Vec<String> {
        s.skipped
            .iter()
            .filter(|(_, c)| *c == cover)
            .map(|(n, _)| describe(n))
            .collect()
    };
    let c = &s.counters;
    Status {
        version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        hostname: s.hostname.clone(),
        enforcer: s.backend.to_string(),
        enforcer_reason: s.enforcer_reason.clone(),
        policies: s.policies,
        host_rules: s.host_rules,
        unenforceable: covered(Cover::Observed),
        unprotected: covered(Cover::Unprotected),
        unaudited: s.unaudited.iter().map(describe).collect(),
        alerts_stored: c.alerts_stored,
        alerts_folded: c.alerts_folded,
        alerts_dropped: c.alerts_dropped,
        logs_stored: c.logs_stored,
        logs_dropped: c.logs_dropped,
        enforcer_events_dropped: s.enforcer_events_dropped,
        monitor_received: c.monitor_received,
        monitor_lost_in_kernel: c.monitor_lost_in_kernel,
        monitor_dropped_in_userspace: c.monitor_dropped_in_userspace,
        grpc: super::grpc::status(),
        forwarders: c.forwarders.clone(),
    }
}

/// Serves until `shutdown` resolves; removes the socket file on the way out.
pub async fn serve(
    listener: UnixListener,
    path: PathBuf,
    core: Arc<Mutex<Core>>,
    containers: containers::Containers,
    access: Access,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve_one(stream, core.clone(), containers.clone(), access.clone()));
                }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
            _ = &mut shutdown => break,
        }
    }
    let _ = std::fs::remove_file(&path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_rules() {
        let root_only = Access { gid: None };
        assert!(root_only.allows(0, 0, None));
        assert!(!root_only.allows(1000, 1000, None));
        let group = Access { gid: Some(4242) };
        assert!(group.allows(1000, 4242, None));
        assert!(!group.allows(1000, 1000, None));
        assert_eq!(group_gid("root"), Some(0));
        assert_eq!(group_gid("no-such-group-knoxctl"), None);
    }

    /// Raw AppArmor rules are enforced by the AppArmor backend only: a policy of nothing
    /// else is not "enforced" under another one, and one with other rules says which part
    /// is not.
    #[test]
    fn raw_apparmor_rules_are_enforced_only_under_apparmor() {
        let effect = |backend, rules, raw_apparmor| {
            host_effect(&HostEffect {
                backend,
                rules,
                syscall_rules: 0,
                observed: 0,
                unprotected: 0,
                unaudited: 0,
                raw_apparmor,
            })
        };
        for backend in [Backend::Fanotify, Backend::BpfLsm, Backend::MonitorOnly] {
            let raw_only = effect(backend, 0, true);
            assert!(
                raw_only.starts_with("not enforced on this host: its only rules are spec.apparmor"),
                "{raw_only}"
            );
            assert!(raw_only.contains(&format!("({backend})")), "{raw_only}");
            let mixed = effect(backend, 2, true);
            assert_eq!(
                mixed,
                format!(
                    "enforced on this host ({backend}); its spec.apparmor raw AppArmor rules are not enforced here ({backend} does not load them)"
                )
            );
        }
        assert_eq!(
            effect(Backend::Apparmor, 0, true),
            "enforced on this host (apparmor)"
        );
        assert_eq!(
            effect(Backend::Fanotify, 1, false),
            "enforced on this host (fanotify)"
        );
    }
}
