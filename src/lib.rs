//! knoxctl: runtime protection for Linux VMs with KubeArmor policies.
//!
//! The binary is a thin shell over this library so that tests, benches and fuzz targets
//! drive the same code as users.

pub mod agent;
pub mod alert;
pub mod assets;
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
