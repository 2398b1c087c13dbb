//! KubeArmor log and alert records as the operations an enforcer judges: an exec (with
//! the parent that asked for it), a file open (read or write, with the opening program) or
//! a socket (with every protocol name it answers to).
//!
//! Field use follows KubeArmor's (and the agent's) records: for `Process`, `ProcessName`
//! is the executed program (else `Resource` up to the first space) and the parent is
//! `ParentProcessName` (else `Source`); for `File` and `Network`, the acting program is
//! `ProcessName` (else `Source`'s first word). Whether an open writes comes from the
//! `flags=` in `Data`.

use crate::alert::Alert;

/// One judged operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op<'a> {
    Exec {
        path: &'a str,
        /// The parent's executable (`fromSource` of a process rule); empty when unknown.
        parent: &'a str,
    },
    Open {
        path: &'a str,
        write: bool,
        /// The opening program (`fromSource` of a file rule); empty when unknown.
        process: &'a str,
    },
    Network {
        protocols: Protocols,
        process: &'a str,
    },
}

/// The program each process runs, as the records' own exec records named it: fills in
/// the acting program of a record that could not name it (a process the recorder saw
/// too late), and an exec's parent from the exec record of its HostPPID. Enforcers know
/// both at the time (fanotify and BPF-LSM read the process), so judging a record
/// without them would predict denials that do not happen. Bounded: past
/// [`LINEAGE_CAP`] processes it starts over.
#[derive(Default)]
pub struct Lineage {
    exes: std::collections::HashMap<(String, i32), String>,
}

pub const LINEAGE_CAP: usize = 1 << 16;

/// What [`Lineage::observe`] filled in, owned; the operation borrows from it.
#[derive(Default)]
pub struct Filled {
    who: String,
    path: String,
}

impl Lineage {
    /// The operation of `a` ([`observe`]), with an unknown program or parent filled in
    /// from the lineage (into `scratch`); then remembers what `a` exec'd.
    pub fn observe<'a>(&mut self, a: &'a Alert, scratch: &'a mut Filled) -> Option<Op<'a>> {
        let mut op = observe(a)?;
        let Filled {
            who: scratch,
            path: own,
        } = scratch;
        // `/proc/self/...` is resolved by the kernel before any enforcer sees the open:
        // they see the process's own directory.
        if let Op::Open { path, .. } = &op
            && let Some(rest) = path.strip_prefix("/proc/self")
            && (rest.is_empty() || rest.starts_with('/'))
        {
            let pid = if a.pid > 0 { a.pid } else { a.host_pid };
            if pid > 0 {
                *own = format!("/proc/{pid}{rest}");
            }
        }
        let known = |pid: i32| {
            (pid > 0)
                .then(|| self.exes.get(&(a.host_name.clone(), pid)))
                .flatten()
        };
        match &mut op {
            Op::Exec { path, parent } => {
                if parent.is_empty()
                    && let Some(p) = known(a.host_ppid)
                {
                    scratch.clone_from(p);
                }
                if a.host_pid > 0 && passed(a) {
                    if self.exes.len() >= LINEAGE_CAP {
                        self.exes.clear();
                    }
                    self.exes
                        .insert((a.host_name.clone(), a.host_pid), path.to_string());
                }
            }
            Op::Open { process, .. } | Op::Network { process, .. } => {
                if process.is_empty()
                    && let Some(p) = known(a.host_pid)
                {
                    scratch.clone_from(p);
                }
            }
        }
        let own: &'a String = own;
        if !own.is_empty()
            && let Op::Open { path, .. } = &mut op
        {
            *path = own.as_str();
        }
        let filled: &'a String = scratch;
        if !filled.is_empty() {
            match &mut op {
                Op::Exec { parent: who, .. }
                | Op::Open { process: who, .. }
                | Op::Network { process: who, .. } => *who = filled.as_str(),
            }
        }
        Some(op)
    }
}

/// The protocol names a socket answers to, as the BPF-LSM enforcer computes them: the
/// specific one (`tcp`), the socket type's (`stream`), and `all`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Protocols {
    pub specific: Option<&'static str>,
    pub by_type: Option<&'static str>,
}

