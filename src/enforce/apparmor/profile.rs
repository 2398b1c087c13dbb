//! Rule set → AppArmor profile text. Pure: the unit tests and the golden files under
//! tests/apparmor/ check the text, tests/apparmor.rs runs `apparmor_parser` on it.
//!
//! Shape (host target):
//! - `knoxctl-host`, attached to `/**`: every program exec'd by an unconfined process
//!   after the load lands in it, services started by init included, because the kernel
//!   picks the profile whose attachment matches the new program best and `/**` matches
//!   all. It allows everything (`"/{,**}" mrwlk`, `network`, `capability`, mount, ptrace,
//!   signal, unix, dbus, change_profile) except what the rules deny, and its execs are
//!   `pix`: the kernel looks the new program up by attachment again, so a program with a
//!   more specific profile (a distro profile, a fromSource profile below) gets that one,
//!   and anything else stays in `knoxctl-host`.
//! - `knoxctl-host-src-…`, one per fromSource path, attached to that path: the program
//!   itself runs in it (file, network and capability rules with that source: KubeArmor's
//!   "current executable"), and its execs are decided there (process rules with that
//!   source: "the parent's executable"). Its own children go back through attachment
//!   (`pix`), so a source's rules do not reach its grandchildren, as with BPF-LSM.
//!   KubeArmor uses child profiles with `px` for this; top-level profiles with an
//!   attachment also catch the source when an unconfined process (init) starts it.
//!
//! Rules (KubeArmor's AppArmor template, with knoxctl's readOnly/ownerOnly semantics,
//! which hold whatever the action):
//! - process Block: `audit deny G mx`; Allow: `G pix` (matters in allow-list mode);
//!   ownerOnly: `owner G pix` + `audit deny other G mx`. `x` is checked against the
//!   profile of the process that calls exec, so an unconfined parent (one started before
//!   the first load: init, a running sshd or shell) is not refused the exec. `m` (mapping
//!   executable) stops `ld.so PROGRAM`. For the unconfined parent, a profile
//!   `knoxctl-host-block-N` attached to the blocked path grants nothing, so the program
//!   fails before main (its libraries cannot be opened; the file of the program itself
//!   was opened by the parent and is delegated, so `m` does not stop it there).
//! - file Block: `audit deny G mrwlk`; Allow: `G mrwlk`; readOnly: `G mr` + `audit deny
//!   G wl`; ownerOnly: `owner G mrwlk` (`mr` + `audit deny owner G wl` with readOnly) +
//!   `audit deny other G mrwlk`.
//! - G: a path (quoted, glob characters escaped), `DIR/{,*}` or `DIR/{,**}` (recursive),
//!   `/**/NAME` for execname, a pattern as written (AppArmor globs).
//! - network by socket domain and type (the parser knows no protocol numbers); capability
//!   by name. `deny` is `audit deny` so that denials reach the audit log (plain `deny` is
//!   silent).
//! - allow-list mode with posture block: the matching "allow everything" line is left
//!   out and only the Allow rules' lines grant; for files also what AppArmor's
//!   `abstractions/base` grants every program (loader, libraries, locale, `/dev/null`),
//!   written inline from [`crate::policy::base_abstraction`], as KubeArmor's host and
//!   container profiles include it (deny rules still win there). With posture audit (files and execs) the
//!   allow-everything line carries `audit` (`audit "/{,**}" pix,`; for files `rwlk`
//!   audited and `m` not, so that mapping a library is not a second record of its open):
//!   the kernel writes a record of each such operation, and since AppArmor unions the
//!   audit bits of all matching rules, of those an Allow rule grants too. The alert
//!   reader judges each record with the matcher and keeps only default-posture ones (the
//!   eBPF monitor reports matched Audit rules, not the default posture). Network and
//!   capabilities in allow-list mode with posture audit stay silent.
//! - Audit rules never reach the kernel (as in KubeArmor): the monitor reports them.
//! - Raw rules (`spec.apparmor`, KubeArmor's native AppArmor rules) are copied as written
//!   after the rules' lines into `knoxctl-host` and every source profile (they hold for
//!   every program of the target, as rules without fromSource do), and into a container's
//!   profile, as KubeArmor puts them into the target's profile. Before a load the agent
//!   compiles them alone and with the profiles ([`super::check_raw`]), so that a rule the
//!   parser refuses fails the apply with its policy named and nothing replaced.
//!
//! knoxctl's own programs: `apparmor_parser` and the agent's binary are exempt. Attached
//! to `/**`, `knoxctl-host` would otherwise also confine the parser the agent runs (and an
//! agent restarted after the load): under an allow-list with a block posture the parser
//! would lack `capability mac_admin` or its own files, and the next apply would fail; a
//! Block rule could hit the agent. Each gets a profile attached exactly to its path
//! (`knoxctl-parser`, `knoxctl-agent`; an exact attachment beats `/**`) that allows
//! everything, as unconfined does: its execs go through attachment again (`pix`), as an
//! unconfined process's do. [`Exempt::detect`] finds the paths; [`host`] (the golden
//! tests' entry) has none unless they are given through [`Options`].
//!
//! Rule classes newer parsers and kernels know (`userns`, `io_uring`, `mqueue`: AppArmor
//! 4) are added to the allow-everything part when both the kernel
//! (`/sys/kernel/security/apparmor/features`) and the parser support them
//! ([`Features::detect`]): a profile compiled for a kernel that mediates them denies
//! what it does not grant, and a parser that does not know them refuses the profile.

use crate::enforce::Postures;
use crate::policy::Action;
use crate::policy::base_abstraction::{self, Access};
use crate::policy::matcher::Posture;
use crate::policy::normalize::{Category, Matcher, RawAppArmor, Rule, RuleSet};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;

/// Every profile knoxctl loads starts with it (offboard removes them by it).
pub const PREFIX: &str = "knoxctl-";
pub const HOST: &str = "knoxctl-host";
const SOURCE_PREFIX: &str = "knoxctl-host-src-";
const BLOCK_PREFIX: &str = "knoxctl-host-block-";
/// The profile of the `apparmor_parser` the agent runs.
pub const PARSER: &str = "knoxctl-parser";
/// The profile of the agent's own binary (knoxctl), when started after a load.
pub const AGENT: &str = "knoxctl-agent";
const FLAGS: &str = "flags=(attach_disconnected,mediate_deleted)";

/// Socket domains other than inet, inet6 and packet, which rules never restrict (unix
/// and netlink are local IPC, as in KubeArmor's BPF enforcer): granted one by one when
/// the network category is in allow-list mode with posture block.
const OTHER_DOMAINS: &[&str] = &[
    "unix",
    "ax25",
    "ipx",
    "appletalk",
    "netrom",
    "bridge",
    "atmpvc",
    "x25",
    "rose",
    "netbeui",
    "security",
    "key",
    "netlink",
    "ash",
    "econet",
    "atmsvc",
    "rds",
    "sna",
    "irda",
    "pppox",
    "wanpipe",
    "llc",
    "ib",
    "mpls",
    "can",
    "tipc",
    "bluetooth",
    "iucv",
    "rxrpc",
    "isdn",
    "phonet",
    "ieee802154",
    "caif",
    "alg",
    "nfc",
    "vsock",
    "kcm",
    "qipcrtr",
    "smc",
    "xdp",
];

