//! Learning from recorded behaviour: replaying telemetry against draft policies (`policy
//! test`) and generating least-permissive allow-list policies from it (`harden discover`).
//!
//! Owns: reading telemetry from one seam ([`source::EventSource`]: a KubeArmor JSON Lines
//! export or the agent's store), turning KubeArmor log and alert records into the
//! operations the enforcers judge ([`event`]), the replay ([`replay`], with the same
//! `policy::matcher` the enforcers use) and the discovery ([`discover`]).
//! Does not own: policy parsing or matching semantics (`policy`), the store (`alert`),
//! printing (`cmd`).

pub mod discover;
pub mod event;
pub mod replay;
pub mod source;

/// Why reading telemetry failed.
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "no telemetry store at {path}: the agent records the operations no rule decides only \
         when config.yaml asks for them (visibility: {{host: [process, file, network]}}); \
         turn that on and let the workload run, or read an export with --from FILE"
    )]
    NoTelemetry { path: std::path::PathBuf },
    #[error(transparent)]
    Store(#[from] crate::alert::store::StoreError),
}
