//! BPF-LSM backend: loads lsm.bpf.c's programs (committed as lsm.bpf.o) on the kernel's
//! LSM hooks, fills their rule maps from the host's rule set ([`compile`]), and turns
//! their ring buffer records into [`EnforcerEvent`]s. Denials happen in the kernel and
//! return EACCES ("Permission denied"), as KubeArmor's users know it.
//!
//! Owns the backend's lifecycle and what lives in bpffs under the pin directory
//! (default [`DEFAULT_PIN_DIR`]): every map (pinned by name) and one link per hook.
//! Enforcement therefore survives the agent: a killed or stopped agent leaves the
//! programs attached with the last rules; a restarted agent re-adopts them (same
//! program: the pinned link is kept; a new build: the new link is attached before the
//! old one is unpinned, so there is never a moment without a program on the hook).
//! `knoxctl offboard vm` removes the directory, which detaches everything
//! ([`remove_pins`]).

pub mod compile;
pub mod containers;
mod event;
pub mod glob;

use super::{
    AlertAction, ApplyReport, Backend, Coverage, EnforceError, Enforcer, EnforcerEvent, Generation,
    Level, Op, OpResult, Operation, Postures, ProbeResult, RuleRef,
};
use crate::kernel::{self, wake::EventFd};
use crate::policy::normalize::RuleSet;
use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{Array, HashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::Lsm;
use aya::programs::links::{FdLink, PinnedLink};
use aya::{Btf, Ebpf, EbpfLoader};
use compile::{Compiled, PathFacts, Rules};
use event::{EventHeader, LsmOp, LsmVerdict};
use std::collections::BTreeSet;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/knoxctl";

static OBJECT: &[u8] = aya::include_bytes_aligned!("lsm.bpf.o");

/// (program in lsm.bpf.c, LSM hook).
const HOOKS: &[(&str, &str)] = &[
    ("knox_bprm_check", "bprm_check_security"),
    ("knox_mmap_file", "mmap_file"),
    ("knox_file_mprotect", "file_mprotect"),
    ("knox_file_open", "file_open"),
    ("knox_path_mknod", "path_mknod"),
    ("knox_path_mkdir", "path_mkdir"),
    ("knox_path_unlink", "path_unlink"),
    ("knox_path_rmdir", "path_rmdir"),
    ("knox_path_symlink", "path_symlink"),
    ("knox_path_rename", "path_rename"),
    ("knox_path_link", "path_link"),
    ("knox_path_chmod", "path_chmod"),
    ("knox_path_chown", "path_chown"),
    ("knox_path_truncate", "path_truncate"),
    ("knox_socket_create", "socket_create"),
    ("knox_socket_connect", "socket_connect"),
    ("knox_socket_accept", "socket_accept"),
    ("knox_capable", "capable"),
    ("knox_sb_mount", "sb_mount"),
    ("knox_sb_umount", "sb_umount"),
    ("knox_move_mount", "move_mount"),
];

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct SlotRaw {
    rule: u32,
    flags: u16,
    src_set: u16,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct RulesRaw {
    len: u32,
    nslots: u32,
    slots: [SlotRaw; compile::MAX_SLOTS],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct PathData {
    scope: u32,
    path: [u8; compile::KEY_PATH],
}

#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct InodeKey {
    scope: u32,
    dev: u32,
    ino: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct InodeRules {
    generation: u32,
    check_generation: u32,
    rules: RulesRaw,
}

/// `struct dir_id` in lsm.bpf.c.
#[repr(C)]
#[derive(Clone, Copy)]
struct DirIdRaw {
    generation: u32,
    check_generation: u32,
    kinds: u32,
    len: u32,
    parent_len: u32,
    mount_rule: u32,
    mount_flags: u32,
    path: [u8; DIR_PATH],
}

/// `DIR_PATH` in lsm.bpf.c.
const DIR_PATH: usize = 256;
const _: () = assert!(std::mem::size_of::<DirIdRaw>() == 28 + DIR_PATH);

#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct NameKey {
    scope: u32,
    name: [u8; compile::NAME_KEY],
}

#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct AppletKey {
    scope: u32,
    dev: u32,
    ino: u64,
    name: [u8; compile::NAME_KEY],
}

#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct NumKey {
    scope: u32,
    num: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct TargetRaw {
    flags: u32,
    generation: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct GlobScopeRaw {
    base: u32,
    nstates: u32,
    classes: [u8; 256],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct GlobRowRaw {
    next: [u16; glob::GLOB_CLASSES],
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct ConfigRaw {
    agent_tgid: u32,
    ns_per_tick: u32,
    agent_start: u64,
}

// SAFETY: all are repr(C) plain integers/arrays without padding holes that matter to the
// kernel (it copies the declared sizes, which match lsm.bpf.c's structs).
unsafe impl aya::Pod for SlotRaw {}
unsafe impl aya::Pod for RulesRaw {}
unsafe impl aya::Pod for PathData {}
unsafe impl aya::Pod for InodeKey {}
unsafe impl aya::Pod for InodeRules {}
unsafe impl aya::Pod for DirIdRaw {}
unsafe impl aya::Pod for NameKey {}
unsafe impl aya::Pod for NumKey {}
unsafe impl aya::Pod for AppletKey {}
unsafe impl aya::Pod for TargetRaw {}
unsafe impl aya::Pod for ConfigRaw {}
unsafe impl aya::Pod for GlobScopeRaw {}
unsafe impl aya::Pod for GlobRowRaw {}

/// Bits of a slot's rule above the index (compile::MAX_RULES) that hold the low bits of
/// the generation that wrote it. Seven, not eight: the programs report `rule + 1`, which
/// must not wrap.
const TAG_BITS: u32 = 7;
const INDEX_BITS: u32 = compile::MAX_RULES.trailing_zeros();

/// A rule index as the maps hold it: tagged with the generation that wrote the entry.
/// The programs read the target's generation before they look up entries, and an apply
/// bumps it before writing its entries and prunes the old ones after; so an event's
/// generation alone cannot tell which rule set an entry's index belongs to, the tag can.
fn tagged(index: u32, generation: u32) -> u32 {
    (generation & ((1 << TAG_BITS) - 1)) << INDEX_BITS | index
}

/// The rule a reported `rule` (tagged index) names: the generation nearest to the one the
/// event carries whose low bits are the tag (an entry is at most a few applies older or
/// newer than the generation its program read).
fn untag(rule: u32, seen: Generation) -> RuleRef {
    let index = rule & ((1 << INDEX_BITS) - 1);
    let tag = rule >> INDEX_BITS;
    let span = 1u32 << TAG_BITS;
    let ahead = tag.wrapping_sub(seen.0) & (span - 1);
    let generation = if ahead < span / 2 {
        seen.0.wrapping_add(ahead)
    } else {
        seen.0.wrapping_sub(span - ahead)
    };
    RuleRef {
        generation: Generation(generation),
        index: index as usize,
    }
}

fn raw_rules(r: &Rules, generation: u32) -> RulesRaw {
    let mut out = RulesRaw {
        len: r.len,
        nslots: r.slots.len().min(compile::MAX_SLOTS) as u32,
        ..RulesRaw::default()
    };
    for (i, s) in r.slots.iter().take(compile::MAX_SLOTS).enumerate() {
        out.slots[i] = SlotRaw {
            rule: tagged(s.rule, generation),
            flags: s.flags,
            src_set: s.src_set,
        };
    }
    out
}

/// A `knox_inodes` or `knox_ancestors` entry.
fn inode_entry(
    &(scope, dev, ino): &(u32, u32, u64),
    (generation, r): &(Option<u32>, Rules),
    g: u32,
) -> (InodeKey, InodeRules) {
    let v = InodeRules {
        generation: generation.unwrap_or(0),
        check_generation: u32::from(generation.is_some()),
        rules: raw_rules(r, g),
    };
    (InodeKey { scope, dev, ino }, v)
}

/// A `knox_dir_ids` entry.
fn dir_entry(
    &(scope, dev, ino): &(u32, u32, u64),
    d: &compile::DirId,
    g: u32,
) -> (InodeKey, DirIdRaw) {
    let mut path = [0u8; DIR_PATH];
    let b = d.path.as_bytes();
    let len = b.len().min(compile::KEY_PATH - 1);
    path[..len].copy_from_slice(&b[..len]);
    let parent_len = b[..len]
        .iter()
        .rposition(|&c| c == b'/')
        .map_or(0, |i| i + 1);
    let v = DirIdRaw {
        generation: d.generation.unwrap_or(0),
        check_generation: u32::from(d.generation.is_some()),
        kinds: d.kinds,
        len: len as u32,
        parent_len: parent_len as u32,
        mount_rule: d.mount_rule.map_or(0, |s| tagged(s.rule, g) + 1),
        mount_flags: d.mount_rule.map_or(0, |s| u32::from(s.flags)),
        path,
    };
    (InodeKey { scope, dev, ino }, v)
}

fn path_key(scope: u32, bytes: &[u8]) -> Key<PathData> {
    let mut path = [0u8; compile::KEY_PATH];
    let n = bytes.len().min(compile::KEY_PATH);
    path[..n].copy_from_slice(&bytes[..n]);
    Key::new(32 + 8 * n as u32, PathData { scope, path })
}

fn path_key_id(k: &Key<PathData>) -> (u32, Vec<u8>) {
    let d = k.data();
    let n = ((k.prefix_len().saturating_sub(32)) / 8) as usize;
    (d.scope, d.path[..n.min(compile::KEY_PATH)].to_vec())
}

fn name_bytes(name: &str) -> [u8; compile::NAME_KEY] {
    let mut n = [0u8; compile::NAME_KEY];
    let b = name.as_bytes();
    let len = b.len().min(compile::NAME_KEY - 1);
    n[..len].copy_from_slice(&b[..len]);
    n
}

fn name_key(scope: u32, name: &str) -> NameKey {
    NameKey {
        scope,
        name: name_bytes(name),
    }
}

fn applet_key(&(scope, dev, ino, ref name): &(u32, u32, u64, String)) -> AppletKey {
    AppletKey {
        scope,
        dev,
        ino,
        name: name_bytes(name),
    }
}

fn err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EnforceError {
    let context = context.into();
    move |source| EnforceError::Io {
        backend: Backend::BpfLsm,
        context,
        source,
    }
}

fn other(context: impl Into<String>, e: impl std::fmt::Display) -> EnforceError {
    EnforceError::Io {
        backend: Backend::BpfLsm,
        context: context.into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Mounts bpffs on /sys/fs/bpf when nothing is mounted there (minimal VMs, containers).
fn ensure_bpffs() -> Result<(), EnforceError> {
    kernel::fs::ensure(kernel::fs::PseudoFs::Bpf).map_err(|e| EnforceError::Io {
        backend: Backend::BpfLsm,
        context: format!("mounting {} on {}", e.fstype, e.target),
        source: e.source,
    })
}

fn lsm_active() -> (bool, String) {
    let lsms = super::active_lsms();
    (lsms.split(',').any(|l| l == "bpf"), lsms)
}

/// Loads the object with its maps pinned under `pin_dir` and every program verified.
fn load(pin_dir: &Path, btf: &Btf) -> Result<Ebpf, EnforceError> {
    std::fs::create_dir_all(pin_dir).map_err(err(format!("creating {}", pin_dir.display())))?;
    let seed = random_seed();
    let init_mnt_ns = init_mnt_ns();
    let mut ebpf = EbpfLoader::new()
        .btf(Some(btf))
        .override_global("knox_seed", &seed, true)
        .override_global("knox_init_mnt_ns", &init_mnt_ns, true)
        .default_map_pin_directory(pin_dir)
        .load(OBJECT)
        .map_err(|e| other("loading lsm.bpf.o", e))?;
    for (name, hook) in HOOKS {
        let p: &mut Lsm = ebpf
            .program_mut(name)
            .ok_or_else(|| other("lsm.bpf.o", format!("no program {name}")))?
            .try_into()
            .map_err(|e| other(format!("program {name}"), e))?;
        p.load(hook, btf).map_err(|e| {
            other(
                format!("loading the {hook} program"),
                kernel::verifier::load_error(&e),
            )
        })?;
    }
    Ok(ebpf)
}

/// Loads the programs into a scratch pin directory without attaching them: proves the
/// kernel accepts them here, changes nothing.
fn try_probe() -> Result<String, String> {
    let (active, lsms) = lsm_active();
    if !active {
        return Err(format!(
            "bpf is not in the kernel's active LSMs ({lsms}); boot with lsm=...,bpf (e.g. add it to GRUB_CMDLINE_LINUX)"
        ));
    }
    let btf =
        Btf::from_sys_fs().map_err(|e| format!("no kernel BTF (/sys/kernel/btf/vmlinux): {e}"))?;
    ensure_bpffs().map_err(|e| e.to_string())?;
    let dir = PathBuf::from(format!("/sys/fs/bpf/knoxctl-probe-{}", std::process::id()));
    let result = load(&dir, &btf).map(drop);
    let _ = std::fs::remove_dir_all(&dir);
    result.map_err(|e| e.to_string())?;
    Ok(format!(
        "the kernel verified all {} LSM programs (active LSMs: {lsms})",
        HOOKS.len()
    ))
}

pub fn probe() -> ProbeResult {
    ProbeResult::tried(Backend::BpfLsm, try_probe(), coverage)
}

fn coverage(usable: bool) -> Vec<Coverage> {
    Op::ALL
        .iter()
        .map(|&op| {
            let (level, note) = if !usable {
                (Level::None, "BPF-LSM programs cannot run on this kernel")
            } else {
                match op {
                    Op::Exec => (
                        Level::Enforced,
                        "bprm_check_security on the resolved file (symlinks, hard links, //, /./ cannot dodge it); mmap/mprotect PROT_EXEC stops loader tricks",
                    ),
                    Op::FileRead | Op::FileWrite => (
                        Level::Enforced,
                        "file_open, on the resolved path (walked to the mount namespace's root, so chroot cannot rename it) and inode; directory rules follow their directory by inode, so a file reached through a bind mount of it or of an ancestor (any mount namespace) is decided on its protected name. In the initial mount namespace, a mount (bind, move, new file system) on a protected directory, inside it or on an ancestor (/opt over /opt/fim) is refused with a Block alert. Not refused in other mount namespaces (systemd's ProtectSystem= sandboxing binds / and /usr in the service's own namespace): there a mount on or inside a protected directory is an Audit (Block) alert and one on an ancestor is not alerted",
                    ),
                    Op::Create => (
                        Level::Enforced,
                        "path_mknod/path_mkdir/path_symlink: the file is never created",
                    ),
                    Op::Unlink => (Level::Enforced, "path_unlink/path_rmdir"),
                    Op::Rename => (
                        Level::Enforced,
                        "path_rename/path_link: both names are checked, and renaming an ancestor directory of a protected path is refused",
                    ),
                    Op::Network => (
                        Level::Enforced,
                        "socket_create/connect/accept by protocol (DNS rules are not enforced)",
                    ),
                    Op::Capabilities => (Level::Enforced, "capable()"),
                }
            };
            Coverage {
                op,
                level,
                note: note.to_string(),
            }
        })
        .collect()
}

/// Whether programs pinned in `dir` are attached (enforcing), as opposed to leftover maps.
fn has_links(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with("link_"))
    })
}

/// Detaches every program and frees every map of an enforcer pinned in `dir`: what
/// remains pinned is all that keeps them alive once no agent runs.
pub fn remove_pins(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// The miss cache's hash key: unknown to the processes whose file identities it hashes.
/// The initial mount namespace's inode number (PID 1's): mounts over protected
/// directories and their ancestors are refused only there (lsm.bpf.c, mount_check). 0
/// when it cannot be read: such mounts are then only reported, as in other namespaces.
fn init_mnt_ns() -> u32 {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata("/proc/1/ns/mnt").map(|m| u32::try_from(m.ino())) {
        Ok(Ok(ino)) => ino,
        other => {
            tracing::warn!(
                ?other,
                "cannot read PID 1's mount namespace: mounts over protected directories and their ancestors are only reported, not refused"
            );
            0
        }
    }
}

fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most b.len() bytes into b.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n == b.len() as isize {
        u64::from_ne_bytes(b)
    } else {
        // Early boot without entropy: still unpredictable enough from outside the agent.
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ u64::from(std::process::id()).rotate_left(32)
    }
}

/// The start time of this process in clock ticks since boot (/proc/self/stat field 22),
/// compared by the kernel side with start_boottime: the agent is exempt only while it
/// is this very process, not whoever gets its pid later.
fn own_start_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    after
        .split_whitespace()
        .nth(19)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The kernel's encoding of a device number (MKDEV: major << 20 | minor), as in
/// `super_block.s_dev`.
fn kernel_dev(dev: u64) -> u32 {
    let major = libc::major(dev);
    let minor = libc::minor(dev);
    (major << 20) | minor
}

/// FS_IOC_GETVERSION: the inode generation, where the file system keeps one (ext4, xfs,
/// btrfs); it tells a reused inode number from the file a rule meant.
fn generation(path: &str) -> Option<u32> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .or_else(|_| std::fs::File::open(path))
        .ok()?;
    let mut g: libc::c_long = 0;
    const FS_IOC_GETVERSION: libc::c_ulong = 0x8008_7601;
    // SAFETY: the ioctl writes one long into g.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), FS_IOC_GETVERSION as _, &mut g) };
    (rc == 0).then_some(g as u32)
}

fn facts(path: &str) -> PathFacts {
    use std::os::unix::fs::MetadataExt;
    let canonical = std::fs::canonicalize(path)
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|c| c != path);
    let meta = std::fs::metadata(path).ok();
    let id = |m: &std::fs::Metadata| {
        let real = canonical.as_deref().unwrap_or(path);
        (kernel_dev(m.dev()), m.ino(), generation(real))
    };
    let inode = meta.as_ref().filter(|m| m.is_file()).map(id);
    let dir = meta.as_ref().filter(|m| m.is_dir()).map(id);
    PathFacts {
        canonical,
        inode,
        dir,
    }
}

struct Maps {
    paths: LpmTrie<MapData, PathData, RulesRaw>,
    sources: LpmTrie<MapData, PathData, RulesRaw>,
    inodes: HashMap<MapData, InodeKey, InodeRules>,
    ancestors: HashMap<MapData, InodeKey, InodeRules>,
    dir_ids: HashMap<MapData, InodeKey, DirIdRaw>,
    names: HashMap<MapData, NameKey, RulesRaw>,
    applets: HashMap<MapData, AppletKey, RulesRaw>,
    nums: HashMap<MapData, NumKey, RulesRaw>,
    targets: Array<MapData, TargetRaw>,
    cgroup_targets: HashMap<MapData, u64, u32>,
    /// The containers epoch: bumped after every change of `cgroup_targets`, it voids the
    /// programs' cached cgroup answers (`knox_cgroup_cache`, lsm.bpf.c).
    cgroup_epoch: Array<MapData, u32>,
    lost: PerCpuArray<MapData, u64>,
    glob_scopes: HashMap<MapData, u32, GlobScopeRaw>,
    glob_rows: Array<MapData, GlobRowRaw>,
    glob_accept: HashMap<MapData, u32, RulesRaw>,
}

fn take<T: TryFrom<aya::maps::Map>>(ebpf: &mut Ebpf, name: &str) -> Result<T, EnforceError>
where
    T::Error: std::fmt::Display,
{
    let m = ebpf
        .take_map(name)
        .ok_or_else(|| other("lsm.bpf.o", format!("no map {name}")))?;
    T::try_from(m).map_err(|e| other(format!("map {name}"), e))
}

pub struct BpfLsmEnforcer {
    /// Shared with the container side ([`containers::ContainerLsm`]): host applies and
    /// container applies write under this one lock.
    maps: Arc<Mutex<Maps>>,
    /// Handed out once, to the agent's container enforcement.
    containers: Option<containers::ContainerLsm>,
    pin_dir: PathBuf,
    postures: Postures,
    generation: u32,
    stopping: Arc<AtomicBool>,
    wake: Option<Arc<EventFd>>,
    reader: Option<JoinHandle<()>>,
    dropped: Arc<AtomicU64>,
    /// Kept so the programs stay loaded while the agent runs (the links are pinned).
    _ebpf: Ebpf,
}

impl BpfLsmEnforcer {
    pub fn start(
        events: SyncSender<EnforcerEvent>,
        postures: Postures,
        pin_dir: &Path,
    ) -> Result<BpfLsmEnforcer, EnforceError> {
        let (active, lsms) = lsm_active();
        if !active {
            return Err(EnforceError::Unsupported {
                backend: Backend::BpfLsm,
                reason: format!("bpf is not in the kernel's active LSMs ({lsms})"),
            });
        }
        let btf = Btf::from_sys_fs().map_err(|e| EnforceError::Unsupported {
            backend: Backend::BpfLsm,
            reason: format!("no kernel BTF: {e}"),
        })?;
        ensure_bpffs()?;
        let enforcing_before = has_links(pin_dir);
        let mut ebpf = load(pin_dir, &btf).map_err(|e| {
            // Loading pins the maps before the kernel gets to refuse a program: leave no
            // such debris behind when nothing was enforcing from there.
            if !enforcing_before {
                let _ = remove_pins(pin_dir);
            }
            EnforceError::Unsupported {
                backend: Backend::BpfLsm,
                reason: e.to_string(),
            }
        })?;
        // Exempt the agent before any rule could touch it.
        {
            let mut config: Array<MapData, ConfigRaw> = take(&mut ebpf, "knox_config")?;
            // SAFETY: sysconf has no preconditions.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u32;
            let c = ConfigRaw {
                agent_tgid: std::process::id(),
                ns_per_tick: 1_000_000_000 / hz,
                agent_start: own_start_ticks(),
            };
            config
                .set(0, c, 0)
                .map_err(|e| other("writing knox_config", e))?;
        }
        let maps = Maps {
            paths: take(&mut ebpf, "knox_paths")?,
            sources: take(&mut ebpf, "knox_sources")?,
            inodes: take(&mut ebpf, "knox_inodes")?,
            ancestors: take(&mut ebpf, "knox_ancestors")?,
            dir_ids: take(&mut ebpf, "knox_dir_ids")?,
            names: take(&mut ebpf, "knox_names")?,
            applets: take(&mut ebpf, "knox_applets")?,
            nums: take(&mut ebpf, "knox_nums")?,
            targets: take(&mut ebpf, "knox_targets")?,
            cgroup_targets: take(&mut ebpf, "knox_cgroup_targets")?,
            cgroup_epoch: take(&mut ebpf, "knox_cgroup_epoch")?,
            lost: take(&mut ebpf, "knox_lost")?,
            glob_scopes: take(&mut ebpf, "knox_glob_scopes")?,
            glob_rows: take(&mut ebpf, "knox_glob_rows")?,
            glob_accept: take(&mut ebpf, "knox_glob_accept")?,
        };
        let generation = maps.targets.get(&0, 0).map(|t| t.generation).unwrap_or(0);
        let ring: RingBuf<MapData> = take(&mut ebpf, "knox_events")?;
        attach_all(&mut ebpf, pin_dir)?;
        let maps = Arc::new(Mutex::new(maps));
        let attribution = containers::Attribution::default();
        let container_side =
            containers::ContainerLsm::new(maps.clone(), postures, attribution.clone())?;

        let stopping = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(EventFd::new().map_err(err("eventfd"))?);
        let dropped = Arc::new(AtomicU64::new(0));
        let reader = {
            let stopping = stopping.clone();
            let dropped = dropped.clone();
            let wake = wake.clone();
            std::thread::Builder::new()
                .name("bpf-lsm-events".into())
                .spawn(move || read_loop(ring, events, &stopping, &wake, &dropped, &attribution))
                .map_err(err("spawning the event reader"))?
        };
        Ok(BpfLsmEnforcer {
            maps,
            containers: Some(container_side),
            pin_dir: pin_dir.to_path_buf(),
            postures,
            generation,
            stopping,
            wake: Some(wake),
            reader: Some(reader),
            dropped,
            _ebpf: ebpf,
        })
    }

    /// Lost in the kernel because the ring buffer was full.
    pub fn lost_in_kernel(&self) -> u64 {
        self.maps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .lost
            .get(&0, 0)
            .map(|v| v.iter().sum())
            .unwrap_or(0)
    }

    fn write(&mut self, c: &Compiled) -> Result<(), EnforceError> {
        self.generation = self.generation.wrapping_add(1);
        let mut m = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        write_target(&mut m, 0, self.generation, c)
    }
}

/// Brings target `target`'s entries to `c` under generation `g`, leaving every other
/// target's entries alone (each target prunes only what its scopes name).
fn write_target(m: &mut Maps, target: u32, g: u32, c: &Compiled) -> Result<(), EnforceError> {
    {
        let werr = |what: &str| {
            let what = what.to_string();
            move |e: aya::maps::MapError| other(format!("writing {what}"), e)
        };
        // 1. While old and new entries coexist, the target enables both.
        let old = m.targets.get(&target, 0).map(|t| t.flags).unwrap_or(0);
        let both = TargetRaw {
            flags: old | (c.target_flags & compile::T_ENABLE),
            generation: g,
        };
        m.targets
            .set(target, both, 0)
            .map_err(werr("knox_targets"))?;
        // 2. New and changed entries (each update is atomic for the kernel).
        let sources = sync_map(
            &mut m.sources,
            "knox_sources",
            c.sources.iter().map(|(k, r)| (k.clone(), raw_rules(r, g))),
        )?;
        let paths = sync_map(
            &mut m.paths,
            "knox_paths",
            c.paths.iter().map(|(k, r)| (k.clone(), raw_rules(r, g))),
        )?;
        let inodes = sync_map(
            &mut m.inodes,
            "knox_inodes",
            c.inodes.iter().map(|(k, v)| inode_entry(k, v, g)),
        )?;
        let ancestors = sync_map(
            &mut m.ancestors,
            "knox_ancestors",
            c.ancestors.iter().map(|(k, v)| inode_entry(k, v, g)),
        )?;
        let dir_ids = sync_map(
            &mut m.dir_ids,
            "knox_dir_ids",
            c.dir_ids.iter().map(|(k, v)| dir_entry(k, v, g)),
        )?;
        let names = sync_map(
            &mut m.names,
            "knox_names",
            c.names
                .iter()
                .map(|((scope, name), r)| (name_key(*scope, name), raw_rules(r, g))),
        )?;
        let applets = sync_map(
            &mut m.applets,
            "knox_applets",
            c.applets
                .iter()
                .map(|(k, r)| (applet_key(k), raw_rules(r, g))),
        )?;
        let nums = sync_map(
            &mut m.nums,
            "knox_nums",
            c.nums
                .iter()
                .map(|(&(scope, num), r)| (NumKey { scope, num }, raw_rules(r, g))),
        )?;
        // Patterns (the host's only, see compile::compile_container): rows into the half
        // of the table no live scope uses, then the scopes.
        let live_half = m
            .glob_scopes
            .iter()
            .filter_map(Result::ok)
            .any(|(_, g)| g.base as usize >= compile::GLOB_HALF);
        let mut base = if live_half { 0 } else { compile::GLOB_HALF };
        // What an older apply left in this half is unreachable now, but would not be once
        // a scope points here: an accepting entry for a state that no longer accepts.
        let half = base..base + compile::GLOB_HALF;
        if target == 0 {
            for k in stale(m.glob_accept.keys(), |k| !half.contains(&(*k as usize))) {
                let _ = m.glob_accept.remove(&k);
            }
        }
        let (mut accepting, mut scopes) = (Vec::new(), Vec::new());
        for (scope, t) in &c.globs {
            for (i, row) in t.dfa.rows.iter().enumerate() {
                m.glob_rows
                    .set((base + i) as u32, GlobRowRaw { next: *row }, 0)
                    .map_err(werr("knox_glob_rows"))?;
            }
            accepting.extend(
                t.accept
                    .iter()
                    .map(|(state, r)| ((base + usize::from(*state)) as u32, raw_rules(r, g))),
            );
            let g = GlobScopeRaw {
                base: base as u32,
                nstates: t.dfa.rows.len() as u32,
                classes: t.dfa.classes,
            };
            scopes.push((*scope, g));
            base += t.dfa.rows.len();
        }
        // A scope is switched over only once its rows and accepting states are written.
        let glob_accept = sync_map(&mut m.glob_accept, "knox_glob_accept", accepting)?;
        let glob_scopes = sync_map(&mut m.glob_scopes, "knox_glob_scopes", scopes)?;
        // 3. The new target flags (allow-list and posture bits switch here, atomically).
        // The host's entry keeps saying whether containers have targets: that is the
        // container side's business (it writes under the same lock).
        let t = TargetRaw {
            flags: c.target_flags | (old & compile::T_CONTAINERS),
            generation: g,
        };
        m.targets.set(target, t, 0).map_err(werr("knox_targets"))?;
        // 4. Entries of rules that are gone, including those a previous agent left.
        let ours = |scope: u32| scope >> 2 == target;
        paths.prune(&mut m.paths, |(scope, _)| ours(*scope));
        sources.prune(&mut m.sources, |(set, _)| {
            compile::source_owner(*set) == target
        });
        inodes.prune(&mut m.inodes, |k| ours(k.scope));
        ancestors.prune(&mut m.ancestors, |k| ours(k.scope));
        dir_ids.prune(&mut m.dir_ids, |k| ours(k.scope));
        names.prune(&mut m.names, |k| ours(k.scope));
        applets.prune(&mut m.applets, |k| ours(k.scope));
        nums.prune(&mut m.nums, |k| ours(k.scope));
        glob_scopes.prune(&mut m.glob_scopes, |scope| ours(*scope));
        if target == 0 {
            glob_accept.prune(&mut m.glob_accept, |_| true);
        }
    }
    Ok(())
}

/// A rule map as `write` brings it to what the compiler wants: entries named by an id
/// the writer can compare (an LPM key is a prefix length and padded bytes).
trait RuleMap {
    type Key;
    type Id: Ord;
    type Value;
    fn key(id: &Self::Id) -> Self::Key;
    fn id(key: &Self::Key) -> Self::Id;
    fn put(&mut self, key: &Self::Key, value: &Self::Value) -> Result<(), aya::maps::MapError>;
    /// The keys the map holds now (collected: a map cannot change while its keys are
    /// being iterated).
    fn held(&self) -> Vec<Self::Key>;
    fn delete(&mut self, key: &Self::Key);
}

/// The hash maps: a key is its own id.
impl<K: aya::Pod + Ord, V: aya::Pod> RuleMap for HashMap<MapData, K, V> {
    type Key = K;
    type Id = K;
    type Value = V;
    fn key(id: &K) -> K {
        *id
    }
    fn id(key: &K) -> K {
        *key
    }
    fn put(&mut self, key: &K, value: &V) -> Result<(), aya::maps::MapError> {
        self.insert(key, value, 0)
    }
    fn held(&self) -> Vec<K> {
        self.keys().filter_map(Result::ok).collect()
    }
    fn delete(&mut self, key: &K) {
        let _ = self.remove(key);
    }
}

/// The path tries, named by (scope, path bytes) as the compiler names their entries.
impl RuleMap for LpmTrie<MapData, PathData, RulesRaw> {
    type Key = Key<PathData>;
    type Id = (u32, Vec<u8>);
    type Value = RulesRaw;
    fn key((scope, bytes): &(u32, Vec<u8>)) -> Key<PathData> {
        path_key(*scope, bytes)
    }
    fn id(key: &Key<PathData>) -> (u32, Vec<u8>) {
        path_key_id(key)
    }
    fn put(&mut self, key: &Key<PathData>, value: &RulesRaw) -> Result<(), aya::maps::MapError> {
        self.insert(key, value, 0)
    }
    fn held(&self) -> Vec<Key<PathData>> {
        self.keys().filter_map(Result::ok).collect()
    }
    fn delete(&mut self, key: &Key<PathData>) {
        let _ = self.remove(key);
    }
}

/// The ids a map keeps once the new rules are live.
struct Wanted<Id>(BTreeSet<Id>);

impl<Id: Ord> Wanted<Id> {
    /// Removes what the map holds beyond the wanted entries among those `owned` says
    /// belong to the target being written, including what a previous agent left.
    fn prune<M: RuleMap<Id = Id>>(self, map: &mut M, owned: impl Fn(&Id) -> bool) {
        for k in map.held() {
            let id = M::id(&k);
            if owned(&id) && !self.0.contains(&id) {
                map.delete(&k);
            }
        }
    }
}

/// Writes every wanted entry into `map` (new and changed ones; each update is atomic for
/// the kernel). Removing what is no longer wanted is left to the returned [`Wanted`]:
/// `write` prunes only once the new target flags are live, so that there is no moment
/// with neither the old nor the new rules.
fn sync_map<M: RuleMap>(
    map: &mut M,
    name: &str,
    wanted: impl IntoIterator<Item = (M::Id, M::Value)>,
) -> Result<Wanted<M::Id>, EnforceError> {
    let mut keep = BTreeSet::new();
    for (id, value) in wanted {
        map.put(&M::key(&id), &value)
            .map_err(|e| other(format!("writing {name}"), e))?;
        keep.insert(id);
    }
    Ok(Wanted(keep))
}

/// The keys a map holds that the new rules do not want; collected first, because the map
/// cannot be changed while its keys are being iterated.
fn stale<K>(
    keys: impl Iterator<Item = Result<K, aya::maps::MapError>>,
    wanted: impl Fn(&K) -> bool,
) -> Vec<K> {
    keys.filter_map(Result::ok).filter(|k| !wanted(k)).collect()
}

/// Attaches each program, or keeps the pinned link of an identical one.
fn attach_all(ebpf: &mut Ebpf, pin_dir: &Path) -> Result<(), EnforceError> {
    for (name, hook) in HOOKS {
        let p: &mut Lsm = ebpf
            .program_mut(name)
            .and_then(|p| p.try_into().ok())
            .ok_or_else(|| other("lsm.bpf.o", format!("no LSM program {name}")))?;
        let pin = pin_dir.join(format!("link_{hook}"));
        let tag = p.info().map(|i| i.tag()).ok();
        let pinned_tag = PinnedLink::from_pin(&pin).ok().and_then(|l| {
            let fd: FdLink = l.into();
            let prog_id = fd.info().ok()?.program_id();
            aya::programs::loaded_programs()
                .filter_map(Result::ok)
                .find(|i| i.id() == prog_id)
                .map(|i| i.tag())
        });
        if tag.is_some() && tag == pinned_tag {
            tracing::debug!(hook, "adopted the pinned BPF-LSM program");
            continue;
        }
        let id = p
            .attach()
            .map_err(|e| other(format!("attaching to {hook}"), e))?;
        let link: FdLink = p
            .take_link(id)
            .map_err(|e| other(format!("link of {hook}"), e))?
            .into();
        // The new link is live before the old pin goes: no gap on the hook.
        if pin.exists() {
            std::fs::remove_file(&pin).map_err(err(format!("unpinning {}", pin.display())))?;
        }
        let pinned = link
            .pin(&pin)
            .map_err(|e| other(format!("pinning {}", pin.display()), e))?;
        // Dropping the handle closes our descriptor; the pin keeps the link attached.
        drop(pinned);
    }
    Ok(())
}

impl Enforcer for BpfLsmEnforcer {
    fn backend(&self) -> Backend {
        Backend::BpfLsm
    }

    fn reports_every_decision(&self) -> bool {
        true
    }

    fn apply(&mut self, rules: &RuleSet) -> Result<ApplyReport, EnforceError> {
        let c = compile::compile(rules, &self.postures, &facts);
        self.write(&c)?;
        let mut notes = c.notes.clone();
        if c.target_flags & compile::T_APPLETS != 0 {
            notes.push("rules on symlinks to multi-call binaries (busybox applets) match that binary run under the applet's name, whatever the path; `busybox APPLET` (the name as an argument) is not matched".into());
        }
        notes.push(format!(
            "enforcement is pinned in {} and continues while the agent is down; `knoxctl offboard vm` removes it",
            self.pin_dir.display()
        ));
        Ok(ApplyReport {
            enforced: c.enforced,
            unenforceable: c.unenforceable,
            notes,
        })
    }

    /// Stops reporting. The programs stay attached with the last rules (pinned): that is
    /// the point of this backend; `remove_pins` ends enforcement.
    fn stop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(w) = &self.wake {
            w.signal();
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }

    fn dropped_events(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed) + self.lost_in_kernel()
    }

    fn generation(&self) -> Generation {
        Generation(self.generation)
    }

    fn container_rules(&mut self) -> Option<containers::ContainerLsm> {
        self.containers.take()
    }
}