/// Rule classes the allow-everything part grants besides files, network and capabilities.
const ALLOW_REST: &[&str] = &[
    "mount,",
    "umount,",
    "pivot_root,",
    "ptrace,",
    "signal,",
    "unix,",
    "dbus,",
    "change_profile,",
    // Escaping the rules by changing to no profile at all is not allowed.
    "audit deny change_profile -> unconfined,",
];

/// The file grants of AppArmor's `abstractions/base` as profile lines, generated from
/// [`base_abstraction`] (the list the fanotify backend and `policy test` apply), for a
/// file allow-list with posture block: KubeArmor's profiles `#include` it, so there every
/// program still loads its libraries, locale and time zone and writes `/dev/null`. Inline
/// rather than `#include <abstractions/base>`: a VM or host may not ship the abstraction
/// files. A read grant is `mr` (base maps the loader, libraries and `ld.so.cache`
/// executable). Deny rules win over them in AppArmor, so Block rules, readOnly and
/// ownerOnly still hold on these paths.
fn base_lines() -> Vec<String> {
    base_abstraction::grants_written()
        .map(|(glob, access)| {
            let perms = match access {
                Access::Read => "mr",
                Access::Write => "w",
                Access::ReadWrite => "rw",
            };
            // A fixed list, checked by a unit test: every grant is a valid pattern.
            let g = pattern(glob).unwrap_or_else(|e| panic!("base grant {glob}: {e}"));
            format!("{g} {perms},")
        })
        .collect()
}

/// Pushes the `abstractions/base` grants ([`base_lines`]) with a comment saying why.
fn push_base(b: &mut Body) {
    b.push("# abstractions/base: what every program needs (file allow-list, posture block)".into());
    for l in base_lines() {
        b.push(l);
    }
}

/// Rule classes of AppArmor 4 the allow-everything part grants where both the kernel
/// and the parser know them: (rule, the kernel's feature file under
/// /sys/kernel/security/apparmor/features).
const NEWER_CLASSES: &[(&str, &str)] = &[
    ("userns,", "namespaces/userns_create"),
    ("io_uring,", "io_uring"),
    ("mqueue,", "ipc/posix_mqueue"),
];

/// Programs that must not be confined by knoxctl's rules: the parser that loads them and
/// the agent. Paths as the kernel sees them (symlinks resolved).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exempt {
    pub parser: Option<String>,
    pub agent: Option<String>,
}

impl Exempt {
    /// The `apparmor_parser` [`super::parser`] finds and the running binary, when they
    /// exist (a replaced binary's /proc/self/exe ends in " (deleted)": left out).
    pub fn detect() -> Exempt {
        let real = |p: &std::path::Path| -> Option<String> {
            let r = std::fs::canonicalize(p).ok()?;
            r.is_file().then(|| r.to_str().map(str::to_string))?
        };
        Exempt {
            parser: super::parser().as_deref().and_then(real),
            agent: std::env::current_exe().ok().as_deref().and_then(real),
        }
    }
}

/// The newer rule classes both the kernel and the parser support.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Features {
    /// Lines such as `userns,`, added to every allow-everything part.
    pub rules: Vec<String>,
}

impl Features {
    /// Asks the kernel's feature tree, then the parser (a parse-only run per class the
    /// kernel has; none on kernels without them), once per process.
    pub fn detect() -> Features {
        static DETECTED: std::sync::OnceLock<Features> = std::sync::OnceLock::new();
        DETECTED
            .get_or_init(|| {
                let root = std::path::Path::new(super::SECURITYFS).join("features");
                let Some(parser) = super::parser() else {
                    return Features::default();
                };
                let rules = NEWER_CLASSES
                    .iter()
                    .filter(|(_, f)| root.join(f).exists())
                    .filter(|(rule, _)| parser_accepts(&parser, rule))
                    .map(|(rule, _)| rule.to_string())
                    .collect();
                Features { rules }
            })
            .clone()
    }
}

/// Whether `parser` compiles a profile holding `rule` (no kernel load).
fn parser_accepts(parser: &std::path::Path, rule: &str) -> bool {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let Ok(mut child) = Command::new(parser)
        .args(["--skip-kernel-load", "--skip-cache", "-Q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let text = format!("profile {PREFIX}feature-check {{\n  {rule}\n}}\n");
    let written = child
        .stdin
        .take()
        .is_some_and(|mut s| s.write_all(text.as_bytes()).is_ok());
    child.wait().is_ok_and(|s| s.success()) && written
}

/// What [`generate`] needs besides the rules.
pub struct Options<'a> {
    /// The resolved spelling of a path reached through a symlink.
    pub resolve: Resolve<'a>,
    pub exempt: Exempt,
    pub features: Features,
}

/// One load: the text of every profile, in one file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profiles {
    pub text: String,
    /// The profile names, `knoxctl-host` first.
    pub names: Vec<String>,
    /// Rules the profiles enforce (indexes into the rule set).
    pub enforced: Vec<usize>,
    pub unenforceable: Vec<(usize, String)>,
    pub notes: Vec<String>,
    /// The policies whose raw rules (`spec.apparmor`) the profiles hold.
    pub raw: Vec<String>,
}

/// `(domain, type)` pairs of a protocol rule, or why AppArmor cannot express it.
fn sockets(protocol: &str) -> Result<Vec<&'static str>, String> {
    let both = |t: &'static str| -> Vec<&'static str> {
        match t {
            "stream" => vec!["inet stream", "inet6 stream"],
            "dgram" => vec!["inet dgram", "inet6 dgram"],
            "raw" => vec!["inet raw", "inet6 raw"],
            "rdm" => vec!["inet rdm", "inet6 rdm"],
            _ => vec!["inet seqpacket", "inet6 seqpacket"],
        }
    };
    Ok(match protocol {
        "tcp" | "stream" => both("stream"),
        "udp" | "dgram" => both("dgram"),
        "raw" => both("raw"),
        "rdm" => both("rdm"),
        "seqpacket" => both("seqpacket"),
        "icmp" => vec!["inet raw"],
        "icmpv6" => vec!["inet6 raw"],
        "packet" => vec!["packet"],
        "all" => vec!["inet", "inet6", "packet"],
        "sctp" | "dccp" => {
            return Err(format!(
                "{protocol}: AppArmor network rules name a socket's domain and type, not its protocol"
            ));
        }
        other => return Err(format!("unknown protocol {other}")),
    })
}

/// A literal path as an AppArmor path expression: quoted, glob characters escaped.
pub fn literal(path: &str) -> Result<String, String> {
    check_chars(path)?;
    let mut s = String::with_capacity(path.len() + 2);
    s.push('"');
    for c in path.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '^' | '\\' | '@') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    Ok(s)
}

/// A pattern (already AppArmor glob syntax), quoted so that nothing in it ends the rule.
fn pattern(p: &str) -> Result<String, String> {
    check_chars(p)?;
    if !p.starts_with('/') {
        return Err("an AppArmor path pattern must start with /".into());
    }
    if p.contains("@{") {
        return Err("AppArmor variables (@{...}) are not defined in knoxctl's profiles".into());
    }
    let trailing = p.chars().rev().take_while(|&c| c == '\\').count();
    if trailing % 2 == 1 {
        return Err(
            "a pattern ending in an unescaped \\ would escape the rule's closing quote".into(),
        );
    }
    // knoxctl's matcher (glob's shell syntax) negates a class with `[!`; AppArmor with `[^`,
    // reading `!` as a literal.
    let mut out = String::with_capacity(p.len() + 2);
    out.push('"');
    let mut escaped = false;
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '[' && !escaped && chars.peek() == Some(&'!') {
            chars.next();
            out.push('^');
        }
        escaped = c == '\\' && !escaped;
    }
    out.push('"');
    Ok(out)
}

