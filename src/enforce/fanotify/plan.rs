//! Which marks a rule set needs, and what it cannot get from fanotify.
//!
//! Marks are chosen so that file activity no rule is about raises no event: an inode mark
//! on each rule path, a directory mark with `FAN_EVENT_ON_CHILD` for directory rules
//! (plus every subdirectory of a recursive rule, up to a bound), the nearest directory
//! for glob rules, and whole-filesystem exec marks only where nothing narrower can see
//! the operation (process allow-list mode, `execname`, a recursive process rule past the
//! bound). On the host, filesystem-wide marks are never used for opens: they would make
//! every open on the host wait for the agent, so file allow-list mode gives its default
//! posture only to the opens that file rules' marks see anyway (reported with every
//! apply). A container's own filesystems (its root overlay, the tmpfs its runtime made)
//! are its alone: there file allow-list mode marks them whole for opens, and the files
//! the runtime bind-mounts into it (`/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`)
//! get an inode mark each, so every open of the container's files is checked (only the
//! container's opens wait for a decision; the host's opens there are let through at
//! once). What AppArmor's `abstractions/base` grants (libraries, locale, `/dev/null`)
//! passes, as under KubeArmor's AppArmor profiles ([`crate::policy::base_abstraction`]).

use super::{Options, sys};
use crate::enforce::ApplyReport;
use crate::kernel::fs::mounts;
use crate::policy::Action;
use crate::policy::matcher::{CompiledRules, Glob, GlobBase};
use crate::policy::normalize::{Category, Matcher, RuleSet};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::os::fd::RawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const EXEC: u64 = libc::FAN_OPEN_EXEC_PERM;
const OPEN: u64 = libc::FAN_OPEN_PERM;

/// Filesystems where nothing can be executed or permission events are refused.
const PSEUDO_FS: &[&str] = &[
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "devpts",
    "securityfs",
    "debugfs",
    "tracefs",
    "bpf",
    "mqueue",
    "pstore",
    "configfs",
    "fusectl",
    "efivarfs",
    "binfmt_misc",
    "autofs",
    "nsfs",
    "rpc_pipefs",
    "selinuxfs",
    "hugetlbfs",
];

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Inode(PathBuf),
    /// A whole filesystem, named by any path on it.
    Filesystem(u64),
}

#[derive(Default)]
struct RulePlan {
    /// Without at least one of these the rule is not enforced.
    primary: BTreeSet<Target>,
    /// Extra coverage (subdirectories of a recursive rule).
    secondary: BTreeSet<Target>,
}

/// What the marks are on, by identity (device, inode) and the name the rules gave it.
/// Marks follow inodes, so an event can arrive through a name no rule mentions: a hard
/// link, a bind mount, a renamed ancestor directory, another mount namespace. The reader
/// then also decides on the protected name, so that no other name dodges a rule.
#[derive(Default)]
pub(super) struct Identities {
    files: HashMap<(u64, u64), Box<str>>,
    dirs: HashMap<(u64, u64), Box<str>>,
}

impl Identities {
    /// The rule path of a marked file (or program).
    pub fn file(&self, dev: u64, ino: u64) -> Option<&str> {
        self.files.get(&(dev, ino)).map(|p| &**p)
    }

    /// The rule path (no trailing slash) of a marked directory.
    pub fn dir(&self, dev: u64, ino: u64) -> Option<&str> {
        self.dirs.get(&(dev, ino)).map(|p| &**p)
    }

    pub fn has_dirs(&self) -> bool {
        !self.dirs.is_empty()
    }
}

pub(super) struct Plan {
    inodes: BTreeMap<PathBuf, u64>,
    filesystems: BTreeMap<u64, PathBuf>,
    /// A container's own filesystems, marked whole for opens (file allow-list mode).
    open_filesystems: BTreeMap<u64, PathBuf>,
    /// The filesystems marked so that every exec is seen (process allow-list mode).
    exec_everywhere: bool,
    /// Devices of pseudo filesystems, which directory walks do not enter.
    pseudo: Option<BTreeSet<u64>>,
    rules: BTreeMap<usize, RulePlan>,
    /// Targets of a rule that could not be planned; the rule is unenforceable only if
    /// nothing else of it could be.
    problems: BTreeMap<usize, Vec<String>>,
    unenforceable: Vec<(usize, String)>,
    notes: Vec<String>,
    dir_budget: usize,
    /// Files marked under directory rules (see [`Plan::files`]), bounded like directories.
    file_budget: usize,
    max_dir_marks: usize,
    /// Where rule paths are looked up: `/` for the host, a container's root otherwise.
    root: PathBuf,
    /// A container's own filesystems and the host-shared ones
    /// ([`container_filesystems`]), read once per plan when first needed.
    container_fs: Option<Filesystems>,
}

