//! AppArmor backend: the host's rule set becomes profiles ([`profile`]) that
//! `apparmor_parser` compiles and loads.

pub mod profile;

use std::path::PathBuf;

/// `apparmor_parser` on PATH or in the sbin directories (which a non-login PATH lacks).
pub fn parser() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].iter().map(PathBuf::from))
        .map(|d| d.join("apparmor_parser"))
        .find(|p| p.is_file())
}
