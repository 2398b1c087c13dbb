//! The agent's local API: one JSON request and one JSON response per connection, each a
//! single line, over a Unix socket that only root (or the configured group) may use. The
//! server checks the peer's credentials (SO_PEERCRED), not only the socket's file mode.

use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Requests larger than this are refused (a policy bundle is at most a few MiB).
pub const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// A policy file as the client read it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SourceFile {
    pub path: String,
    pub content: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Request {
    /// Validate and apply every document of every file, or nothing.
    Apply {
        files: Vec<SourceFile>,
        /// Skip documents of other APIs instead of refusing (`--skip-other-kinds`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        skip_other_kinds: bool,
    },
    /// What `Apply` would do (each outcome), changing nothing. An op of its own rather than a
    /// flag on `Apply`: an agent that predates it refuses the request instead of ignoring the
    /// flag and applying.
    DryRunApply {
        files: Vec<SourceFile>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        skip_other_kinds: bool,
    },
    /// Delete by reference (see [`crate::policy::id::Reference`]), by the policies the files
    /// define, or all. What exists is deleted; each reference that names nothing (or more
    /// than one policy) is reported in `Deleted::failed`.
    Delete {
        names: Vec<String>,
        files: Vec<SourceFile>,
        #[serde(default)]
        all: bool,
    },
    /// What `Delete` would do, changing nothing (an op of its own, as `DryRunApply`).
    DryRunDelete {
        names: Vec<String>,
        files: Vec<SourceFile>,
        #[serde(default)]
        all: bool,
    },
    List,
    /// One policy by reference (see [`crate::policy::id::Reference`]).
    Get {
        name: String,
    },
    Status,
    /// The containers the agent knows, and the applied policies that select each.
    Containers,
    /// The OCI runtime state a `knoxctl oci-hook` read: a container being created is
    /// registered before the answer (its entrypoint has not run yet), a stopped one is
    /// forgotten.
    OciHook {
        state: crate::container::hook::State,
    },
}

/// A container as `knoxctl containers` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerItem {
    #[serde(flatten)]
    pub container: crate::container::Container,
    /// The ids (`kubearmorpolicy/NS/NAME`) of the applied policies that select it.
    pub policies: Vec<String>,
    /// How their rules are enforced in it; absent when no policy selects it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<crate::agent::container_enforce::Enforcement>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyResult {
    pub kind: String,
    /// `namespace/name` or `name` (what versions before `id` printed).
    pub name: String,
    /// `kind/name` or `kind/namespace/name`: what to print, and what `get` and `delete` take.
    #[serde(default)]
    pub id: String,
    /// created, configured, unchanged.
    pub outcome: String,
    /// Where it takes effect here: `enforced on this host (fanotify)`, `selects another
    /// host`, `enforced in 1 container (ubuntu) by fanotify`.
    pub effect: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySummary {
    pub kind: String,
    /// `namespace/name` or `name` (what versions before `id` printed).
    pub name: String,
    /// `kind/name` or `kind/namespace/name`: what `get` and `delete` take.
    #[serde(default)]
    pub id: String,
    pub action: String,
    pub rules: usize,
    pub applies_here: bool,
    pub applied_at: i64,
    pub source: String,
}

/// A delete reference that named no single applied policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotDeleted {
    /// As the user gave it, or the id a file defines.
    pub reference: String,
    /// `not-found` (what `--ignore-not-found` forgives) or `bad-request` (ambiguous or
    /// malformed).
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub version: String,
    pub pid: u32,
    pub hostname: String,
    pub enforcer: String,
    pub enforcer_reason: String,
    pub policies: usize,
    pub host_rules: usize,
    /// Rules the enforcer cannot enforce that the eBPF monitor still alerts on (`Audit
    /// (Block)`), and why.
    pub unenforceable: Vec<String>,
    /// Rules neither enforced nor alerted on here (no enforcer or monitor event sees their
    /// operation), and why.
    #[serde(default)]
    pub unprotected: Vec<String>,
    /// Syscall rules (audit-only) that raise no alerts here, and why.
    #[serde(default)]
    pub unaudited: Vec<String>,
    pub alerts_stored: u64,
    /// Alerts folded into summary alerts by throttling (`alerts.throttle`).
    #[serde(default)]
    pub alerts_folded: u64,
    pub alerts_dropped: u64,
    /// Telemetry logs (config.yaml `visibility`) stored in logs.db, and dropped.
    #[serde(default)]
    pub logs_stored: u64,
    #[serde(default)]
    pub logs_dropped: u64,
    pub enforcer_events_dropped: u64,
    pub monitor_received: u64,
    pub monitor_lost_in_kernel: u64,
    pub monitor_dropped_in_userspace: u64,
    /// KubeArmor's gRPC API; absent when it is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcStatus>,
    /// Each alert forwarder's state (config.yaml `forwarders`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forwarders: Vec<crate::forward::ForwarderStatus>,
}