impl Protocols {
    /// The most precise name: what a discovered rule allows.
    pub fn primary(&self) -> Option<&'static str> {
        self.specific.or(self.by_type)
    }

    /// Every name a `matchProtocols` rule could use for this socket.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        self.specific
            .into_iter()
            .chain(self.by_type)
            .chain(std::iter::once("all"))
    }
}

/// Whether a record is something that happened (a log) or an alert; both are operations
/// that were attempted. `Passed` tells whether it succeeded.
pub fn passed(a: &Alert) -> bool {
    a.result.is_empty() || a.result == "Passed"
}

/// Whether the operation was refused by a security check (a policy, file permissions).
pub fn denied(a: &Alert) -> bool {
    matches!(
        a.result.as_str(),
        "Permission denied" | "Operation not permitted"
    )
}

/// Whether the operation reached the point where enforcers decide. An open or exec of a
/// path that does not exist fails in the lookup, before any permission check: no
/// enforcer (BPF-LSM's file_open and bprm_check hooks, fanotify's permission events)
/// ever sees it, so no policy can block it.
pub fn reached_check(a: &Alert) -> bool {
    a.result != "No such file or directory"
}

/// Whether a recorded operation is behaviour to allow: it passed, or it failed for a
/// reason of its own (a terminal that is not there, a device that refused) that no
/// security check gave. Such a failure is part of how the program runs; denying it
/// would change the error the program sees and raise an alert for normal behaviour.
pub fn learnable(a: &Alert) -> bool {
    passed(a) || (reached_check(a) && !denied(a))
}

/// The first word of `s` (programs in `Source` carry their arguments).
fn first_word(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or("")
}

/// A path as the rules compare it: without a trailing slash (`/etc/` → `/etc`).
fn trim_dir(p: &str) -> &str {
    if p.len() > 1 {
        p.trim_end_matches('/')
    } else {
        p
    }
}

fn program<'a>(name: &'a str, fallback: &'a str) -> &'a str {
    // `/` is no program: a process whose executable cannot be named from the host (a
    // runtime's init in a container, running from a memfd) is recorded so, and the
    // enforcers cannot name it either; its Source (`/usr/bin/runc init`) is a name no
    // enforcer would see.
    // Nor is a program run from a memfd (`/memfd:runc_cloned:/proc/self/exe`, runc's
    // own copy): no file has that path, so no fromSource can name it.
    let is_program = |p: &str| {
        p.starts_with('/') && p.len() > 1 && !p.ends_with('/') && !p.starts_with("/memfd:")
    };
    if name == "/" || name.starts_with("/memfd:") {
        return "";
    }
    if is_program(name) {
        name
    } else {
        let w = first_word(fallback);
        if is_program(w) { w } else { "" }
    }
}

/// Whether the open asks for writing (O_WRONLY, O_RDWR, O_APPEND, O_TRUNC, O_CREAT), from
/// `flags=A|B` in `Data`.
pub fn open_writes(data: &str) -> bool {
    data.split_whitespace()
        .filter_map(|w| w.strip_prefix("flags="))
        .flat_map(|f| f.split('|'))
        .any(|f| {
            matches!(
                f,
                "O_WRONLY" | "O_RDWR" | "O_APPEND" | "O_TRUNC" | "O_CREAT"
            )
        })
}

/// Whether `Data` names a syscall other than an open (unlink, rename, chmod...): the file
/// rules judge opens only.
fn other_file_syscall(data: &str) -> bool {
    data.split_whitespace()
        .filter_map(|w| w.strip_prefix("syscall="))
        .any(|s| {
            !matches!(
                s,
                "SYS_OPEN" | "SYS_OPENAT" | "SYS_OPENAT2" | "SYS_CREAT" | "SYS_OPEN_BY_HANDLE_AT"
            )
        })
}

