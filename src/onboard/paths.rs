//! Every host path onboarding writes, removes or inspects, in one place, under an optional
//! root prefix (`KNOXCTL_ROOT`) so that tests can onboard into a scratch directory without
//! touching (or colliding with) a real installation.
//!
//! The prefix applies to kernel interfaces too (the BPF pin directory, AppArmor's
//! securityfs directory): a prefixed offboard must never detach a real installation's
//! programs or unload its profiles.

use serde::Serialize;
use std::path::{Path, PathBuf};

/// The environment variable that prefixes every path. Only an environment variable, not
/// a flag: it is for tests and staging, and should not show up in help or completions.
pub const ROOT_ENV: &str = "KNOXCTL_ROOT";

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Paths {
    /// `/` for a real installation.
    pub root: PathBuf,
    pub config_dir: PathBuf,
    pub config: PathBuf,
    /// What onboarding installed, so that offboarding removes exactly that. In the state
    /// directory, so that it outlives an offboarding that keeps the state and a later
    /// `--purge` still knows which directories onboarding created.
    pub receipt: PathBuf,
    pub state_dir: PathBuf,
    pub run_dir: PathBuf,
    pub socket: PathBuf,
    pub pid_file: PathBuf,
    pub bin: PathBuf,
    pub unit: PathBuf,
    pub log_dir: PathBuf,
    pub log: PathBuf,
    /// Where the BPF-LSM enforcer pins its programs, links and maps.
    pub bpf_pin: PathBuf,
    /// AppArmor's securityfs directory (`profiles`, `.remove`).
    pub apparmor: PathBuf,
    pub bash_completion: PathBuf,
    pub zsh_completion: PathBuf,
    pub fish_completion: PathBuf,
    /// Where the man pages go (`knoxctl.1`, `knoxctl-*.1`).
    pub man_dir: PathBuf,
    /// Podman's OCI hook definition (`knoxctl oci-hook` at createRuntime and poststop).
    pub oci_hook: PathBuf,
}

/// A shell's completion script: where it goes, and the directory whose presence says the
/// shell (and its completion loading) is installed.
#[derive(Clone, Debug)]
pub struct CompletionPath<'a> {
    pub shell: clap_complete::Shell,
    pub path: &'a Path,
    pub installed_if: PathBuf,
}

impl Paths {
    /// The real paths, or the ones under `root` when it is not `/`.
    pub fn under(root: &Path) -> Paths {
        let root = if root.as_os_str().is_empty() {
            PathBuf::from("/")
        } else {
            root.to_path_buf()
        };
        let at = |rel: &str| root.join(rel);
        Paths {
            config_dir: at("etc/knoxctl"),
            config: at("etc/knoxctl/config.yaml"),
            receipt: at("var/lib/knoxctl/onboard.json"),
            state_dir: at("var/lib/knoxctl"),
            run_dir: at("run/knoxctl"),
            socket: at("run/knoxctl/agent.sock"),
            pid_file: at("run/knoxctl/agent.pid"),
            bin: at("usr/local/bin/knoxctl"),
            unit: at("etc/systemd/system/knoxctl.service"),
            log_dir: at("var/log/knoxctl"),
            log: at("var/log/knoxctl/agent.log"),
            bpf_pin: at("sys/fs/bpf/knoxctl"),
            apparmor: at("sys/kernel/security/apparmor"),
            bash_completion: at("usr/share/bash-completion/completions/knoxctl"),
            zsh_completion: at("usr/local/share/zsh/site-functions/_knoxctl"),
            fish_completion: at("usr/share/fish/vendor_completions.d/knoxctl.fish"),
            man_dir: at("usr/local/share/man/man1"),
            oci_hook: at("usr/share/containers/oci/hooks.d/knoxctl.json"),
            root,
        }
    }

    pub fn from_root(root: Option<&Path>) -> Paths {
        Paths::under(root.unwrap_or(Path::new("/")))
    }

    /// Under `KNOXCTL_ROOT` if it is set (and not empty), else the real paths.
    pub fn from_env() -> Paths {
        let root = std::env::var_os(ROOT_ENV).map(PathBuf::from);
        Paths::from_root(root.as_deref())
    }