/// The gRPC listener (src/agent/grpc).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrpcStatus {
    pub address: String,
    pub tls: bool,
    /// Whether peers are checked to be root (a loopback address, not `allowNonRoot`).
    pub peer_check: bool,
    /// Streams open now.
    pub clients: u64,
    /// Records sent to streaming clients.
    pub sent: u64,
    /// Records streaming clients missed because they fell behind.
    pub lagged: u64,
    /// Calls refused because the peer was not root.
    pub refused_peers: u64,
}

// One response per connection, built and sent once: the size of its largest variant
// (`Status`) costs nothing, and boxing it would change every caller.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum Response {
    Applied {
        results: Vec<ApplyResult>,
        warnings: Vec<String>,
    },
    /// Validation failed: nothing was applied. Lines in `PATH:LINE:COL: ...` form.
    Invalid {
        diagnostics: Vec<String>,
    },
    /// The ids deleted (or, for a dry run, that would be), and the references that named
    /// no single policy.
    Deleted {
        names: Vec<String>,
        #[serde(default)]
        failed: Vec<NotDeleted>,
    },
    Policies {
        items: Vec<PolicySummary>,
    },
    Policy {
        policy: serde_json::Value,
    },
    Status {
        status: Status,
    },
    Containers {
        items: Vec<ContainerItem>,
    },
    /// The hook's report was taken: `registered` when the container is now known (false
    /// for a stopped one, now forgotten).
    Hooked {
        registered: bool,
    },
    /// `forbidden`, `not-found`, `bad-request`, `failed`.
    Error {
        code: String,
        message: String,
    },
}

impl Response {
    pub fn error(code: &str, message: impl Into<String>) -> Response {
        Response::Error {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the knoxctl agent at {socket}: {source} (is it running? start it with \
         `knoxctl agent` or `knoxctl onboard vm`, or point --socket/KNOXCTL_SOCKET at it)"
    )]
    Connect {
        socket: String,
        source: std::io::Error,
    },
    #[error(
        "permission denied on {socket}: the knoxctl API is for root (or the configured API \
         group); run with sudo"
    )]
    Permission { socket: String },
    #[error("talking to the agent at {socket}: {source}")]
    Io {
        socket: String,
        source: std::io::Error,
    },
    #[error("the agent sent a malformed response: {0}")]
    Protocol(String),
}

/// Sends one request and waits for its response.
pub fn call(socket: &Path, request: &Request, timeout: Duration) -> Result<Response, ClientError> {
    let name = socket.display().to_string();
    let mut stream = UnixStream::connect(socket).map_err(|source| match source.kind() {
        std::io::ErrorKind::PermissionDenied => ClientError::Permission {
            socket: name.clone(),
        },
        _ => ClientError::Connect {
            socket: name.clone(),
            source,
        },
    })?;
    let io = |source| ClientError::Io {
        socket: name.clone(),
        source,
    };
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    let mut line = serde_json::to_vec(request).expect("request serializes");
    line.push(b'\n');
    // The agent may answer (e.g. "forbidden") and close before reading the request: the
    // answer is still there to read, so a failed write is not the end.
    if let Err(e) = stream.write_all(&line)
        && !matches!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        )
    {
        return Err(io(e));
    }
    let mut reader = BufReader::new(stream);
    let mut reply = String::new();
    reader.read_line(&mut reply).map_err(io)?;
    if reply.is_empty() {
        return Err(ClientError::Protocol(
            "connection closed without a response".into(),
        ));
    }
    serde_json::from_str(&reply).map_err(|e| ClientError::Protocol(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clients and agents of the previous version still understand each other where it is
    /// safe: their requests and responses parse, and a dry run is an op an older agent
    /// refuses rather than a flag it would ignore (and apply).
    #[test]
    fn previous_versions_messages_still_parse() {
        let r: Request = serde_json::from_str(r#"{"op":"delete","names":["x"],"files":[]}"#)
            .expect("a delete without `all`");
        assert!(matches!(r, Request::Delete { all: false, .. }));
        let r: Response = serde_json::from_str(r#"{"result":"deleted","names":["x"]}"#)
            .expect("a deletion without `failed`");
        assert!(matches!(r, Response::Deleted { failed, .. } if failed.is_empty()));
        let r: Response = serde_json::from_str(
            r#"{"result":"applied","results":[{"kind":"KubeArmorHostPolicy","name":"x","outcome":"created","effect":""}],"warnings":[]}"#,
        )
        .expect("a result without `id`");
        assert!(matches!(r, Response::Applied { results, .. } if results[0].id.is_empty()));
        let dry = serde_json::to_value(Request::DryRunApply {
            files: vec![],
            skip_other_kinds: false,
        })
        .unwrap();
        assert_eq!(dry["op"], "dryRunApply");
    }
}