/// The operation a record describes; None for other operations (capabilities, syscalls,
/// summaries), relative or empty paths, and sockets that no protocol rule sees (unix,
/// netlink).
pub fn observe(a: &Alert) -> Option<Op<'_>> {
    match a.operation.as_str() {
        "Process" => {
            let path = if a.process_name.starts_with('/') {
                a.process_name.as_str()
            } else {
                first_word(&a.resource)
            };
            let path = trim_dir(path);
            if !path.starts_with('/') || path == "/" {
                return None;
            }
            let parent = program(&a.parent_process_name, &a.source);
            // Without a parent, a recorder may put the program run in Source: that is
            // no parent.
            let parent = if parent.starts_with('/')
                && !(a.parent_process_name.is_empty() && parent == path)
            {
                parent
            } else {
                ""
            };
            Some(Op::Exec { path, parent })
        }
        "File" => {
            if other_file_syscall(&a.data) {
                return None;
            }
            let path = trim_dir(&a.resource);
            if !path.starts_with('/') {
                return None;
            }
            let process = program(&a.process_name, &a.source);
            // A record that names the opened file as the acting program did not know the
            // program (a process gone before its name was read): unknown, not the file.
            let process = if process.starts_with('/') && process != path {
                process
            } else {
                ""
            };
            Some(Op::Open {
                path,
                write: open_writes(&a.data),
                process,
            })
        }
        "Network" => {
            let protocols = socket_protocols(&a.resource).or_else(|| socket_protocols(&a.data))?;
            let process = program(&a.process_name, &a.source);
            let process = if process.starts_with('/') {
                process
            } else {
                ""
            };
            Some(Op::Network { protocols, process })
        }
        _ => None,
    }
}

