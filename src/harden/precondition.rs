//! Typed preconditions and their evaluation on a target's root file system: the host
//! (`/`), a container (`/proc/PID/root`) or an unpacked image (`--rootfs DIR`). Paths are
//! resolved as the target resolves them — symlinks, absolute ones included, are followed
//! inside the target root — so merged-/usr (`/bin -> usr/bin`) answers as it does there.
//! Every verdict carries its evidence, which reports print as they are.

use serde::{Deserialize, Serialize};
use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Precondition {
    /// The path exists on the target.
    Exists(String),
    /// At least one of the paths exists.
    AnyExists(Vec<String>),
    /// The package is installed (dpkg status or the apk database).
    Package(String),
    /// `/etc/os-release` ID or ID_LIKE is one of these.
    Distro(Vec<String>),
    /// The running kernel is at least this version (host targets only).
    KernelMin(String),
    /// The inner precondition does not hold.
    Not(Box<Precondition>),
}

/// The file system a recommendation is evaluated on, with what was read of it cached.
pub struct TargetFs {
    root: PathBuf,
    os_release: OnceCell<BTreeMap<String, String>>,
    packages: OnceCell<Option<BTreeMap<String, String>>>,
}

/// Symlinks followed in one lookup before giving up (Linux's own limit).
const MAX_LINKS: usize = 40;

