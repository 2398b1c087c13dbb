//! knoxctl: runtime protection for Linux VMs with KubeArmor policies.
//!
//! The binary is a thin shell over this library so that tests, benches and fuzz targets
//! drive the same code as users.
//!
//! Data flow: policy YAML (`yaml`, positions kept) → typed model and CRD validation
//! (`policy::validate`) → one normalized rule set per target (`policy::normalize`) → an
//! enforcer backend (`enforce`: BPF-LSM, fanotify, or monitoring only) → the kernel →
//! events from the backend and the eBPF monitor (`monitor`) → enrichment and policy match
//! (`agent::pipeline`, with `policy::matcher`) → a KubeArmor-format alert (`alert`) → the
//! store, `alerts tail` and forwarders. `agent` runs that pipeline behind a root-only
//! socket; `cmd` is the command line over all of it; `onboard` installs and supervises it.

pub mod agent;
pub mod alert;
pub mod cmd;
pub mod enforce;
pub mod identity;
pub mod kernel;
pub mod monitor;
pub mod onboard;
pub mod output;
pub mod policy;
pub mod procfs;
pub mod sysdump;
pub mod yaml;