/// What a container has mounted, as its marks need it ([`container_filesystems`]).
#[derive(Clone, Default)]
struct Filesystems {
    /// Its own filesystems: device, and where the agent reaches it.
    own: Vec<(u64, PathBuf)>,
    /// Mount points (as the container names them) of directories and programs on
    /// filesystems the host shares with it (volumes).
    shared: Vec<String>,
    /// Single files on the host's filesystems mounted into it (the runtime's `/etc/hosts`,
    /// `/etc/hostname`, `/etc/resolv.conf`), where the agent reaches them.
    shared_files: Vec<PathBuf>,
}

/// Whose files a plan marks.
pub(super) struct Scope<'a> {
    /// Rule paths are resolved under this (`/`, or a container's root as the agent
    /// reaches it).
    pub root: &'a Path,
    /// Audit rules get marks too and are reported by the reader (containers: the eBPF
    /// monitor matches host rules only). On the host the monitor audits them instead.
    pub audits: bool,
}

impl Scope<'_> {
    pub fn host() -> Scope<'static> {
        Scope {
            root: Path::new("/"),
            audits: false,
        }
    }
}

impl Plan {
    fn container_fs(&mut self) -> &Filesystems {
        let root = &self.root;
        self.container_fs
            .get_or_insert_with(|| container_filesystems(root))
    }

