//! Onboarding and offboarding this host: everything `knoxctl onboard vm` installs (the
//! binary, the configuration, the state directories, the service, shell completions and man
//! pages) and everything
//! `knoxctl offboard vm` removes again, including the kernel objects a stopped agent could
//! leave behind (pinned BPF programs, AppArmor profiles).
//!
//! Both work from a plan computed before anything changes, so that the user sees what will
//! happen (and `--dry-run` stops there), and both are idempotent. What onboarding created is
//! recorded in a receipt (`/etc/knoxctl/onboard.json`) so that offboarding removes exactly
//! that and leaves the host as it was.

pub mod offboard;
pub mod paths;
pub mod plan;
pub mod procs;
pub mod standalone;
pub mod supervisor;
pub mod systemd;

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use paths::Paths;

/// How long a stopping agent may take to answer pending permission events and flush its
/// alerts before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(15);

/// How the agent is run and kept running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// A hardened systemd service (restarted on failure, watchdog).
    Systemd,
    /// A detached process with a pid file and a log file (hosts without systemd).
    Standalone,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Systemd => "systemd",
            Mode::Standalone => "standalone",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the existing configuration is invalid: {0}. Fix it or remove it, then run onboarding again"
    )]
    ExistingConfig(#[from] crate::agent::config::ConfigError),
    #[error("{label}: {message}")]
    Label { label: String, message: String },
    #[error(
        "the {backend} enforcer is not usable on this host: {reason}. Enforcers that work here: \
         {usable} (see `knoxctl probe`)"
    )]
    EnforcerUnavailable {
        backend: String,
        reason: String,
        usable: String,
    },
    #[error(
        "systemd is not PID 1 on this host (no /run/systemd/system), so it cannot run the agent: \
         use --mode standalone (or leave --mode out)"
    )]
    SystemdNotRunning,
    #[error("systemd mode manages the real paths only, not a {root} prefix: use --mode standalone")]
    SystemdPrefixed { root: String },
    #[error(
        "another knoxctl agent (pid {pid}) answers on {socket}, not started by onboarding: stop \
         it (kill {pid}) and run onboarding again"
    )]
    ForeignAgent { pid: u32, socket: String },
    #[error("{command} failed: {message}")]
    Command { command: String, message: String },
    #[error("the agent did not come up: {reason}{}", if log.is_empty() { String::new() } else { format!("\nlast lines of its log:\n{log}") })]
    AgentDown { reason: String, log: String },
}

impl Error {
    /// `map_err` helper: what was being done to which path.
    pub fn io<'a>(
        action: &'static str,
        path: &'a Path,
    ) -> impl FnOnce(std::io::Error) -> Error + 'a {
        move |source| Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

const RECEIPT_VERSION: u32 = 1;

/// What onboarding installed, so that offboarding removes that and nothing else.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    pub version: u32,
    pub mode: Mode,
    /// Onboarding created the binary (it did not exist before), so offboarding removes it.
    pub binary_installed: bool,
    /// Directories that did not exist before onboarding (parents included), removed by
    /// offboarding when they are empty.
    pub created_dirs: Vec<PathBuf>,
    pub onboarded_at: String,
    pub knoxctl_version: String,
}

impl Receipt {
    /// The receipt at `paths`, if there is a readable one.
    pub fn load(paths: &Paths) -> Option<Receipt> {
        let bytes = std::fs::read(&paths.receipt).ok()?;
        serde_json::from_slice::<Receipt>(&bytes)
            .ok()
            .filter(|r| r.version == RECEIPT_VERSION)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = serde_json::to_vec_pretty(self).expect("receipt serializes");
        b.push(b'\n');
        b
    }
}

/// Replaces `path` with `bytes` atomically (temporary file, fsync, rename): a reader, or
/// an agent restarting, sees the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(Error::io("writing", path))
}

/// `create_dir_all` that records each directory it creates (outermost first), so that
/// offboarding can remove exactly those.
pub fn create_dirs(path: &Path, mode: u32, created: &mut Vec<PathBuf>) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    let mut missing = Vec::new();
    let mut p = Some(path);
    while let Some(dir) = p {
        if dir.exists() {
            break;
        }
        missing.push(dir.to_path_buf());
        p = dir.parent();
    }
    for dir in missing.into_iter().rev() {
        // Parents get the usual 0755; only the directory asked for gets `mode`.
        let m = if dir == path { mode } else { 0o755 };
        match std::fs::DirBuilder::new().mode(m).create(&dir) {
            Ok(()) => {
                // The mode given to mkdir is filtered by the umask; set it exactly.
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(m))
                    .map_err(Error::io("setting the mode of", &dir))?;
                if !created.contains(&dir) {
                    created.push(dir);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io("creating", &dir)(e)),
        }
    }
    Ok(())
}

/// `2026-11-27T16:03:00Z`, now.
pub fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let full = crate::alert::format_rfc3339(now.as_secs() as i64, 0);
    format!("{}Z", full.split('.').next().unwrap_or_default())
}

/// The last `n` lines of a text file (the agent's log), read from its end so that a large
/// log costs no more than its tail.
pub fn tail_lines(path: &Path, n: usize) -> std::io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let mut chunk = 64 * 1024u64;
    loop {
        let start = len.saturating_sub(chunk);
        f.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        let text = String::from_utf8_lossy(&buf);
        let lines: Vec<&str> = text.lines().collect();
        // The first line of a chunk may be cut; it counts only when the chunk is the file.
        if lines.len() > n || start == 0 {
            let from = lines.len().saturating_sub(n);
            let mut out = lines[from..].join("\n");
            if !out.is_empty() {
                out.push('\n');
            }
            return Ok(out);
        }
        chunk *= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_dirs_and_records_them() {
        let base = std::env::temp_dir().join(format!("knoxctl-dirs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let mut created = Vec::new();
        create_dirs(&base.join("a/b/c"), 0o700, &mut created).unwrap();
        assert_eq!(
            created,
            vec![base.join("a"), base.join("a/b"), base.join("a/b/c")]
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(base.join("a/b/c"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        create_dirs(&base.join("a/b/c"), 0o700, &mut created).unwrap();
        assert_eq!(created.len(), 3, "nothing new");

        let f = base.join("f.txt");
        write_atomic(&f, b"one\n", 0o600).unwrap();
        write_atomic(&f, b"two\n", 0o600).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"two\n");
        let text: String = (1..=2000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&f, &text).unwrap();
        assert_eq!(tail_lines(&f, 2).unwrap(), "line 1999\nline 2000\n");
        assert_eq!(tail_lines(&f, 5000).unwrap(), text);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