fn check_chars(s: &str) -> Result<(), String> {
    if s.chars().any(|c| c == '"' || c.is_control()) {
        return Err("a double quote or control character cannot be put in an AppArmor rule".into());
    }
    Ok(())
}

/// The path expression a process or file rule covers.
fn glob(m: &Matcher) -> Result<String, String> {
    match m {
        Matcher::Path { path } => literal(path),
        Matcher::Execname { name } => {
            let l = literal(name)?;
            Ok(format!("\"/**/{}", &l[1..]))
        }
        Matcher::Directory { dir, recursive } => {
            let l = literal(dir)?;
            let suffix = if *recursive { "{,**}" } else { "{,*}" };
            Ok(format!("{}{suffix}\"", &l[..l.len() - 1]))
        }
        Matcher::Pattern { pattern: p } => pattern(p),
        _ => Err("not a path".into()),
    }
}

/// A rule's path expressions: [`glob`], and for a literal path or directory that is
/// reached through a symlink also the resolved spelling, which is the one AppArmor sees
/// (`/bin/bash` is `/usr/bin/bash` on merged-/usr systems).
fn globs(m: &Matcher, resolve: Resolve) -> Result<Vec<String>, String> {
    let mut v = vec![glob(m)?];
    let other = match m {
        Matcher::Path { path } => resolve(path).map(|p| Matcher::Path { path: p }),
        Matcher::Directory { dir, recursive } => resolve(dir.trim_end_matches('/'))
            .filter(|d| d != "/")
            .map(|d| Matcher::Directory {
                dir: format!("{d}/"),
                recursive: *recursive,
            }),
        _ => None,
    };
    if let Some(o) = other.filter(|o| o != m) {
        v.push(glob(&o)?);
    }
    Ok(v)
}

/// What a path is once symlinks are resolved, when it exists and differs (the backend
/// asks the file system; tests pass their own).
pub type Resolve<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The lines one rule puts in a profile; `exec` is the mode an allowed exec gets (`pix` on
/// the host, `ix` in a container's profile).
fn lines(rule: &Rule, resolve: Resolve, exec: &str) -> Result<Vec<String>, String> {
    if !rule.allowed_args.is_empty() {
        return Err("allowedArgs: AppArmor matches the executable, not its arguments".into());
    }
    if rule.pts.is_some() {
        return Err("pts: AppArmor does not evaluate the terminal condition".into());
    }
    let deny = rule.action == Action::Block;
    let mut out = Vec::new();
    match rule.category {
        Category::Process => {
            for g in globs(&rule.matcher, resolve)? {
                if rule.owner_only {
                    out.push(format!("owner {g} {exec},"));
                    out.push(format!("audit deny other {g} mx,"));
                } else if deny {
                    out.push(format!("audit deny {g} mx,"));
                } else {
                    out.push(format!("{g} {exec},"));
                }
            }
        }
        Category::File => {
            for g in globs(&rule.matcher, resolve)? {
                match (rule.read_only, rule.owner_only) {
                    (true, true) => {
                        out.push(format!("owner {g} mr,"));
                        out.push(format!("audit deny owner {g} wl,"));
                        out.push(format!("audit deny other {g} mrwlk,"));
                    }
                    (false, true) => {
                        out.push(format!("owner {g} mrwlk,"));
                        out.push(format!("audit deny other {g} mrwlk,"));
                    }
                    (true, false) => {
                        out.push(format!("{g} mr,"));
                        out.push(format!("audit deny {g} wl,"));
                    }
                    (false, false) if deny => out.push(format!("audit deny {g} mrwlk,")),
                    (false, false) => out.push(format!("{g} mrwlk,")),
                }
            }
        }
        Category::Network => match &rule.matcher {
            Matcher::Protocol { protocol } => {
                for s in sockets(protocol)? {
                    if deny {
                        out.push(format!("audit deny network {s},"));
                    } else {
                        out.push(format!("network {s},"));
                    }
                }
            }
            Matcher::Domain { .. } => {
                return Err(
                    "DNS rules are not enforced by AppArmor (it sees sockets, not names)".into(),
                );
            }
            _ => return Err("not a network rule".into()),
        },
        Category::Capabilities => match &rule.matcher {
            Matcher::Capability { capability } if deny => {
                out.push(format!("audit deny capability {capability},"))
            }
            Matcher::Capability { capability } => out.push(format!("capability {capability},")),
            _ => return Err("not a capability rule".into()),
        },
        Category::Syscall | Category::Device => unreachable!("filtered by the caller"),
    }
    Ok(out)
}

/// Each rule of `set` the kernel is given, with its lines (`exec`: see [`lines`]); the
/// others are recorded in `out`: unenforceable with the reason (device rules, what
/// `refuse` says no to, what AppArmor cannot express), or left to the monitor (Audit
/// rules never reach the kernel, syscall rules are audit-only). Enforced ones are added
/// to `out.enforced`.
fn place(
    set: &RuleSet,
    resolve: Resolve,
    exec: &str,
    out: &mut Profiles,
    refuse: impl Fn(&Rule) -> Option<String>,
) -> Vec<(usize, Vec<String>)> {
    let mut placed = Vec::new();
    for (idx, rule) in set.rules.iter().enumerate() {
        match rule.category {
            Category::Syscall => continue,
            Category::Device => {
                out.unenforceable
                    .push((idx, "USB device rules are not enforced by AppArmor".into()));
                continue;
            }
            _ => {}
        }
        if rule.action == Action::Audit {
            continue;
        }
        if let Some(why) = refuse(rule) {
            out.unenforceable.push((idx, why));
            continue;
        }
        match lines(rule, resolve, exec) {
            Ok(l) => {
                placed.push((idx, l));
                out.enforced.push(idx);
            }
            Err(why) => out.unenforceable.push((idx, why)),
        }
    }
    placed
}

/// A profile name for a source path: `knoxctl-host-src-usr-bin-curl`.
fn source_name(path: &str, taken: &mut BTreeSet<String>) -> String {
    let mut base = String::from(SOURCE_PREFIX);
    let mut dash = true;
    for c in path.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            base.push(c);
            dash = false;
        } else if !dash {
            base.push('-');
            dash = true;
        }
    }
    while base.ends_with('-') {
        base.pop();
    }
    let mut name = base.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

/// Lines of one profile body, in order, without repeats.
#[derive(Default)]
struct Body {
    lines: Vec<String>,
    seen: HashSet<String>,
}

impl Body {
    fn push(&mut self, line: String) {
        if line.starts_with('#') || self.seen.insert(line.clone()) {
            self.lines.push(line);
        }
    }

    /// A policy's raw rules, verbatim and all of them: a raw line may be one part of a
    /// block (a `}` of a hat), which a repeat must not lose.
    fn raw(&mut self, raw: &RawAppArmor) {
        self.lines.push(format!("# {} spec.apparmor", raw.policy));
        // `deny` as `audit deny`: a plain deny writes no audit record, and no alert.
        self.lines
            .extend(raw.lines.iter().map(|l| super::raw_match::audited(l)));
    }
}

/// What the profiles of a target say about its raw rules.
fn raw_note(set: &RuleSet, out: &mut Profiles, profiles: &str) {
    out.raw = set.apparmor.iter().map(|r| r.policy.clone()).collect();
    if !out.raw.is_empty() {
        out.notes.push(format!(
            "AppArmor: the raw rules (spec.apparmor) of {} are in {profiles} as written, `deny` lines as `audit deny` so that the kernel records their denials; a denial no rule explains is a Block alert naming the policy whose raw lines refuse it (Severity, Tags and Message of its first rule, none for a policy of raw rules only)",
            out.raw.join(", "),
        ));
    }
}