    /// Whether these are the host's real paths (systemd can only manage those).
    pub fn is_real(&self) -> bool {
        self.root == Path::new("/")
    }

    /// The completion scripts onboarding installs, each only where its shell is installed:
    /// a script for an absent shell is clutter nobody reads, and creating a shell's own
    /// directory (`/usr/share/fish`) would claim a package's place. The bash script goes
    /// where the bash-completion package loads scripts on demand (it owns
    /// /usr/share/bash-completion); zsh's goes to /usr/local/share/zsh/site-functions, which
    /// is in zsh's default fpath but which no package creates, so it is created when zsh is
    /// installed (/usr/share/zsh); fish's goes to vendor_completions.d, in fish's default
    /// completion path (/usr/share/fish). Man pages need no such test: man-db searches
    /// /usr/local/share/man by default, and pages cost nothing where no man is installed.
    pub fn completions(&self) -> [CompletionPath<'_>; 3] {
        use clap_complete::Shell;
        [
            CompletionPath {
                shell: Shell::Bash,
                path: &self.bash_completion,
                installed_if: self.root.join("usr/share/bash-completion"),
            },
            CompletionPath {
                shell: Shell::Zsh,
                path: &self.zsh_completion,
                installed_if: self.root.join("usr/share/zsh"),
            },
            CompletionPath {
                shell: Shell::Fish,
                path: &self.fish_completion,
                installed_if: self.root.join("usr/share/fish"),
            },
        ]
    }

    /// Whether `name` is one of knoxctl's man pages (`knoxctl.1`, `knoxctl-*.1`): offboarding
    /// removes every one in `man_dir`, also those of commands a newer binary no longer has.
    pub fn is_man_page(name: &str) -> bool {
        name == "knoxctl.1" || (name.starts_with("knoxctl-") && name.ends_with(".1"))
    }

    /// knoxctl's man pages now in `man_dir`, sorted.
    pub fn man_pages(&self) -> Vec<PathBuf> {
        let mut pages: Vec<PathBuf> = std::fs::read_dir(&self.man_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| Paths::is_man_page(&e.file_name().to_string_lossy()))
            .map(|e| e.path())
            .collect();
        pages.sort();
        pages
    }

    /// The directories onboarding owns (created by it, removed by offboarding), with what
    /// each holds, in the order they are created.
    pub fn owned_dirs(&self) -> [(&Path, &'static str, u32); 4] {
        [
            (&self.config_dir, "configuration", 0o755),
            (
                &self.state_dir,
                "applied policies and the alert store",
                0o700,
            ),
            (&self.run_dir, "API socket and pid file", 0o755),
            (&self.log_dir, "agent log, standalone mode", 0o750),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_and_prefixed() {
        let real = Paths::from_root(None);
        assert!(real.is_real());
        assert_eq!(real.config, Path::new("/etc/knoxctl/config.yaml"));
        assert_eq!(real.socket, Path::new(crate::agent::config::DEFAULT_SOCKET));
        assert_eq!(
            real.state_dir,
            Path::new(crate::agent::config::DEFAULT_STATE_DIR)
        );
        assert_eq!(real.bpf_pin, Path::new("/sys/fs/bpf/knoxctl"));
        let t = Paths::under(Path::new("/tmp/x"));
        assert!(!t.is_real());
        assert_eq!(
            t.unit,
            Path::new("/tmp/x/etc/systemd/system/knoxctl.service")
        );
        assert_eq!(t.bpf_pin, Path::new("/tmp/x/sys/fs/bpf/knoxctl"));
        assert_eq!(
            real.bash_completion,
            Path::new("/usr/share/bash-completion/completions/knoxctl")
        );
        assert_eq!(t.man_dir, Path::new("/tmp/x/usr/local/share/man/man1"));
        assert!(Paths::is_man_page("knoxctl.1") && Paths::is_man_page("knoxctl-policy-get.1"));
        assert!(!Paths::is_man_page("knoxctlx.1") && !Paths::is_man_page("knoxctl-x.1.gz"));
        assert_eq!(Paths::under(Path::new("")), real);
    }
}