impl TargetFs {
    pub fn new(root: impl Into<PathBuf>) -> TargetFs {
        TargetFs {
            root: root.into(),
            os_release: OnceCell::new(),
            packages: OnceCell::new(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `path` (absolute, as the target sees it) resolved inside the root, symlinks
    /// followed; None when some component does not exist.
    pub fn resolve(&self, path: &str) -> Option<String> {
        let mut pending: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(str::to_string)
            .collect();
        let mut done: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(c) = pending.pop() {
            match c.as_str() {
                "." => continue,
                ".." => {
                    done.pop();
                    continue;
                }
                _ => {}
            }
            let rel = format!("{}/{c}", done.join("/"));
            let host = self.host_path(&rel);
            let meta = std::fs::symlink_metadata(&host).ok()?;
            if meta.file_type().is_symlink() {
                links += 1;
                if links > MAX_LINKS {
                    return None;
                }
                let target = std::fs::read_link(&host).ok()?;
                let target = target.to_string_lossy();
                if target.starts_with('/') {
                    done.clear();
                }
                pending.extend(
                    target
                        .split('/')
                        .filter(|c| !c.is_empty())
                        .rev()
                        .map(str::to_string),
                );
            } else {
                done.push(c);
            }
        }
        Some(format!("/{}", done.join("/")))
    }

    fn host_path(&self, target_path: &str) -> PathBuf {
        self.root.join(target_path.trim_start_matches('/'))
    }

    pub fn exists(&self, path: &str) -> bool {
        self.resolve(path).is_some()
    }

    pub fn read(&self, path: &str) -> Option<String> {
        let real = self.resolve(path)?;
        std::fs::read_to_string(self.host_path(&real)).ok()
    }

    pub fn os_release(&self) -> &BTreeMap<String, String> {
        self.os_release.get_or_init(|| {
            let text = self
                .read("/etc/os-release")
                .or_else(|| self.read("/usr/lib/os-release"))
                .unwrap_or_default();
            text.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
                .collect()
        })
    }

    /// `ID VERSION_ID` for evidence lines.
    pub fn distro(&self) -> String {
        let os = self.os_release();
        match (os.get("ID"), os.get("VERSION_ID")) {
            (Some(id), Some(v)) => format!("{id} {v}"),
            (Some(id), None) => id.clone(),
            _ => "unknown distro".into(),
        }
    }

    /// Installed packages and their versions; None when the target has neither a dpkg
    /// nor an apk database (then package preconditions cannot be answered).
    pub fn packages(&self) -> Option<&BTreeMap<String, String>> {
        self.packages
            .get_or_init(|| {
                if let Some(text) = self.read("/var/lib/dpkg/status") {
                    return Some(parse_dpkg_status(&text));
                }
                self.read("/lib/apk/db/installed").map(|t| parse_apk(&t))
            })
            .as_ref()
    }

    /// Whether `p` holds here, and the evidence either way.
    pub fn check(&self, p: &Precondition) -> (bool, String) {
        match p {
            Precondition::Exists(path) => match self.resolve(path) {
                Some(r) if r == *path => (true, format!("{path} exists")),
                Some(r) => (true, format!("{path} exists (-> {r})")),
                None => (false, format!("no {path}")),
            },
            Precondition::AnyExists(paths) => {
                let found: Vec<&str> = paths
                    .iter()
                    .filter(|p| self.exists(p))
                    .map(String::as_str)
                    .collect();
                if found.is_empty() {
                    (false, format!("none of {} exists", paths.join(", ")))
                } else {
                    let verb = if found.len() == 1 { "exists" } else { "exist" };
                    (true, format!("{} {verb}", found.join(", ")))
                }
            }
            Precondition::Package(name) => match self.packages() {
                None => (
                    false,
                    format!("package {name}: no dpkg or apk database on the target"),
                ),
                Some(db) => match db.get(name) {
                    Some(v) => (true, format!("package {name} {v} installed")),
                    None => (false, format!("package {name} not installed")),
                },
            },
            Precondition::Distro(ids) => {
                let os = self.os_release();
                let mut have: Vec<&str> = os.get("ID").map(String::as_str).into_iter().collect();
                if let Some(like) = os.get("ID_LIKE") {
                    have.extend(like.split_whitespace());
                }
                let ok = have.iter().any(|h| ids.iter().any(|i| i == h));
                (
                    ok,
                    format!(
                        "distro {} {} {}",
                        self.distro(),
                        if ok { "is one of" } else { "is not one of" },
                        ids.join(", ")
                    ),
                )
            }
            Precondition::KernelMin(min) => {
                let release = kernel_release();
                let ok = version_at_least(&release, min);
                (
                    ok,
                    format!("kernel {release} {} {min}", if ok { ">=" } else { "<" }),
                )
            }
            Precondition::Not(inner) => {
                let (ok, why) = self.check(inner);
                (!ok, format!("not ({why})"))
            }
        }
    }
}

fn parse_dpkg_status(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for block in text.split("\n\n") {
        let (mut name, mut version, mut installed) = (None, "", false);
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("Package: ") {
                name = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Version: ") {
                version = v.trim();
            } else if let Some(v) = line.strip_prefix("Status: ") {
                installed = v.trim().ends_with(" installed");
            }
        }
        if let (Some(n), true) = (name, installed) {
            out.insert(n.to_string(), version.to_string());
        }
    }
    out
}

fn parse_apk(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for block in text.split("\n\n") {
        let mut name = None;
        let mut version = "";
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("P:") {
                name = Some(v);
            } else if let Some(v) = line.strip_prefix("V:") {
                version = v;
            }
        }
        if let Some(n) = name {
            out.insert(n.to_string(), version.to_string());
        }
    }
    out
}

pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Compares dotted numeric prefixes: `6.1.0-28-amd64` >= `5.7`.
pub fn version_at_least(have: &str, min: &str) -> bool {
    let nums = |s: &str| -> Vec<u64> {
        s.split(|c: char| !c.is_ascii_digit())
            .take_while(|p| !p.is_empty())
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    nums(have) >= nums(min)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempdir::Dir, TargetFs) {
        let d = tempdir::Dir::new();
        let r = d.path();
        std::fs::create_dir_all(r.join("usr/bin")).unwrap();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::create_dir_all(r.join("var/lib/dpkg")).unwrap();
        std::fs::write(r.join("usr/bin/apt"), "").unwrap();
        symlink("usr/bin", r.join("bin")).unwrap();
        // An absolute link must resolve inside the root, not on the host.
        symlink("/usr/bin/apt", r.join("usr/bin/apt-link")).unwrap();
        std::fs::write(r.join("etc/os-release"), "ID=debian\nVERSION_ID=\"12\"\n").unwrap();
        std::fs::write(
            r.join("var/lib/dpkg/status"),
            "Package: apt\nStatus: install ok installed\nVersion: 2.6.1\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n",
        )
        .unwrap();
        let fs = TargetFs::new(r);
        (d, fs)
    }

    mod tempdir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
                let p = std::env::temp_dir().join(format!(
                    "knoxctl-precond-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn merged_usr_resolves_inside_the_root() {
        let (_d, fs) = tree();
        assert_eq!(fs.resolve("/bin/apt").as_deref(), Some("/usr/bin/apt"));
        assert_eq!(
            fs.resolve("/usr/bin/apt-link").as_deref(),
            Some("/usr/bin/apt")
        );
        // `..` after a symlink goes up from where the link points, as the kernel does.
        assert_eq!(
            fs.resolve("/bin/../bin/apt").as_deref(),
            Some("/usr/bin/apt")
        );
        assert!(fs.resolve("/usr/bin/dnf").is_none());
        let (ok, why) = fs.check(&Precondition::Exists("/bin/apt".into()));
        assert!(ok);
        assert_eq!(why, "/bin/apt exists (-> /usr/bin/apt)");
    }

    #[test]
    fn packages_distro_and_negation() {
        let (_d, fs) = tree();
        assert_eq!(
            fs.check(&Precondition::Package("apt".into())),
            (true, "package apt 2.6.1 installed".into())
        );
        assert!(!fs.check(&Precondition::Package("gone".into())).0);
        assert!(fs.check(&Precondition::Distro(vec!["debian".into()])).0);
        assert!(!fs.check(&Precondition::Distro(vec!["rhel".into()])).0);
        let not = Precondition::Not(Box::new(Precondition::Exists("/nope".into())));
        assert!(fs.check(&not).0);
    }

    #[test]
    fn kernel_versions_compare_numerically() {
        assert!(version_at_least("6.1.0-28-amd64", "5.7"));
        assert!(version_at_least("5.10.0", "5.10"));
        assert!(!version_at_least("4.19.0", "5.7"));
    }
}