/// The profiles that enforce `set` on the host, paths taken as written, nothing exempt
/// and no newer rule classes: the same text on every machine.
pub fn host(set: &RuleSet, postures: &Postures) -> Profiles {
    generate(
        set,
        postures,
        &Options {
            resolve: &|_| None,
            exempt: Exempt::default(),
            features: Features::default(),
        },
    )
}

/// The attachment of a source's profile: its path, or both spellings when it is reached
/// through a symlink.
fn attachment(path: &str, resolve: Resolve) -> Result<String, String> {
    match resolve(path).filter(|r| r != path) {
        Some(r) => spellings(&[path, &r]),
        None => literal(path),
    }
}

/// An attachment matching each of `paths` (absolute): `"/usr/bin/bash"`, or their common
/// directory and an alternation, `"/{bin/bash,usr/bin/bash}"` (the parser wants an
/// attachment to start with `/`, not `{`). A path holding a comma cannot be one branch of
/// an alternation: then only the last spelling (the resolved one) is used.
fn spellings(paths: &[&str]) -> Result<String, String> {
    let mut ls: Vec<String> = Vec::new();
    for p in paths {
        let l = literal(p)?;
        let l = l[1..l.len() - 1].to_string();
        if !ls.contains(&l) {
            ls.push(l);
        }
    }
    if ls.len() < 2 {
        return literal(paths.first().ok_or("no path")?);
    }
    if paths.iter().any(|p| p.contains(',')) {
        return literal(paths.last().expect("two"));
    }
    // The longest common prefix that ends with `/` (escapes never hold a `/`).
    let first = &ls[0];
    let mut cut = 0;
    for (i, c) in first.char_indices() {
        if ls
            .iter()
            .any(|l| l.as_bytes().get(i) != Some(&(c as u8)) || !l.is_char_boundary(i))
        {
            break;
        }
        if c == '/' {
            cut = i + 1;
        }
    }
    let rest: Vec<&str> = ls.iter().map(|l| &l[cut..]).collect();
    Ok(format!("\"{}{{{}}}\"", &first[..cut], rest.join(",")))
}

/// The profiles that enforce `set` on this host; `resolve` gives the resolved spelling
/// of a path reached through a symlink. The parser and the running binary are exempt
/// ([`Exempt::detect`]), the newer rule classes this kernel and parser support are
/// granted ([`Features::detect`]).
pub fn host_resolved(set: &RuleSet, postures: &Postures, resolve: Resolve) -> Profiles {
    generate(
        set,
        postures,
        &Options {
            resolve,
            exempt: Exempt::detect(),
            features: Features::detect(),
        },
    )
}