impl Drop for BpfLsmEnforcer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read_loop(
    ring: RingBuf<MapData>,
    tx: SyncSender<EnforcerEvent>,
    stopping: &AtomicBool,
    wake: &EventFd,
    dropped: &AtomicU64,
    attribution: &containers::Attribution,
) {
    kernel::ring::read_until_stopped(
        ring,
        stopping,
        wake,
        // lsm.bpf.c submits with the default flags, which wake a reader that has caught
        // up: the timeout is only a safety net, and long while nothing happens.
        kernel::ring::PollTimeout {
            busy: 200,
            idle: 5_000,
        },
        "BPF-LSM events",
        |item, offset| {
            let Some(mut ev) = decode(item, offset) else {
                return;
            };
            // A container target's decision: the container it was made for, and the pids
            // its own pid namespace gives (alerts carry both, as KubeArmor's do).
            let Some((h, _)) = EventHeader::parse(item) else {
                return;
            };
            if h.target != 0 {
                // The generation that wrote the deciding rule's entry, else (a default
                // posture) the one the program read.
                let generation = ev.rule.map_or(h.generation, |r| r.generation.0);
                let Some(t) = containers::attributed(attribution, h.target, generation) else {
                    // Its container's rules are gone, or that many applies old: the host's
                    // rules (which the pipeline would look its generation up in) did not
                    // make it. Logged, not turned into a host alert.
                    tracing::warn!(
                        target_id = h.target, pid = ev.process.pid, resource = %ev.resource,
                        action = ?ev.action, "a decision of a removed container's rules: no alert"
                    );
                    return;
                };
                ev.container = Some(t);
                ev.process.ns_pid = h.ns_tgid as i32;
                ev.process.ns_ppid = h.ns_ppid as i32;
            }
            if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = tx.try_send(ev) {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
        },
    );
}

fn family_name(f: u32) -> String {
    match f {
        2 => "AF_INET".into(),
        10 => "AF_INET6".into(),
        17 => "AF_PACKET".into(),
        n => n.to_string(),
    }
}

fn type_name(t: u32) -> String {
    match t {
        1 => "SOCK_STREAM".into(),
        2 => "SOCK_DGRAM".into(),
        3 => "SOCK_RAW".into(),
        4 => "SOCK_RDM".into(),
        5 => "SOCK_SEQPACKET".into(),
        n => n.to_string(),
    }
}

/// One ring buffer record → an enforcer event (None if malformed).
fn decode(b: &[u8], offset: i128) -> Option<EnforcerEvent> {
    let (h, path) = EventHeader::parse(b)?;
    let ts = kernel::clock::boot_ns_to_epoch(h.ts_ns, offset);
    let op = LsmOp::from_raw(h.op)?;
    let verdict = LsmVerdict::from_raw(h.verdict)?;
    let (arg, arg2) = (h.arg, h.arg2);
    let comm = h.comm();
    // The path the process used, then (after a NUL) the protected name the rules decided on.
    // The kernel sends it whenever the object is below a protected directory; it is news
    // only when the process used another name (a bind mount, another namespace).
    let mut parts = path.split(|&c| c == 0);
    let path = parts.next().unwrap_or_default();
    let protected = parts
        .next()
        .filter(|p| !p.is_empty() && *p != path)
        .map(String::from_utf8_lossy);
    let path = String::from_utf8_lossy(path).into_owned();
    let (operation, resource, data) = match op {
        LsmOp::Exec => (
            Operation::Process,
            path,
            "lsm=SECURITY_BPRM_CHECK".to_string(),
        ),
        LsmOp::Mmap => (
            Operation::Process,
            path,
            "lsm=SECURITY_MMAP_FILE prot=PROT_EXEC".to_string(),
        ),
        LsmOp::Open => (Operation::File, path, open_data(arg)),
        LsmOp::Create
        | LsmOp::Mkdir
        | LsmOp::Unlink
        | LsmOp::Rmdir
        | LsmOp::Rename
        | LsmOp::Link
        | LsmOp::Symlink
        | LsmOp::Chmod
        | LsmOp::Chown
        | LsmOp::Truncate => {
            let hook = match op {
                LsmOp::Create => "SECURITY_PATH_MKNOD",
                LsmOp::Mkdir => "SECURITY_PATH_MKDIR",
                LsmOp::Unlink => "SECURITY_PATH_UNLINK",
                LsmOp::Rmdir => "SECURITY_PATH_RMDIR",
                LsmOp::Rename => "SECURITY_PATH_RENAME",
                LsmOp::Link => "SECURITY_PATH_LINK",
                LsmOp::Symlink => "SECURITY_PATH_SYMLINK",
                LsmOp::Chmod => "SECURITY_PATH_CHMOD",
                LsmOp::Chown => "SECURITY_PATH_CHOWN",
                _ => "SECURITY_PATH_TRUNCATE",
            };
            let data = match op {
                LsmOp::Rename | LsmOp::Link if arg == 1 => format!("lsm={hook} name=new"),
                LsmOp::Rename | LsmOp::Link => format!("lsm={hook} name=old"),
                _ => format!("lsm={hook}"),
            };
            (Operation::File, path, data)
        }
        LsmOp::Socket | LsmOp::Connect | LsmOp::Accept => {
            let hook = match op {
                LsmOp::Socket => "SOCKET_CREATE",
                LsmOp::Connect => "SOCKET_CONNECT",
                _ => "SOCKET_ACCEPT",
            };
            let resource = format!(
                "domain={} type={} protocol={}",
                family_name(arg >> 16),
                type_name(arg & 0xffff),
                arg2
            );
            (
                Operation::Network,
                resource.clone(),
                format!("lsm={hook} {resource}"),
            )
        }
        LsmOp::Mount => {
            let hook = if arg == 1 {
                "SECURITY_MOVE_MOUNT"
            } else {
                "SECURITY_SB_MOUNT"
            };
            (Operation::File, path, format!("lsm={hook}"))
        }
        LsmOp::Capable => {
            let cap = compile::cap_name(arg);
            (
                Operation::Capabilities,
                cap.clone(),
                format!("lsm=CAPABLE cap={cap}"),
            )
        }
    };
    let (action, result, rule) = match verdict {
        LsmVerdict::Deny => {
            let result = if op == LsmOp::Capable {
                OpResult::OperationNotPermitted
            } else {
                OpResult::PermissionDenied
            };
            (AlertAction::Block, result, h.rule.checked_sub(1))
        }
        LsmVerdict::Audit => (AlertAction::Audit, OpResult::Passed, h.rule.checked_sub(1)),
        LsmVerdict::PostureAudit => (AlertAction::Audit, OpResult::Passed, None),
        LsmVerdict::AuditBlock => (
            AlertAction::AuditBlock,
            OpResult::Passed,
            h.rule.checked_sub(1),
        ),
    };
    // As fanotify says it: the protected path the decision was made on.
    let data = match protected {
        Some(p) => format!("{data} protected={p}"),
        None => data,
    };
    let rule = rule.map(|r| untag(r, Generation(h.generation)));
    let mut process = crate::procfs::process_info(h.tgid as i32);
    if process.exe.is_empty() {
        // Gone already: keep what the kernel told us.
        process.ppid = h.ppid as i32;
        process.uid = h.uid;
        process.exe = comm.clone();
    }
    Some(EnforcerEvent {
        backend: Backend::BpfLsm,
        operation,
        resource,
        data,
        rule,
        action,
        result,
        process,
        timestamp_ns: ts,
        container: None,
    })
}

/// `Data` of a file_open decision.
pub(crate) fn open_data(flags: u32) -> String {
    format!(
        "lsm=SECURITY_FILE_OPEN flags={}",
        kernel::flags::open_flags(flags)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(h: EventHeader, path: &[u8]) -> Vec<u8> {
        let mut b = h.to_bytes();
        b.extend_from_slice(path);
        while !b.len().is_multiple_of(8) {
            b.push(0);
        }
        b
    }

    #[test]
    fn a_tagged_index_names_the_generation_that_wrote_it() {
        let of = |index, written: u32, seen: u32| untag(tagged(index, written), Generation(seen));
        // The entry's own generation, one older (about to be pruned), one newer (its
        // program read the target before the apply bumped it), across the wrap of u32.
        for (written, seen) in [
            (9, 9),
            (8, 9),
            (10, 9),
            (u32::MAX, 0),
            (0, u32::MAX),
            (130, 127),
        ] {
            let r = of(5, written, seen);
            assert_eq!(
                (r.generation, r.index),
                (Generation(written), 5),
                "{written} seen at {seen}"
            );
        }
        let last = (compile::MAX_RULES - 1) as u32;
        assert_eq!(of(last, 127, 127).index, last as usize);
        // The programs report rule + 1: it must not wrap to "the default posture".
        assert!(tagged(last, u32::MAX).checked_add(1).is_some());
    }

    #[test]
    fn decodes_records() {
        let mut h = EventHeader {
            ts_ns: 1_000,
            tgid: u32::MAX - 1, // no such process: the record's own facts are kept
            ppid: 7,
            uid: 1000,
            rule: tagged(2, 9) + 1,
            generation: 9,
            arg: (libc::O_WRONLY | libc::O_CREAT) as u32,
            op: LsmOp::Open as u8,
            verdict: LsmVerdict::Deny as u8,
            path_len: 8,
            ..EventHeader::default()
        };
        h.comm[..3].copy_from_slice(b"cat");
        let ev = decode(&record(h, b"/etc/foo"), 5).unwrap();
        assert_eq!(ev.timestamp_ns, 1_005);
        assert_eq!(ev.operation, Operation::File);
        assert_eq!(ev.resource, "/etc/foo");
        assert_eq!(ev.data, "lsm=SECURITY_FILE_OPEN flags=O_WRONLY|O_CREAT");
        let rule = RuleRef {
            generation: Generation(9),
            index: 2,
        };
        assert_eq!(ev.rule, Some(rule));
        assert_eq!(
            (ev.action.as_str(), ev.result.as_str()),
            ("Block", "Permission denied")
        );
        assert_eq!(
            (ev.process.exe.as_str(), ev.process.ppid, ev.process.uid),
            ("cat", 7, 1000)
        );

        // Decided on the protected name: the path the process used stays the Resource.
        let both = b"/mnt/bm/f\0/opt/fim/f";
        h.path_len = both.len() as u16;
        let ev = decode(&record(h, both), 0).unwrap();
        assert_eq!(ev.resource, "/mnt/bm/f");
        assert_eq!(
            ev.data,
            "lsm=SECURITY_FILE_OPEN flags=O_WRONLY|O_CREAT protected=/opt/fim/f"
        );
        // The same name twice (no other name was used): nothing to add.
        let same = b"/etc/foo\0/etc/foo";
        h.path_len = same.len() as u16;
        let ev = decode(&record(h, same), 0).unwrap();
        assert_eq!(
            (ev.resource.as_str(), ev.data.as_str()),
            ("/etc/foo", "lsm=SECURITY_FILE_OPEN flags=O_WRONLY|O_CREAT")
        );
        // A mount inside a protected directory: not refused, alerted as Audit (Block).
        let mut m = h;
        m.op = LsmOp::Mount as u8;
        m.verdict = LsmVerdict::AuditBlock as u8;
        m.arg = 0;
        m.path_len = 8;
        let ev = decode(&record(m, b"/opt/fim"), 0).unwrap();
        assert_eq!(
            (ev.resource.as_str(), ev.data.as_str()),
            ("/opt/fim", "lsm=SECURITY_SB_MOUNT")
        );
        assert_eq!(
            (ev.action.as_str(), ev.result.as_str(), ev.rule),
            ("Audit (Block)", "Passed", Some(rule))
        );

        h.op = LsmOp::Capable as u8;
        h.arg = 21;
        h.path_len = 0;
        let ev = decode(&record(h, b""), 0).unwrap();
        assert_eq!(ev.resource, "CAP_SYS_ADMIN");
        assert_eq!(ev.result, "Operation not permitted");

        h.verdict = LsmVerdict::PostureAudit as u8;
        let ev = decode(&record(h, b""), 0).unwrap();
        assert_eq!((ev.rule, ev.action.as_str()), (None, "Audit"));

        // A path_len past the record is clamped (the padding is no protected name);
        // unknown codes and short records are skipped.
        h.op = LsmOp::Exec as u8;
        h.path_len = 500;
        let ev = decode(&record(h, b"/bin/x"), 0).unwrap();
        assert_eq!(
            (ev.resource.as_str(), ev.data.as_str()),
            ("/bin/x", "lsm=SECURITY_BPRM_CHECK")
        );
        h.op = 99;
        assert!(decode(&record(h, b""), 0).is_none());
        h.op = LsmOp::Exec as u8;
        h.verdict = 9;
        assert!(decode(&record(h, b""), 0).is_none());
        assert!(decode(&[0u8; 10], 0).is_none());
    }
}