/// The protocol names of a socket described as `domain=AF_INET type=SOCK_STREAM
/// protocol=6` (socket records; numbers or names) or `remoteip=.. port=.. protocol=TCP`
/// (connect and accept records). None for unix, netlink and other local sockets.
pub fn socket_protocols(text: &str) -> Option<Protocols> {
    let (mut family, mut ty, mut proto) = (None, None, None);
    for w in text.split_whitespace() {
        if let Some((k, v)) = w.split_once('=') {
            match k {
                "domain" | "family" => family = Some(v),
                "type" => ty = Some(v),
                "protocol" => proto = Some(v),
                _ => {}
            }
        }
    }
    let proto_num: Option<u32> = proto.and_then(|p| {
        p.parse().ok().or(match p.to_ascii_uppercase().as_str() {
            "TCP" => Some(6),
            "UDP" => Some(17),
            "ICMP" => Some(1),
            "ICMPV6" => Some(58),
            "SCTP" => Some(132),
            "DCCP" => Some(33),
            _ => None,
        })
    });
    match family {
        Some("AF_PACKET" | "17") => {
            return Some(Protocols {
                specific: Some("packet"),
                by_type: None,
            });
        }
        Some("AF_INET" | "AF_INET6" | "2" | "10") => {}
        Some(_) => return None,
        // Connect/accept records name no family: they are IP sockets.
        None if proto_num.is_some() && ty.is_none() => {}
        None => return None,
    }
    let by_proto = |n| match n {
        6 => Some("tcp"),
        17 => Some("udp"),
        1 => Some("icmp"),
        58 => Some("icmpv6"),
        132 => Some("sctp"),
        33 => Some("dccp"),
        _ => None,
    };
    let p = proto_num.unwrap_or(0);
    let out = match ty {
        Some("SOCK_STREAM" | "1") => Protocols {
            specific: Some(if p == 132 { "sctp" } else { "tcp" }),
            by_type: Some("stream"),
        },
        Some("SOCK_DGRAM" | "2") => Protocols {
            specific: Some(match p {
                1 => "icmp",
                58 => "icmpv6",
                33 => "dccp",
                _ => "udp",
            }),
            by_type: Some("dgram"),
        },
        Some("SOCK_RAW" | "3") => Protocols {
            specific: match p {
                1 => Some("icmp"),
                58 => Some("icmpv6"),
                _ => None,
            },
            by_type: Some("raw"),
        },
        Some("SOCK_SEQPACKET" | "5") => Protocols {
            specific: (p == 132).then_some("sctp"),
            by_type: Some("seqpacket"),
        },
        Some("SOCK_RDM" | "4") => Protocols {
            specific: None,
            by_type: Some("rdm"),
        },
        Some(_) => return None,
        None => {
            let specific = by_proto(p)?;
            Protocols {
                specific: Some(specific),
                by_type: match specific {
                    "tcp" => Some("stream"),
                    "udp" | "dccp" => Some("dgram"),
                    _ => None,
                },
            }
        }
    };
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(op: &str, name: &str, resource: &str, data: &str, parent: &str) -> Alert {
        Alert {
            operation: op.into(),
            process_name: name.into(),
            resource: resource.into(),
            data: data.into(),
            parent_process_name: parent.into(),
            ..Alert::default()
        }
    }

    #[test]
    fn process_file_and_network_records() {
        let a = alert(
            "Process",
            "/usr/bin/ls",
            "/usr/bin/ls -la",
            "syscall=SYS_EXECVE",
            "/usr/bin/bash",
        );
        assert_eq!(
            observe(&a),
            Some(Op::Exec {
                path: "/usr/bin/ls",
                parent: "/usr/bin/bash"
            })
        );
        let a = alert("Process", "", "/usr/bin/id -u", "", "");
        let a = Alert {
            source: "/usr/bin/sh -c id".into(),
            ..a
        };
        assert_eq!(
            observe(&a),
            Some(Op::Exec {
                path: "/usr/bin/id",
                parent: "/usr/bin/sh"
            })
        );
        let a = alert(
            "File",
            "/usr/bin/tee",
            "/tmp/x/",
            "syscall=SYS_OPENAT fd=-100 flags=O_WRONLY|O_CREAT",
            "",
        );
        assert_eq!(
            observe(&a),
            Some(Op::Open {
                path: "/tmp/x",
                write: true,
                process: "/usr/bin/tee"
            })
        );
        let a = alert(
            "File",
            "/usr/bin/cat",
            "/etc/hosts",
            "syscall=SYS_OPENAT fd=-100 flags=O_RDONLY|O_CLOEXEC",
            "",
        );
        assert_eq!(
            observe(&a),
            Some(Op::Open {
                path: "/etc/hosts",
                write: false,
                process: "/usr/bin/cat"
            })
        );
        let a = alert(
            "File",
            "/usr/bin/rm",
            "/etc/hosts",
            "syscall=SYS_UNLINKAT",
            "",
        );
        assert_eq!(observe(&a), None);
        let a = alert("File", "/usr/bin/cat", "relative", "", "");
        assert_eq!(observe(&a), None);
        let a = alert(
            "Network",
            "/usr/bin/curl",
            "domain=AF_INET type=SOCK_STREAM protocol=0",
            "syscall=SYS_SOCKET",
            "",
        );
        let Some(Op::Network { protocols, process }) = observe(&a) else {
            panic!()
        };
        assert_eq!(process, "/usr/bin/curl");
        assert_eq!(
            protocols.names().collect::<Vec<_>>(),
            ["tcp", "stream", "all"]
        );
        let a = alert(
            "Network",
            "/usr/bin/x",
            "domain=AF_UNIX type=SOCK_STREAM protocol=0",
            "",
            "",
        );
        assert_eq!(observe(&a), None);
        assert_eq!(
            observe(&alert("Capabilities", "/x", "CAP_NET_RAW", "", "")),
            None
        );
    }

    #[test]
    fn protocol_names_follow_the_bpf_enforcer() {
        let p = |s| socket_protocols(s).map(|p| p.names().collect::<Vec<_>>());
        assert_eq!(
            p("remoteip=1.2.3.4 port=80 protocol=TCP"),
            Some(vec!["tcp", "stream", "all"])
        );
        assert_eq!(
            p("domain=AF_INET6 type=SOCK_DGRAM protocol=17"),
            Some(vec!["udp", "dgram", "all"])
        );
        assert_eq!(
            p("domain=AF_INET type=SOCK_DGRAM protocol=1"),
            Some(vec!["icmp", "dgram", "all"])
        );
        assert_eq!(
            p("domain=AF_INET type=SOCK_RAW protocol=255"),
            Some(vec!["raw", "all"])
        );
        assert_eq!(
            p("domain=2 type=1 protocol=132"),
            Some(vec!["sctp", "stream", "all"])
        );
        assert_eq!(
            p("domain=AF_PACKET type=SOCK_RAW protocol=768"),
            Some(vec!["packet", "all"])
        );
        assert_eq!(p("domain=AF_NETLINK type=SOCK_RAW protocol=0"), None);
        assert_eq!(p(""), None);
    }
}