/// The profiles that enforce `set` on the host.
pub fn generate(set: &RuleSet, postures: &Postures, opts: &Options) -> Profiles {
    let resolve = opts.resolve;
    let mut out = Profiles::default();
    // Each enforceable rule's lines, and the sources it is limited to.
    let placed = place(set, resolve, "pix", &mut out, |_| None);
    let mut taken = BTreeSet::new();
    taken.insert(HOST.to_string());
    // One profile per program: sources that are spellings of one file (/bin/bash and
    // /usr/bin/bash, through a symlink) share it, since the kernel attaches one profile
    // to a program, the most specific one.
    let mut sources: BTreeMap<String, (String, Vec<&str>)> = BTreeMap::new();
    for s in placed
        .iter()
        .flat_map(|(i, _)| set.rules[*i].from_source.iter())
        .map(String::as_str)
        .collect::<BTreeSet<_>>()
    {
        let key = resolve(s).unwrap_or_else(|| s.to_string());
        match sources.get_mut(&key) {
            Some((_, paths)) => paths.push(s),
            None => {
                sources.insert(key, (source_name(s, &mut taken), vec![s]));
            }
        }
    }
    let source_attachment = |key: &str, paths: &[&str]| -> Result<String, String> {
        let mut all = paths.to_vec();
        all.push(key);
        spellings(&all)
    };

    let allow = &set.allow_list;
    let block_file = allow.file && postures.file == Posture::Block;
    let block_exec = allow.process && postures.file == Posture::Block;
    let block_net = allow.network && postures.network == Posture::Block;
    let block_cap = allow.capabilities && postures.capabilities == Posture::Block;
    // Allow-list mode with posture audit: the operations no Allow rule grants are audited
    // by the kernel (see the module doc).
    let audit_file = allow.file && postures.file == Posture::Audit;
    let audit_exec = allow.process && postures.file == Posture::Audit;

    let profile = |name: &str, attach: &str, source: Option<&[&str]>| -> String {
        let mut b = Body::default();
        b.push("# everything the rules below do not deny".into());
        if audit_file {
            b.push("\"/{,**}\" m,".into());
            b.push("audit \"/{,**}\" rwlk,".into());
        } else if !block_file {
            b.push("\"/{,**}\" mrwlk,".into());
        }
        if audit_exec {
            b.push("audit \"/{,**}\" pix,".into());
        } else if !block_exec {
            b.push("\"/{,**}\" pix,".into());
        }
        if block_net {
            for d in OTHER_DOMAINS {
                b.push(format!("network {d},"));
            }
        } else {
            b.push("network,".into());
        }
        if !block_cap {
            b.push("capability,".into());
        }
        for l in ALLOW_REST {
            b.push(l.to_string());
        }
        for l in &opts.features.rules {
            b.push(l.clone());
        }
        if block_file {
            push_base(&mut b);
        }
        for (idx, l) in &placed {
            let rule = &set.rules[*idx];
            let applies = rule.from_source.is_empty()
                || source.is_some_and(|s| rule.from_source.iter().any(|f| s.contains(&f.as_str())));
            if !applies {
                continue;
            }
            b.push(format!("# {} {}", rule.policy, rule.field));
            for line in l {
                b.push(line.clone());
            }
        }
        // Raw rules hold for every program of the target, as rules without fromSource.
        for raw in &set.apparmor {
            b.raw(raw);
        }
        let mut text = format!("profile {name} {attach} {FLAGS} {{\n");
        for l in &b.lines {
            let _ = writeln!(text, "  {l}");
        }
        text.push_str("}\n");
        text
    };

    let mut text = String::from(
        "# Generated by knoxctl on every apply: edits are overwritten.\n# knoxctl-host confines every program started after the load; knoxctl-host-src-* run\n# the fromSource programs.\n\n",
    );
    text.push_str(&profile(HOST, "/**", None));
    out.names.push(HOST.to_string());
    // knoxctl's own programs, attached exactly: allowed everything. An attachment that
    // cannot be written (a quote in the path) leaves that program confined.
    let mut exempt: Vec<(&str, &str, String)> = Vec::new();
    for (name, path) in [(PARSER, &opts.exempt.parser), (AGENT, &opts.exempt.agent)] {
        let Some(path) = path else { continue };
        if exempt.iter().any(|(_, p, _)| p == path) {
            continue;
        }
        if let Ok(attach) = attachment(path, resolve) {
            exempt.push((name, path, attach));
        }
    }
    for (name, path, attach) in &exempt {
        let _ = write!(
            text,
            "\n# {path}: knoxctl's own, confined by none of the rules\nprofile {name} {attach} {FLAGS} {{\n"
        );
        let mut lines: Vec<&str> = vec![
            "\"/{,**}\" mrwlk,",
            "\"/{,**}\" pix,",
            "network,",
            "capability,",
        ];
        lines.extend(ALLOW_REST.iter().filter(|l| !l.starts_with("audit deny")));
        lines.extend(opts.features.rules.iter().map(String::as_str));
        for l in lines {
            let _ = writeln!(text, "  {l}");
        }
        text.push_str("}\n");
        out.names.push(name.to_string());
    }
    for (key, (name, paths)) in &sources {
        // `literal` succeeded for every path a rule names; a source that cannot be
        // written leaves its rules unenforced, and so does knoxctl's own program (two
        // profiles with one attachment: the kernel would attach neither).
        let path = paths[0];
        let attach = source_attachment(key, paths).and_then(|a| {
            match exempt
                .iter()
                .find(|(_, p, e)| p == key || paths.contains(p) || *e == a)
            {
                Some((exempt, ..)) => Err(format!(
                    "knoxctl runs it in {exempt}, which no rule confines"
                )),
                None => Ok(a),
            }
        });
        match attach {
            Ok(attach) => {
                text.push('\n');
                text.push_str(&profile(name, &attach, Some(paths)));
                out.names.push(name.clone());
            }
            Err(why) => {
                for (idx, _) in &placed {
                    if set.rules[*idx]
                        .from_source
                        .iter()
                        .any(|s| paths.contains(&s.as_str()))
                    {
                        out.enforced.retain(|i| i != idx);
                        out.unenforceable
                            .push((*idx, format!("fromSource {path}: {why}")));
                    }
                }
            }
        }
    }
    // A blocked program exec'd by an unconfined process (one running since before the
    // first load) is not refused the exec: the caller's profile decides, and the file
    // it opened is delegated to the new program. Attached to the blocked path, a profile
    // that grants nothing makes the program fail before main (the loader cannot open its
    // libraries: "Permission denied"). A statically linked program would still run.
    // One profile per path expression: two profiles with the same attachment conflict,
    // and the kernel then attaches neither.
    let mut n = 0;
    let mut attached: HashSet<String> = sources
        .iter()
        .filter_map(|(key, (_, paths))| source_attachment(key, paths).ok())
        .chain(exempt.iter().map(|(.., a)| a.clone()))
        .collect();
    for (idx, _) in &placed {
        let rule = &set.rules[*idx];
        if rule.category != Category::Process
            || rule.action != Action::Block
            || rule.owner_only
            || !rule.from_source.is_empty()
        {
            continue;
        }
        let Ok(gs) = globs(&rule.matcher, resolve) else {
            continue;
        };
        for g in gs {
            if !attached.insert(g.clone()) {
                continue;
            }
            n += 1;
            let name = format!("{BLOCK_PREFIX}{n}");
            let _ = writeln!(
                text,
                "\n# {} {}: the program, when an unconfined process starts it\nprofile {name} {g} {FLAGS} {{\n  audit deny \"/{{,**}}\" mrwlkx,\n}}",
                rule.policy, rule.field
            );
            out.names.push(name);
        }
    }
    if n > 0 {
        out.notes.push(
            "AppArmor: a blocked program started by a process that was running before the first apply (unconfined) is not refused the exec; it runs in a profile that grants nothing and fails before main (statically linked programs still run)".into(),
        );
    }
    out.text = text;

    raw_note(
        set,
        &mut out,
        "knoxctl-host and every knoxctl-host-src-* profile",
    );
    out.notes.push(
        "AppArmor: knoxctl-host attaches to every program started after the apply (attachment /**); processes already running stay unconfined until they exec, and programs with their own, more specific AppArmor profile keep it and are not covered".into(),
    );
    if !sources.is_empty() {
        out.notes.push(
            "AppArmor: each fromSource program runs in its own profile (knoxctl-host-src-*); under no_new_privs the kernel refuses execs that change profile".into(),
        );
    }
    if audit_file || audit_exec {
        out.notes.push(
            "AppArmor: the audit default posture of files and execs is the kernel's: every open and exec in a knoxctl profile is audited (AppArmor also audits the ones an Allow rule grants, which raise no alert)".into(),
        );
    }
    if allow.network && postures.network == Posture::Audit
        || allow.capabilities && postures.capabilities == Posture::Audit
    {
        out.notes.push(
            "AppArmor: the audit default posture of network and capabilities raises no alerts (an AppArmor audit rule would log every socket and capability use)".into(),
        );
    }
    let proto = |p: &str| {
        set.rules.iter().enumerate().any(|(i, r)| {
            out.enforced.contains(&i)
                && matches!(&r.matcher, Matcher::Protocol { protocol } if protocol == p)
        })
    };
    if proto("icmp") || proto("icmpv6") {
        out.notes.push(
            "AppArmor: icmp rules cover raw sockets; ICMP ping sockets (SOCK_DGRAM) are udp rules' domain and type".into(),
        );
    }
    if proto("tcp") || proto("udp") {
        out.notes.push(
            "AppArmor: tcp and udp rules cover every stream or datagram socket of inet and inet6 (AppArmor does not see the protocol)".into(),
        );
    }
    out.unenforceable.sort();
    out
}

/// A container's profile is `knoxctl-c-` and its name ([`container_profile_name`]).
pub const CONTAINER_PREFIX: &str = "knoxctl-c-";

/// What docker-default denies (moby's profiles/apparmor/template.go), kept in a
/// container's profile: a container started with knoxctl's profile instead of the
/// runtime's default must not lose that hardening. Plain `deny` (no audit record): these
/// are no policy's denials, so they raise no alerts, as under docker-default.
const CONTAINER_HARDENING: &[&str] = &[
    "deny /proc/* w,",
    "deny /proc/{[^1-9],[^1-9][^0-9],[^1-9s][^0-9y][^0-9s],[^1-9][^0-9][^0-9][^0-9/]*}/** w,",
    "deny /proc/sys/[^k]** w,",
    "deny /proc/sys/kernel/{?,??,[^s][^h][^m]**} w,",
    "deny /proc/sysrq-trigger rwklx,",
    "deny /proc/kcore rwklx,",
    "deny mount,",
    "deny /sys/[^f]*/** wklx,",
    "deny /sys/f[^s]*/** wklx,",
    "deny /sys/fs/[^c]*/** wklx,",
    "deny /sys/fs/c[^g]*/** wklx,",
    "deny /sys/fs/cg[^r]*/** wklx,",
    "deny /sys/firmware/** rwklx,",
    "deny /sys/devices/virtual/powercap/** rwklx,",
    "deny /sys/kernel/security/** rwklx,",
];

/// The profile name of container `name`: `knoxctl-c-` and the name with every character
/// other than letters, digits, `.`, `_` and `-` made `-` (docker and podman names need
/// none of that; a name found by cgroup scan is the short id).
pub fn container_profile_name(name: &str) -> String {
    let mut s = String::from(CONTAINER_PREFIX);
    s.extend(name.chars().map(|c| {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            c
        } else {
            '-'
        }
    }));
    s
}