    pub fn build(set: &RuleSet, compiled: &CompiledRules, opts: &Options, scope: &Scope) -> Plan {
        let mut plan = Plan {
            root: scope.root.to_path_buf(),
            container_fs: None,
            inodes: BTreeMap::new(),
            filesystems: BTreeMap::new(),
            open_filesystems: BTreeMap::new(),
            exec_everywhere: false,
            pseudo: None,
            rules: BTreeMap::new(),
            problems: BTreeMap::new(),
            unenforceable: Vec::new(),
            notes: Vec::new(),
            dir_budget: opts.max_dir_marks,
            file_budget: opts.max_dir_marks,
            max_dir_marks: opts.max_dir_marks,
        };
        let mut everywhere: Vec<usize> = Vec::new();
        let mut has_path_rules = false;
        let mut has_recursive = false;
        for (i, r) in set.rules.iter().enumerate() {
            if r.action == Action::Audit && !scope.audits {
                // Audited in userspace from the monitor's events; never given to the kernel.
                continue;
            }
            match r.category {
                Category::Process | Category::File => {}
                Category::Syscall => continue,
                other => {
                    plan.unenforceable.push((
                        i,
                        format!(
                            "fanotify only sees file opens and execs; {other} rules need the BPF-LSM or AppArmor backend"
                        ),
                    ));
                    continue;
                }
            }
            if !r.allowed_args.is_empty() {
                plan.unenforceable.push((
                    i,
                    "allowedArgs cannot be checked: at the permission event the new argument list is not visible".into(),
                ));
                continue;
            }
            if let Some((_, e)) = compiled.invalid().iter().find(|(j, _)| *j == i) {
                plan.unenforceable.push((i, e.clone()));
                continue;
            }
            if r.pts.is_some() {
                plan.notes.push(format!(
                    "rule {i} ({}): pts is not evaluated by fanotify; the rule applies with or without a terminal",
                    r.field
                ));
            }
            let process = r.category == Category::Process;
            // A blocked program's opens are watched too: the dynamic loader run as a
            // program (`ld.so /usr/bin/apt`) opens it as data and maps it, with no exec.
            let mask = match (process, r.action) {
                (true, Action::Block) => EXEC | OPEN,
                (true, _) => EXEC,
                (false, _) => OPEN,
            };
            plan.rules.entry(i).or_default();
            match &r.matcher {
                Matcher::Path { path } => {
                    has_path_rules = true;
                    plan.path(i, &plan.at(path), mask, process)
                }
                Matcher::Execname { .. } => everywhere.push(i),
                Matcher::Directory { dir, recursive } => {
                    has_recursive |= *recursive;
                    let depth = if *recursive { None } else { Some(0) };
                    plan.dir(i, &plan.at(dir), depth, mask, process, true)
                }
                Matcher::Pattern { pattern } => {
                    let Ok(glob) = Glob::new(pattern) else {
                        continue;
                    };
                    for base in glob.bases() {
                        match base {
                            GlobBase::Path(p) => plan.path(i, &plan.at(&p), mask, process),
                            GlobBase::Dir { dir, depth } => {
                                has_recursive |= depth.is_none();
                                let dir = if dir.is_empty() { "/".into() } else { dir };
                                // Only the pattern's names matter: no file marks.
                                plan.dir(i, &plan.at(&dir), depth, mask, process, false)
                            }
                        }
                    }
                }
                _ => {
                    plan.rules.remove(&i);
                    plan.unenforceable
                        .push((i, "not a process or file matcher".into()));
                }
            }
        }

        // Only process Allow rules need every exec seen; file Allow rules leave execs alone.
        let exec_allow_list = compiled.exec_allow_list();
        if exec_allow_list || !everywhere.is_empty() {
            // A container's execs are all on its root filesystem's own superblock (an
            // overlay per container); marking the host's filesystems would see none.
            let fss = if plan.root == Path::new("/") {
                filesystems(opts.exec_scope.as_deref())
            } else {
                let Filesystems { own, shared, .. } = plan.container_fs().clone();
                if !shared.is_empty() {
                    plan.notes.push(format!(
                        "execs from {} (on filesystems the host shares) are not checked against this container's {} rules: a whole-filesystem mark there would judge the host's execs too",
                        shared.join(", "),
                        if exec_allow_list { "allow-list and execname" } else { "execname" }
                    ));
                }
                own
            };
            plan.exec_everywhere = exec_allow_list;
            if fss.is_empty() {
                let why = "no filesystem to put a whole-filesystem exec mark on (check exec_scope)";
                for i in &everywhere {
                    plan.rules.remove(i);
                    plan.unenforceable.push((*i, why.into()));
                }
                if exec_allow_list {
                    plan.notes.push(format!(
                        "process allow-list mode: the default posture is not applied to execs: {why}"
                    ));
                }
            }
            let targets: BTreeSet<Target> = fss
                .iter()
                .map(|(dev, _)| Target::Filesystem(*dev))
                .collect();
            for (dev, path) in fss {
                plan.filesystems.entry(dev).or_insert(path);
            }
            for i in &everywhere {
                plan.rules
                    .entry(*i)
                    .or_default()
                    .primary
                    .extend(targets.iter().cloned());
            }
            if let Some(scope) = &opts.exec_scope {
                plan.notes.push(format!(
                    "execs are checked only on the filesystems of {}: execs elsewhere are {}",
                    scope
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    if exec_allow_list {
                        "not given the default posture"
                    } else {
                        "not matched against execname rules"
                    }
                ));
            }
            plan.notes.push(
                "filesystems mounted after this apply get no exec mark until the next apply".into(),
            );
        }
        let open_allow_list = compiled.open_allow_list();
        let container = plan.root != Path::new("/");
        if open_allow_list && container {
            let Filesystems {
                own,
                shared,
                shared_files,
            } = plan.container_fs().clone();
            plan.open_filesystems.extend(own);
            for f in shared_files {
                *plan.inodes.entry(f).or_default() |= OPEN;
            }
            plan.notes.push(format!(
                "file allow-list mode: every open on the container's own filesystems (and of the files its runtime mounts in, such as /etc/hosts) waits for the agent; opens no file rule allows get the default posture ({}), except what AppArmor's abstractions/base grants every program (its loader and libraries, ld.so.cache, locale and time zone data, /dev/null and the like), as KubeArmor's AppArmor profiles include it{}",
                compiled.posture(),
                if shared.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; opens under {} (filesystems the host shares) are checked only where file rules put marks",
                        shared.join(", ")
                    )
                }
            ));
        }
        if exec_allow_list {
            plan.notes.push(format!(
                "process allow-list mode: every exec waits for the agent and unlisted ones get the default posture ({}){}",
                compiled.posture(),
                if open_allow_list {
                    ""
                } else {
                    "; file opens are not put in allow-list mode (no file Allow rule)"
                }
            ));
        }
        if open_allow_list && !container {
            plan.notes.push(format!(
                "file allow-list mode: opens no file rule allows get the default posture ({}) only on the paths and \
                 directories of file rules, the only opens watched; other files are not checked (that would take a \
                 filesystem-wide open mark, which makes every open on the host wait for the agent){}",
                compiled.posture(),
                if exec_allow_list {
                    ""
                } else {
                    "; execs are not put in allow-list mode (no process Allow rule)"
                }
            ));
        }
        if has_path_rules {
            plan.notes.push(
                "marks follow inodes: a rule path replaced by a new file (rename over it, package upgrade) is covered again at the next apply"
                    .into(),
            );
        }
        if has_recursive {
            plan.notes.push(
                "subdirectories created after this apply are not watched until the next apply"
                    .into(),
            );
        }
        plan
    }

    /// Where a rule path is found from the agent.
    fn at(&self, path: &str) -> PathBuf {
        if self.root == Path::new("/") {
            PathBuf::from(path)
        } else {
            let inside = crate::container::resolve_in_root(&self.root, path);
            self.root.join(inside.trim_start_matches('/'))
        }
    }

    /// A marked path as the rules (and the container's processes) name it.
    fn rule_name<'p>(&self, path: &'p Path) -> Option<std::borrow::Cow<'p, str>> {
        if self.root == Path::new("/") {
            return path.to_str().map(std::borrow::Cow::Borrowed);
        }
        let rest = path.strip_prefix(&self.root).ok()?.to_str()?;
        Some(std::borrow::Cow::Owned(format!("/{rest}")))
    }

    fn add_inode(&mut self, rule: usize, path: &Path, mask: u64, primary: bool) {
        *self.inodes.entry(path.to_path_buf()).or_default() |= mask;
        let r = self.rules.entry(rule).or_default();
        let t = Target::Inode(path.to_path_buf());
        if primary {
            r.primary.insert(t);
        } else {
            r.secondary.insert(t);
        }
    }

    fn path(&mut self, rule: usize, path: &Path, mask: u64, process: bool) {
        match std::fs::metadata(path) {
            Ok(md) => {
                let ondir = if md.is_dir() && !process {
                    libc::FAN_ONDIR
                } else {
                    0
                };
                self.add_inode(rule, path, mask | ondir, true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let parent = path.parent().filter(|p| p.is_dir());
                match parent {
                    Some(parent) => {
                        self.notes.push(format!(
                            "{} does not exist: its directory {} is watched so the file is covered once created there",
                            path.display(),
                            parent.display()
                        ));
                        // Not the loader's opens: they would make every open there wait.
                        let mask = mask & !OPEN | if process { 0 } else { OPEN };
                        self.add_inode(rule, parent, mask | libc::FAN_EVENT_ON_CHILD, true)
                    }
                    None => self.problem(
                        rule,
                        format!(
                            "{}: neither the path nor its directory exists",
                            path.display()
                        ),
                    ),
                }
            }
            Err(e) => self.problem(rule, format!("{}: {e}", path.display())),
        }
    }

    /// Marks `dir` and, down to `depth` levels (`None`: all), its subdirectories.
    fn dir(
        &mut self,
        rule: usize,
        dir: &Path,
        depth: Option<usize>,
        mask: u64,
        process: bool,
        mark_files: bool,
    ) {
        if !dir.is_dir() {
            self.problem(
                rule,
                format!("{}: not an existing directory", dir.display()),
            );
            return;
        }
        let file_mask = mask;
        let mask = mask | libc::FAN_EVENT_ON_CHILD | if process { 0 } else { libc::FAN_ONDIR };
        self.add_inode(rule, dir, mask, true);
        let mut walked = vec![dir.to_path_buf()];
        self.subdirs(rule, dir, depth, mask, process, &mut walked);
        if mark_files {
            self.files(rule, &walked, file_mask);
        }
    }

    /// Marks the regular files of `dirs` too, up to a bound: a directory mark sees a file
    /// only when it is reached through that directory, and a hard link or a rename moves
    /// a file's name out of it (neither raises a permission event). A file's own mark
    /// follows it under any name.
    fn files(&mut self, rule: usize, dirs: &[PathBuf], mask: u64) {
        for d in dirs {
            let Ok(entries) = std::fs::read_dir(d) else {
                continue;
            };
            for e in entries.flatten() {
                if !e.file_type().is_ok_and(|t| t.is_file()) {
                    continue;
                }
                let f = e.path();
                if !self.inodes.contains_key(&f) {
                    if self.file_budget == 0 {
                        self.notes.push(format!(
                            "rule {rule}: more than {} files under its directories: the others are protected through their directory only (a hard link or rename out of it escapes)",
                            self.max_dir_marks
                        ));
                        return;
                    }
                    self.file_budget -= 1;
                }
                self.add_inode(rule, &f, mask, false);
            }
        }
    }

    /// The subdirectories of `dir` down to `depth` levels (`None`: all), breadth first,
    /// within the bound; each one walked is added to `walked`.
    fn subdirs(
        &mut self,
        rule: usize,
        dir: &Path,
        depth: Option<usize>,
        mask: u64,
        process: bool,
        walked: &mut Vec<PathBuf>,
    ) {
        if depth == Some(0) {
            return;
        }
        // Breadth first, so that the bound keeps the shallow levels.
        let mut queue = VecDeque::from([(dir.to_path_buf(), 0usize)]);
        let mut overflow = false;
        while let Some((d, level)) = queue.pop_front() {
            if depth.is_some_and(|max| level >= max) {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                // file_type does not follow symlinks, so links cannot make the walk loop.
                if !e.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let sub = e.path();
                // /proc, /sys and the like refuse permission events and hold many
                // directories: never spend the bound on them.
                if std::fs::symlink_metadata(&sub)
                    .is_ok_and(|md| self.pseudo_devs().contains(&md.dev()))
                {
                    continue;
                }
                if self.inodes.contains_key(&sub) {
                    self.add_inode(rule, &sub, mask, false);
                } else if self.dir_budget == 0 {
                    overflow = true;
                    break;
                } else {
                    self.dir_budget -= 1;
                    self.add_inode(rule, &sub, mask, false);
                }
                walked.push(sub.clone());
                queue.push_back((sub, level + 1));
            }
            if overflow {
                break;
            }
        }
        if !overflow {
            return;
        }
        let shared = self.root != Path::new("/")
            && std::fs::metadata(dir).is_ok_and(|md| {
                !self
                    .container_fs()
                    .own
                    .iter()
                    .any(|(dev, _)| *dev == md.dev())
            });
        if process && shared {
            // A bind-mounted host volume: a whole-filesystem mark would judge the host.
            self.notes.push(format!(
                "{} has more than {} subdirectories and is on a filesystem the host shares: execs in the unwatched deeper ones are not checked",
                dir.display(),
                self.max_dir_marks
            ));
        } else if process {
            // Exec marks on a whole filesystem are affordable: execs are rare and cached.
            if let Ok(md) = std::fs::metadata(dir) {
                self.filesystems
                    .entry(md.dev())
                    .or_insert_with(|| dir.to_path_buf());
                self.rules
                    .entry(rule)
                    .or_default()
                    .primary
                    .insert(Target::Filesystem(md.dev()));
                self.notes.push(format!(
                    "{} has more than {} subdirectories: execs on its whole filesystem are checked instead",
                    dir.display(),
                    self.max_dir_marks
                ));
            }
        } else {
            self.notes.push(format!(
                "{} has more than {} subdirectories: files in the unwatched deeper ones are not protected (narrow the rule or raise the bound)",
                dir.display(),
                self.max_dir_marks
            ));
        }
    }

    fn problem(&mut self, rule: usize, what: String) {
        self.problems.entry(rule).or_default().push(what);
    }

    fn pseudo_devs(&mut self) -> &BTreeSet<u64> {
        self.pseudo.get_or_insert_with(|| {
            mounts()
                .into_iter()
                .filter(|(fstype, _)| PSEUDO_FS.contains(&fstype.as_str()))
                .filter_map(|(_, mount)| std::fs::metadata(mount).ok().map(|m| m.dev()))
                .collect()
        })
    }

    /// Adds every mark to `group` and reports what the kernel now enforces.
    pub fn apply(self, group: RawFd) -> ApplyReport {
        let mut failed: BTreeMap<Target, String> = BTreeMap::new();
        for (path, mask) in &self.inodes {
            if let Err(e) = sys::mark(group, libc::FAN_MARK_ADD, *mask, path) {
                failed.insert(Target::Inode(path.clone()), e.to_string());
            }
        }
        let mut fs_marked = 0;
        for (dev, path) in &self.filesystems {
            let flags = libc::FAN_MARK_ADD | libc::FAN_MARK_FILESYSTEM;
            match sys::mark(group, flags, EXEC, path) {
                Ok(()) => fs_marked += 1,
                Err(e) => {
                    failed.insert(Target::Filesystem(*dev), format!("{}: {e}", path.display()));
                }
            }
        }
        let mut open_fs_errors = Vec::new();
        for path in self.open_filesystems.values() {
            let flags = libc::FAN_MARK_ADD | libc::FAN_MARK_FILESYSTEM;
            if let Err(e) = sys::mark(group, flags, OPEN, path) {
                open_fs_errors.push(format!("{}: {e}", path.display()));
            }
        }
        let describe = |t: &Target| match t {
            Target::Inode(p) => p.display().to_string(),
            Target::Filesystem(_) => String::new(),
        };
        let mut report = ApplyReport {
            enforced: Vec::new(),
            unenforceable: self.unenforceable,
            notes: self.notes,
        };
        if !open_fs_errors.is_empty() {
            report.notes.push(format!(
                "file allow-list mode: the kernel refused a whole-filesystem open mark, opens there get the default posture only where file rules put marks ({})",
                open_fs_errors.join("; ")
            ));
        }
        if self.exec_everywhere && !self.filesystems.is_empty() && fs_marked == 0 {
            let errors: Vec<&String> = failed
                .iter()
                .filter(|(t, _)| matches!(t, Target::Filesystem(_)))
                .map(|(_, e)| e)
                .collect();
            report.notes.push(format!(
                "process allow-list mode: the default posture is not applied to execs: every whole-filesystem exec mark was refused ({})",
                errors
                    .iter()
                    .map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        for (rule, rp) in &self.rules {
            let errors: Vec<String> = rp
                .primary
                .iter()
                .filter_map(|t| failed.get(t).map(|e| format!("{} {e}", describe(t))))
                .collect();
            let problems = self
                .problems
                .get(rule)
                .map(Vec::as_slice)
                .unwrap_or_default();
            if errors.len() == rp.primary.len() {
                let mut why: Vec<String> = problems.to_vec();
                if !errors.is_empty() {
                    why.push(format!(
                        "the kernel refused the mark: {}",
                        errors.join("; ").trim()
                    ));
                }
                if why.is_empty() {
                    why.push("nothing to mark".into());
                }
                report.unenforceable.push((*rule, why.join("; ")));
                continue;
            }
            report.enforced.push(*rule);
            if !errors.is_empty() {
                report.notes.push(format!(
                    "rule {rule}: some marks were refused: {}",
                    errors.join("; ").trim()
                ));
            }
            if !problems.is_empty() {
                report.notes.push(format!(
                    "rule {rule}: partly covered: {}",
                    problems.join("; ")
                ));
            }
            let lost = rp
                .secondary
                .iter()
                .filter(|t| failed.contains_key(t))
                .count();
            if lost > 0 {
                report.notes.push(format!(
                    "rule {rule}: {lost} subdirectories could not be watched"
                ));
            }
        }
        report.unenforceable.sort_by_key(|(i, _)| *i);
        report
    }

    /// The marked objects by identity, as they are now (see [`Identities`]).
    pub fn identities(&self) -> Identities {
        let mut ids = Identities::default();
        for path in self.inodes.keys() {
            let Ok(md) = std::fs::metadata(path) else {
                continue;
            };
            let Some(name) = self.rule_name(path) else {
                continue;
            };
            let name = &*name;
            let id = (md.dev(), md.ino());
            if md.is_dir() {
                let name = if name.len() > 1 {
                    name.trim_end_matches('/')
                } else {
                    name
                };
                ids.dirs.entry(id).or_insert_with(|| name.into());
            } else {
                ids.files.entry(id).or_insert_with(|| name.into());
            }
        }
        ids
    }

    /// Inode marks planned, for tests and diagnostics.
    #[cfg(test)]
    pub fn inode_marks(&self) -> &BTreeMap<PathBuf, u64> {
        &self.inodes
    }
}

/// One path per filesystem (by device) on which an exec mark should go: the filesystems
/// of `scope`, or every mounted filesystem that can hold executables.
pub(super) fn filesystems(scope: Option<&[PathBuf]>) -> Vec<(u64, PathBuf)> {
    let mut out: BTreeMap<u64, PathBuf> = BTreeMap::new();
    if let Some(scope) = scope {
        for p in scope {
            if let Ok(md) = std::fs::metadata(p) {
                out.entry(md.dev()).or_insert_with(|| p.clone());
            }
        }
        return out.into_iter().collect();
    }
    for (fstype, mount) in mounts() {
        if PSEUDO_FS.contains(&fstype.as_str()) {
            continue;
        }
        // The device number in mountinfo can differ from st_dev (btrfs subvolumes);
        // stat says what the kernel will mark.
        if let Ok(md) = std::fs::metadata(&mount) {
            out.entry(md.dev()).or_insert(mount);
        }
    }
    out.into_iter().collect()
}

/// The filesystems a container's execs and opens can come from that are its own: its
/// root, and the mounts of its namespace whose filesystem the host does not have mounted
/// (tmpfs and the like a runtime makes for it). Also: the mount points (as the container
/// names them) of filesystems the host shares, bind-mounted volumes — a whole-filesystem
/// mark on those would make the host's execs or opens wait for this container's group —
/// and the single files mounted from the host, which an inode mark covers alone.
fn container_filesystems(root: &Path) -> Filesystems {
    let mut own = filesystems(Some(&[root.to_path_buf()]));
    let mut shared = Vec::new();
    let mut shared_files = Vec::new();
    // Only a live process's root has a namespace to read (not a bundle's rootfs).
    let Some(proc_dir) = root
        .strip_prefix("/proc")
        .ok()
        .filter(|rest| rest.components().count() == 2 && rest.ends_with("root"))
        .and_then(|_| root.parent())
    else {
        return Filesystems {
            own,
            ..Filesystems::default()
        };
    };
    let host: BTreeSet<u64> = mounts()
        .into_iter()
        .filter_map(|(_, m)| std::fs::metadata(m).ok().map(|md| md.dev()))
        .collect();
    for (fstype, mount) in crate::kernel::fs::mounts_in(&proc_dir.join("mountinfo")) {
        if PSEUDO_FS.contains(&fstype.as_str()) {
            continue;
        }
        let Some(rest) = mount.to_str().map(|m| m.trim_start_matches('/')) else {
            continue;
        };
        // symlink_metadata: a mount point is never a symlink, and one planted since the
        // namespace was read must not lead out of the root.
        let Ok(md) = std::fs::symlink_metadata(root.join(rest)) else {
            continue;
        };
        if own.iter().any(|(dev, _)| *dev == md.dev()) {
            continue;
        }
        if host.contains(&md.dev()) {
            // Files like /etc/hosts are bind-mounted too: runnable ones are noted with
            // the directories (the exec marks do not reach them); any file can get an
            // inode mark of its own for opens.
            if md.is_dir() || md.mode() & 0o111 != 0 {
                shared.push(mount.display().to_string());
            }
            if md.is_file() {
                shared_files.push(root.join(rest));
            }
        } else {
            own.push((md.dev(), root.join(rest)));
        }
    }
    Filesystems {
        own,
        shared,
        shared_files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::matcher::Posture;
    use crate::policy::validate::{Options as VOptions, validate_bytes};

    const HEAD: &str = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: p}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n";

    fn set(body: &str) -> RuleSet {
        let doc = format!("{HEAD}{body}");
        let r = validate_bytes("t.yaml", doc.as_bytes(), VOptions::default());
        assert!(r.valid, "{:?}", r.diagnostics().collect::<Vec<_>>());
        RuleSet::from_policies(&r.policies().cloned().collect::<Vec<_>>())
    }

    fn plan(body: &str, max_dir_marks: usize) -> Plan {
        let s = set(body);
        let c = CompiledRules::new(&s, Posture::Audit);
        let mut opts = Options::new(Posture::Audit);
        opts.max_dir_marks = max_dir_marks;
        Plan::build(&s, &c, &opts, &Scope::host())
    }

    fn tree() -> PathBuf {
        let base = std::env::temp_dir().join(format!(
            "knoxctl-plan-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("a/b/c")).unwrap();
        std::fs::create_dir_all(base.join("d")).unwrap();
        std::fs::write(base.join("f"), b"x").unwrap();
        base
    }

    #[test]
    fn directory_rules_mark_the_tree_within_the_bound() {
        let base = tree();
        let b = base.display();
        let p = plan(
            &format!("  file:\n    matchDirectories:\n    - dir: {b}/\n      recursive: true\n"),
            100,
        );
        let marks = p.inode_marks();
        assert_eq!(marks.len(), 6, "{marks:?}");
        assert_eq!(
            marks[&base.join("f")],
            libc::FAN_OPEN_PERM,
            "files have their own mark"
        );
        let m = marks[&base.join("a/b/c")];
        assert_eq!(
            m,
            libc::FAN_OPEN_PERM | libc::FAN_EVENT_ON_CHILD | libc::FAN_ONDIR
        );
        let small = plan(
            &format!("  process:\n    matchDirectories:\n    - dir: {b}/\n      recursive: true\n"),
            1,
        );
        assert_eq!(small.inode_marks().len(), 3, "the bound, and the file");
        assert_eq!(
            small.filesystems.len(),
            1,
            "past the bound, exec falls back to the filesystem"
        );
        let flat = plan(
            &format!("  file:\n    matchDirectories:\n    - dir: {b}/\n"),
            100,
        );
        assert_eq!(flat.inode_marks().len(), 2);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn missing_paths_watch_their_directory() {
        let base = tree();
        let b = base.display();
        let p = plan(
            &format!(
                "  process:\n    matchPaths:\n    - path: {b}/not-yet\n    - path: {b}/x/y/z\n"
            ),
            100,
        );
        assert_eq!(
            p.inode_marks()[&base],
            libc::FAN_OPEN_EXEC_PERM | libc::FAN_EVENT_ON_CHILD
        );
        assert_eq!(p.problems.len(), 1);
        assert!(p.problems.contains_key(&1));
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn globs_mark_their_base_directory_and_depth() {
        let base = tree();
        let b = base.display();
        let p = plan(
            &format!("  file:\n    matchPatterns:\n    - pattern: {b}/*/x\n"),
            100,
        );
        let marks: Vec<_> = p.inode_marks().keys().cloned().collect();
        assert_eq!(marks, vec![base.clone(), base.join("a"), base.join("d")]);
        // One alternative's directory is missing: the rest still counts.
        let p = plan(
            &format!("  file:\n    matchPatterns:\n    - pattern: {b}/{{a,zzz}}/*\n"),
            100,
        );
        assert_eq!(
            p.inode_marks().keys().collect::<Vec<_>>(),
            vec![&base.join("a")]
        );
        assert_eq!(p.problems[&0].len(), 1, "{:?}", p.problems);
        assert!(p.unenforceable.is_empty());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn other_categories_are_reported_not_dropped() {
        let p = plan(
            "  capabilities:\n    matchCapabilities:\n    - capability: net_raw\n      fromSource: [{path: /bin/ping}]\n  process:\n    matchPaths:\n    - path: /bin/true\n      action: Audit\n",
            100,
        );
        assert_eq!(p.unenforceable.len(), 1);
        assert!(p.unenforceable[0].1.contains("BPF-LSM"));
        assert!(p.inode_marks().is_empty(), "audit rules get no mark");
    }

    #[test]
    fn walks_skip_pseudo_filesystems() {
        let p = plan(
            "  file:\n    matchDirectories:\n    - dir: /\n      recursive: true\n",
            200,
        );
        let marks = p.inode_marks();
        assert!(marks.contains_key(Path::new("/")));
        assert!(!marks.contains_key(Path::new("/proc/self")), "{marks:?}");
        assert!(
            !marks
                .keys()
                .any(|k| k.starts_with("/proc/") || k.starts_with("/sys/")),
            "{marks:?}"
        );
    }

    #[test]
    fn allow_list_marks_follow_the_category() {
        let base = tree();
        let b = base.display();
        let build = |body: &str| {
            let s = set(body);
            let c = CompiledRules::new(&s, Posture::Block);
            let mut opts = Options::new(Posture::Block);
            opts.exec_scope = Some(vec![base.clone()]);
            Plan::build(&s, &c, &opts, &Scope::host())
        };
        let proc_allow =
            format!("  process:\n    matchPaths:\n    - path: {b}/f\n      action: Allow\n");
        let file_allow =
            format!("  file:\n    matchDirectories:\n    - dir: {b}/d/\n      action: Allow\n");
        let has = |p: &Plan, s: &str| p.notes.iter().any(|n| n.starts_with(s));

        // Process Allow: every exec is seen; no open mark anywhere.
        let p = build(&proc_allow);
        assert!(p.exec_everywhere);
        assert_eq!(p.filesystems.len(), 1);
        assert!(
            p.inode_marks().values().all(|m| m & OPEN == 0),
            "{:?}",
            p.inode_marks()
        );
        assert!(has(&p, "process allow-list mode") && !has(&p, "file allow-list mode"));

        // File Allow: only the rule's directory is watched, and execs are left alone.
        let p = build(&file_allow);
        assert!(!p.exec_everywhere);
        assert!(p.filesystems.is_empty(), "no whole-filesystem exec mark");
        assert!(
            p.inode_marks().values().all(|m| m & EXEC == 0),
            "{:?}",
            p.inode_marks()
        );
        assert!(has(&p, "file allow-list mode") && !has(&p, "process allow-list mode"));

        let p = build(&format!("{proc_allow}{file_allow}"));
        assert!(p.exec_everywhere);
        assert!(has(&p, "process allow-list mode") && has(&p, "file allow-list mode"));
        assert!(
            p.open_filesystems.is_empty(),
            "no open mark on a host filesystem"
        );
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_containers_file_allow_list_marks_its_own_filesystems_for_opens() {
        // A bundle's rootfs stands for the container's root (no namespace to read).
        let base = tree();
        let build = |body: &str| {
            let s = set(body);
            let c = CompiledRules::new(&s, Posture::Block);
            let scope = Scope {
                root: &base,
                audits: true,
            };
            Plan::build(&s, &c, &Options::new(Posture::Block), &scope)
        };
        let p = build("  file:\n    matchPaths:\n    - path: /f\n      action: Allow\n");
        let dev = std::fs::metadata(&base).unwrap().dev();
        assert_eq!(
            p.open_filesystems.keys().collect::<Vec<_>>(),
            vec![&dev],
            "the root's filesystem"
        );
        assert!(
            p.filesystems.is_empty(),
            "no exec mark: execs are not allow-listed"
        );
        let note = p
            .notes
            .iter()
            .find(|n| n.starts_with("file allow-list mode"))
            .unwrap();
        assert!(
            note.contains("every open on the container's own filesystems")
                && note.contains("abstractions/base"),
            "{note}"
        );
        // A Block list or a process allow-list marks no filesystem for opens.
        let p = build("  file:\n    matchPaths:\n    - path: /f\n      action: Block\n");
        assert!(p.open_filesystems.is_empty());
        let p = build("  process:\n    matchPaths:\n    - path: /f\n      action: Allow\n");
        assert!(p.open_filesystems.is_empty());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