/// The profile of one container: `profile knoxctl-c-NAME` with no attachment (the runtime
/// puts the container's first process in it: `--security-opt apparmor=knoxctl-c-NAME`,
/// runc's `process.apparmorProfile`), which every process of the container inherits
/// (execs are `ix`: inside a container, an attachment lookup could land in the host's
/// `/**` profile). It allows everything docker-default allows, keeps docker-default's
/// denials, and adds the rules' lines as on the host (a file allow-list with posture
/// block keeps `abstractions/base`'s grants, as on the host: [`base_lines`]); paths are
/// the container's own (the kernel names a file from the container's root:
/// `attach_disconnected`).
///
/// fromSource rules are not written (each source would need a child profile and an
/// exec transition, which the kernel refuses under no_new_privs, as docker's
/// `--security-opt no-new-privileges` sets): they are reported unenforceable.
pub fn container(name: &str, set: &RuleSet, postures: &Postures, features: &Features) -> Profiles {
    let profile_name = container_profile_name(name);
    let mut out = Profiles::default();
    let placed = place(set, &|_| None, "ix", &mut out, |rule| {
        (!rule.from_source.is_empty()).then(|| format!("fromSource: {profile_name} holds the rules of every program in the container; a source's own rules are not expressed in it"))
    });
    let allow = &set.allow_list;
    let mut b = Body::default();
    b.push("# everything the rules below do not deny".into());
    let block_file = allow.file && postures.file == Posture::Block;
    if !block_file {
        b.push("\"/{,**}\" mrwlk,".into());
    }
    if !(allow.process && postures.file == Posture::Block) {
        b.push("\"/{,**}\" ix,".into());
    }
    if allow.network && postures.network == Posture::Block {
        for d in OTHER_DOMAINS {
            b.push(format!("network {d},"));
        }
    } else {
        b.push("network,".into());
    }
    if !(allow.capabilities && postures.capabilities == Posture::Block) {
        b.push("capability,".into());
    }
    for l in ALLOW_REST {
        b.push(l.to_string());
    }
    for l in &features.rules {
        b.push(l.clone());
    }
    if block_file {
        push_base(&mut b);
    }
    b.push("# docker-default's denials".into());
    for l in CONTAINER_HARDENING {
        b.push(l.to_string());
    }
    for (idx, l) in &placed {
        let rule = &set.rules[*idx];
        b.push(format!("# {} {}", rule.policy, rule.field));
        for line in l {
            b.push(line.clone());
        }
    }
    for raw in &set.apparmor {
        b.raw(raw);
    }
    raw_note(set, &mut out, &profile_name);
    let mut text = format!(
        "# Generated by knoxctl for container {name:?}: start it with\n# --security-opt apparmor={profile_name} (docker, podman) or runc's\n# process.apparmorProfile; edits are overwritten.\nprofile {profile_name} {FLAGS} {{\n"
    );
    for l in &b.lines {
        let _ = writeln!(text, "  {l}");
    }
    text.push_str("}\n");
    out.text = text;
    out.names.push(profile_name.clone());
    out.notes.push(format!(
        "AppArmor: {profile_name} confines the container only if its runtime started it in that profile; a running container's profile cannot be changed"
    ));
    out.unenforceable.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::validate::{Options, validate_bytes};

    const HEAD: &str = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: p}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n";

    fn set(body: &str) -> RuleSet {
        let doc = format!("{HEAD}{body}");
        let r = validate_bytes("t.yaml", doc.as_bytes(), Options::default());
        assert!(r.valid, "{:?}", r.diagnostics().collect::<Vec<_>>());
        RuleSet::from_policies(&r.policies().cloned().collect::<Vec<_>>())
    }

    fn body(p: &Profiles, name: &str) -> Vec<String> {
        let start = p
            .text
            .find(&format!("profile {name} "))
            .unwrap_or_else(|| panic!("no profile {name} in\n{}", p.text));
        p.text[start..]
            .lines()
            .skip(1)
            .take_while(|l| *l != "}")
            .map(|l| l.trim().to_string())
            .filter(|l| !l.starts_with('#'))
            .collect()
    }

    #[test]
    fn literals_are_quoted_and_escaped() {
        assert_eq!(literal("/usr/bin/apt").unwrap(), "\"/usr/bin/apt\"");
        assert_eq!(literal("/a b/*{x}").unwrap(), "\"/a b/\\*\\{x\\}\"");
        assert!(literal("/a\"b").is_err());
        assert!(literal("/a\nb").is_err());
        let d = Matcher::Directory {
            dir: "/etc/x/".into(),
            recursive: true,
        };
        assert_eq!(glob(&d).unwrap(), "\"/etc/x/{,**}\"");
        let e = Matcher::Execname { name: "sh".into() };
        assert_eq!(glob(&e).unwrap(), "\"/**/sh\"");
    }

    #[test]
    fn block_rules_are_audited_denials_in_an_allow_everything_profile() {
        let p = host(
            &set(
                "  process:\n    matchPaths:\n    - path: /usr/bin/apt\n  file:\n    matchDirectories:\n    - dir: /etc/fim/\n      recursive: true\n      readOnly: true\n",
            ),
            &Postures::default(),
        );
        let b = body(&p, HOST);
        assert!(b.contains(&"\"/{,**}\" pix,".to_string()));
        assert!(b.contains(&"audit deny \"/usr/bin/apt\" mx,".to_string()));
        assert!(b.contains(&"\"/etc/fim/{,**}\" mr,".to_string()));
        assert!(b.contains(&"audit deny \"/etc/fim/{,**}\" wl,".to_string()));
        assert_eq!(p.names, vec![HOST, "knoxctl-host-block-1"]);
        assert!(p.text.contains(
            "profile knoxctl-host-block-1 \"/usr/bin/apt\" flags=(attach_disconnected,mediate_deleted) {\n  audit deny \"/{,**}\" mrwlkx,\n}"
        ));
        assert_eq!(p.enforced, vec![0, 1]);
        assert!(
            p.text
                .contains("profile knoxctl-host /** flags=(attach_disconnected,mediate_deleted) {")
        );
    }

    #[test]
    fn allow_list_with_block_posture_drops_the_matching_allow_everything_line() {
        let s = set(
            "  process:\n    matchPaths:\n    - path: /bin/ls\n      action: Allow\n  capabilities:\n    matchCapabilities:\n    - capability: net_raw\n      fromSource: [{path: /bin/ping}]\n      action: Allow\n",
        );
        let block = Postures {
            file: Posture::Block,
            network: Posture::Audit,
            capabilities: Posture::Block,
        };
        let p = host(&s, &block);
        let b = body(&p, HOST);
        assert!(!b.contains(&"\"/{,**}\" pix,".to_string()));
        assert!(
            b.contains(&"\"/{,**}\" mrwlk,".to_string()),
            "files stay open"
        );
        assert!(b.contains(&"\"/bin/ls\" pix,".to_string()));
        assert!(!b.contains(&"capability,".to_string()));
        assert!(
            !b.iter().any(|l| l.contains("net_raw")),
            "source rules stay in the source profile"
        );
        let src = body(&p, "knoxctl-host-src-bin-ping");
        assert!(src.contains(&"capability net_raw,".to_string()));
        assert!(
            src.contains(&"\"/bin/ls\" pix,".to_string()),
            "global rules are copied"
        );
        assert!(
            p.text
                .contains("profile knoxctl-host-src-bin-ping \"/bin/ping\" ")
        );
        // With the audit posture nothing more is denied in the kernel; execs (the category
        // in allow-list mode) are audited, in every profile, files are not.
        let p = host(&s, &Postures::default());
        for name in [HOST, "knoxctl-host-src-bin-ping"] {
            let b = body(&p, name);
            assert!(b.contains(&"audit \"/{,**}\" pix,".to_string()), "{name}");
            assert!(!b.contains(&"\"/{,**}\" pix,".to_string()), "{name}");
            assert!(b.contains(&"\"/{,**}\" mrwlk,".to_string()), "{name}");
            assert!(b.contains(&"capability,".to_string()), "{name}");
        }
        assert!(p.notes.iter().any(|n| n.contains("files and execs")));
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("network and capabilities"))
        );
        // A file allow-list audits reads and writes, not the mapping of what was read.
        let f = set("  file:\n    matchPaths:\n    - path: /etc/hostname\n      action: Allow\n");
        let b = body(&host(&f, &Postures::default()), HOST);
        assert!(b.contains(&"\"/{,**}\" m,".to_string()));
        assert!(b.contains(&"audit \"/{,**}\" rwlk,".to_string()));
        assert!(b.contains(&"\"/{,**}\" pix,".to_string()));
        assert!(!b.contains(&"\"/{,**}\" mrwlk,".to_string()));
    }

    #[test]
    fn network_rules_name_domains_and_types() {
        let s = set(
            "  network:\n    matchProtocols:\n    - protocol: tcp\n      fromSource: [{path: /usr/bin/curl}]\n    - protocol: sctp\n      fromSource: [{path: /usr/bin/curl}]\n",
        );
        let p = host(&s, &Postures::default());
        let src = body(&p, "knoxctl-host-src-usr-bin-curl");
        assert!(src.contains(&"audit deny network inet stream,".to_string()));
        assert!(src.contains(&"audit deny network inet6 stream,".to_string()));
        assert_eq!(p.unenforceable.len(), 1);
        assert!(p.unenforceable[0].1.contains("protocol"));
        let block = Postures {
            network: Posture::Block,
            ..Postures::default()
        };
        let allow = set(
            "  network:\n    matchProtocols:\n    - protocol: udp\n      fromSource: [{path: /usr/bin/dig}]\n      action: Allow\n",
        );
        let b = body(&host(&allow, &block), HOST);
        assert!(!b.contains(&"network,".to_string()));
        assert!(b.contains(&"network unix,".to_string()));
        assert!(b.contains(&"network netlink,".to_string()));
    }

    #[test]
    fn owner_only_and_audit_rules() {
        let s = set(
            "  process:\n    matchDirectories:\n    - dir: /home/user/bin/\n      ownerOnly: true\n  file:\n    matchPaths:\n    - path: /etc/shadow\n      ownerOnly: true\n      readOnly: true\n    - path: /etc/hosts\n      action: Audit\n",
        );
        let p = host(&s, &Postures::default());
        let b = body(&p, HOST);
        assert!(b.contains(&"owner \"/home/user/bin/{,*}\" pix,".to_string()));
        assert!(b.contains(&"audit deny other \"/home/user/bin/{,*}\" mx,".to_string()));
        assert!(b.contains(&"owner \"/etc/shadow\" mr,".to_string()));
        assert!(b.contains(&"audit deny owner \"/etc/shadow\" wl,".to_string()));
        assert!(b.contains(&"audit deny other \"/etc/shadow\" mrwlk,".to_string()));
        assert!(
            !p.text.contains("/etc/hosts"),
            "Audit rules stay with the monitor"
        );
        assert_eq!(p.enforced, vec![0, 1]);
    }

    #[test]
    fn symlinked_paths_are_also_written_resolved() {
        let s = set(
            "  process:\n    matchPaths:\n    - path: /bin/sleep\n      fromSource: [{path: /bin/bash}]\n  file:\n    matchDirectories:\n    - dir: /lib/fim/\n      readOnly: true\n",
        );
        let resolve = |p: &str| {
            p.strip_prefix("/bin/")
                .map(|r| format!("/usr/bin/{r}"))
                .or_else(|| (p == "/lib/fim").then(|| "/usr/lib/fim".to_string()))
        };
        let p = host_resolved(&s, &Postures::default(), &resolve);
        assert!(
            p.text
                .contains("profile knoxctl-host-src-bin-bash \"/{bin/bash,usr/bin/bash}\" ")
        );
        let src = body(&p, "knoxctl-host-src-bin-bash");
        assert!(src.contains(&"audit deny \"/bin/sleep\" mx,".to_string()));
        assert!(src.contains(&"audit deny \"/usr/bin/sleep\" mx,".to_string()));
        let b = body(&p, HOST);
        assert!(b.contains(&"audit deny \"/usr/lib/fim/{,*}\" wl,".to_string()));
        assert!(b.contains(&"audit deny \"/lib/fim/{,*}\" wl,".to_string()));
    }

    fn with(set: &RuleSet, postures: &Postures, exempt: Exempt, features: Features) -> Profiles {
        generate(
            set,
            postures,
            &super::Options {
                resolve: &|_| None,
                exempt,
                features,
            },
        )
    }

    fn own() -> Exempt {
        Exempt {
            parser: Some("/usr/sbin/apparmor_parser".into()),
            agent: Some("/usr/local/bin/knoxctl".into()),
        }
    }

    #[test]
    fn the_parser_and_the_agent_are_allowed_everything_under_any_posture() {
        // A capability allow-list with posture block: knoxctl-host has no `capability,`,
        // so a parser running in it could not load the next apply (mac_admin).
        let s = set(
            "  capabilities:\n    matchCapabilities:\n    - capability: net_raw\n      fromSource: [{path: /bin/ping}]\n      action: Allow\n  file:\n    matchPaths:\n    - path: /etc/motd\n      action: Allow\n",
        );
        let block = Postures {
            file: Posture::Block,
            network: Posture::Block,
            capabilities: Posture::Block,
        };
        let p = with(&s, &block, own(), Features::default());
        assert!(!body(&p, HOST).contains(&"capability,".to_string()));
        for name in [PARSER, AGENT] {
            let b = body(&p, name);
            for l in [
                "\"/{,**}\" mrwlk,",
                "\"/{,**}\" pix,",
                "network,",
                "capability,",
                "change_profile,",
                "mount,",
                "ptrace,",
            ] {
                assert!(b.contains(&l.to_string()), "{name} lacks {l}: {b:?}");
            }
            assert!(
                !b.iter().any(|l| l.contains("deny")),
                "{name} denies: {b:?}"
            );
        }
        assert!(p.text.contains(&format!(
            "profile {PARSER} \"/usr/sbin/apparmor_parser\" {FLAGS} {{"
        )));
        assert!(p.text.contains(&format!(
            "profile {AGENT} \"/usr/local/bin/knoxctl\" {FLAGS} {{"
        )));
        assert_eq!(
            p.names,
            vec![HOST, PARSER, AGENT, "knoxctl-host-src-bin-ping"]
        );
        // Nothing exempt: the golden tests' `host`.
        assert!(
            !host(&s, &block)
                .names
                .iter()
                .any(|n| n == PARSER || n == AGENT)
        );
    }

    #[test]
    fn an_exempt_program_gets_no_second_profile_on_its_path() {
        let s = set(
            "  process:\n    matchPaths:\n    - path: /usr/local/bin/knoxctl\n    - path: /usr/bin/apt\n  capabilities:\n    matchCapabilities:\n    - capability: sys_admin\n      fromSource: [{path: /usr/sbin/apparmor_parser}]\n",
        );
        let p = with(&s, &Postures::default(), own(), Features::default());
        // Blocked for confined callers, but no knoxctl-host-block-N on its path (two
        // profiles with one attachment: the kernel would attach neither).
        assert!(body(&p, HOST).contains(&"audit deny \"/usr/local/bin/knoxctl\" mx,".to_string()));
        assert_eq!(p.names, vec![HOST, PARSER, AGENT, "knoxctl-host-block-1"]);
        assert!(
            p.text
                .contains("profile knoxctl-host-block-1 \"/usr/bin/apt\"")
        );
        // The parser as a fromSource: its rules cannot hold.
        assert_eq!(p.enforced, vec![0, 1]);
        assert_eq!(p.unenforceable.len(), 1);
        assert!(
            p.unenforceable[0].1.contains("knoxctl-parser"),
            "{:?}",
            p.unenforceable
        );
        assert!(!p.text.contains("profile knoxctl-host-src-"));
    }

    #[test]
    fn newer_rule_classes_are_granted_where_supported() {
        let s = set("  process:\n    matchPaths:\n    - path: /usr/bin/apt\n");
        let f = Features {
            rules: vec!["userns,".into(), "io_uring,".into()],
        };
        let p = with(&s, &Postures::default(), own(), f);
        for name in [HOST, PARSER, AGENT] {
            let b = body(&p, name);
            assert!(b.contains(&"userns,".to_string()), "{name}");
            assert!(b.contains(&"io_uring,".to_string()), "{name}");
        }
        assert!(!body(&p, "knoxctl-host-block-1").contains(&"userns,".to_string()));
        let p = with(&s, &Postures::default(), own(), Features::default());
        assert!(!p.text.contains("userns"));
    }

    #[test]
    fn spellings_of_one_source_share_a_profile_attached_from_slash() {
        // KubeArmor's host scenario kubearmor-dev-next_test_04: one rule per spelling.
        let s = set(
            "  process:\n    matchPaths:\n    - path: /bin/date\n      fromSource: [{path: /bin/bash}]\n    - path: /usr/bin/date\n      fromSource: [{path: /usr/bin/bash}]\n",
        );
        let resolve = |p: &str| p.strip_prefix("/bin/").map(|r| format!("/usr/bin/{r}"));
        let p = generate(
            &s,
            &Postures::default(),
            &super::Options {
                resolve: &resolve,
                exempt: Exempt::default(),
                features: Features::default(),
            },
        );
        assert_eq!(p.names, vec![HOST, "knoxctl-host-src-bin-bash"]);
        assert!(
            p.text
                .contains("profile knoxctl-host-src-bin-bash \"/{bin/bash,usr/bin/bash}\" ")
        );
        let src = body(&p, "knoxctl-host-src-bin-bash");
        assert!(src.contains(&"audit deny \"/bin/date\" mx,".to_string()));
        assert!(src.contains(&"audit deny \"/usr/bin/date\" mx,".to_string()));
        assert_eq!(p.enforced, vec![0, 1]);
        assert_eq!(
            spellings(&["/usr/bin/x", "/usr/lib/y"]).unwrap(),
            "\"/usr/{bin/x,lib/y}\""
        );
        assert_eq!(spellings(&["/a", "/a"]).unwrap(), "\"/a\"");
        assert_eq!(spellings(&["/a,b", "/c"]).unwrap(), "\"/c\"");
    }

    #[test]
    fn container_profiles_are_named_after_the_container_and_inherit_execs() {
        assert_eq!(container_profile_name("web"), "knoxctl-c-web");
        assert_eq!(container_profile_name("a b/c:d"), "knoxctl-c-a-b-c-d");
        let s = set("  process:\n    matchPaths:\n    - path: /usr/bin/apt\n      action: Allow\n");
        let p = container("web", &s, &Postures::default(), &Features::default());
        assert_eq!(p.names, vec!["knoxctl-c-web"]);
        assert!(
            p.text
                .contains("profile knoxctl-c-web flags=(attach_disconnected,mediate_deleted) {")
        );
        let b = body(&p, "knoxctl-c-web");
        // No attachment lookups inside a container: the host's /** profile would win.
        assert!(b.contains(&"\"/usr/bin/apt\" ix,".to_string()));
        assert!(b.contains(&"\"/{,**}\" ix,".to_string()));
        assert!(!b.iter().any(|l| l.contains("pix")));
        assert!(b.contains(&"deny mount,".to_string()));
    }

    #[test]
    fn a_file_allow_list_with_posture_block_keeps_abstractions_base() {
        let s = set(
            "  file:\n    matchPaths:\n    - path: /srv/data\n      action: Allow\n    - path: /usr/lib/x86_64-linux-gnu/libevil.so\n      action: Block\n",
        );
        let block = Postures {
            file: Posture::Block,
            ..Postures::default()
        };
        let lib = "\"/{usr/,}lib{,32,64}/**\" mr,".to_string();
        let null = "\"/dev/{null,zero,full}\" rw,".to_string();
        // Every grant of the list, once, in the host's profile and in a container's.
        let host_body = body(&host(&s, &block), HOST);
        let c = container("web", &s, &block, &Features::default());
        let c_body = body(&c, "knoxctl-c-web");
        for b in [&host_body, &c_body] {
            assert!(b.contains(&lib) && b.contains(&null), "{b:?}");
            assert!(b.contains(&"\"/dev/log\" w,".to_string()));
            assert!(b.contains(&"\"/proc/[1-9]*/{maps,auxv,status}\" mr,".to_string()));
            assert_eq!(
                b.iter().filter(|l| base_lines().contains(l)).count(),
                base_abstraction::grants_written().count()
            );
            // The Block rule's deny is still there (AppArmor: deny wins over the grant).
            assert!(b.contains(
                &"audit deny \"/usr/lib/x86_64-linux-gnu/libevil.so\" mrwlk,".to_string()
            ));
            assert!(!b.contains(&"\"/{,**}\" mrwlk,".to_string()));
        }
        assert!(
            c.text
                .contains("# abstractions/base: what every program needs")
        );
        // With posture audit everything is granted already; without a file allow-list
        // nothing changes.
        for (set, postures) in [
            (&s, Postures::default()),
            (
                &set("  process:\n    matchPaths:\n    - path: /bin/ls\n      action: Allow\n"),
                block,
            ),
        ] {
            assert!(!host(set, &postures).text.contains(&lib));
            assert!(
                !container("web", set, &postures, &Features::default())
                    .text
                    .contains(&lib)
            );
        }
        // A blocked program's own profile still grants nothing (its libraries included).
        let p = host(
            &set(
                "  process:\n    matchPaths:\n    - path: /usr/bin/apt\n  file:\n    matchPaths:\n    - path: /srv/data\n      action: Allow\n",
            ),
            &block,
        );
        assert_eq!(
            body(&p, "knoxctl-host-block-1"),
            vec!["audit deny \"/{,**}\" mrwlkx,".to_string()]
        );
    }

    #[test]
    fn source_names_are_unique() {
        let mut taken = BTreeSet::new();
        assert_eq!(
            source_name("/usr/bin/a-b", &mut taken),
            "knoxctl-host-src-usr-bin-a-b"
        );
        assert_eq!(
            source_name("/usr/bin/a b", &mut taken),
            "knoxctl-host-src-usr-bin-a-b-2"
        );
    }

    #[test]
    fn patterns_negate_as_apparmor_does_and_cannot_escape_their_quote() {
        assert_eq!(pattern("/etc/[!a]*").unwrap(), "\"/etc/[^a]*\"");
        assert_eq!(pattern("/etc/\\[!a]").unwrap(), "\"/etc/\\[!a]\"");
        assert!(pattern("/etc/x\\").is_err());
        assert_eq!(pattern("/etc/x\\\\").unwrap(), "\"/etc/x\\\\\"");
    }
}
