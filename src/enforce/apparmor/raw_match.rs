//! Raw AppArmor rules (`spec.apparmor`) as the audit reader sees them: how a raw `deny`
//! line is written so that the kernel records its denials ([`audited`]), and which
//! policy's raw lines explain a denial no rule of the policy language explains
//! ([`policy_of`]), with a matcher of AppArmor's path globs ([`glob`]) and of file,
//! capability and network rules: enough to tell several policies' raw rules apart, not
//! a second AppArmor.

use super::audit::Avc;
use crate::policy::matcher::{Glob, Tok};
use crate::policy::normalize::RawAppArmor;

/// `line` as it goes into a profile: a `deny` rule becomes `audit deny`, because AppArmor
/// writes no audit record of what a plain `deny` refuses (it quiets it), and the record is
/// the only way the reader learns of a denial. Other lines (already audited, allow rules,
/// comments, block braces) are kept as written.
pub fn audited(line: &str) -> String {
    let body = line.trim_start();
    let indent = &line[..line.len() - body.len()];
    let mut rest = body;
    let mut before = String::new();
    loop {
        let (word, tail) = split_word(rest);
        match word {
            // AppArmor 4's rule priority comes before the other qualifiers.
            w if w.starts_with("priority=") => {
                before.push_str(w);
                before.push(' ');
                rest = tail;
            }
            "deny" => return format!("{indent}{before}audit {rest}"),
            _ => return line.to_string(),
        }
    }
}

/// The first whitespace-separated word of `s` and what follows it (trimmed).
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

/// What one raw line says about a denial.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Judged {
    /// The line cannot have refused it (another class, no `deny`, another path or mask).
    NoMatch,
    /// The line could have, but is beyond this matcher (`include`, variables, rules of
    /// classes other than file, capability and network, fine-grained network rules).
    Unknown,
    /// A `deny` line that refuses exactly this.
    Match,
}

/// The class of a denial, as raw lines are judged against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    File,
    Capability,
    Network,
    Other,
}

fn class(avc: &Avc) -> Class {
    if avc.is_capability() {
        Class::Capability
    } else if avc.is_network() {
        Class::Network
    } else if !avc.name.is_empty()
        && (avc.class.is_empty() || avc.class == "file")
        && !avc.operation.starts_with("change_")
    {
        Class::File
    } else {
        Class::Other
    }
}

/// The policy whose raw rules explain `avc`, a denial of a profile holding `raw`: the first
/// (in the rule set's order, which is the order of the policies) with a `deny` line that
/// matches it; else the first with a line this matcher cannot judge (with one raw policy
/// in the profile, that one). None when every raw line is judged and none refuses it (the
/// profile's own lines, such as docker-default's quiet denials of a container, did) or
/// the denial is of a class an alert cannot name (signal, ptrace, mount).
pub fn policy_of<'a>(raw: &'a [RawAppArmor], avc: &Avc) -> Option<&'a str> {
    if class(avc) == Class::Other {
        return None;
    }
    let best = |r: &RawAppArmor| {
        r.lines
            .iter()
            .map(|l| judge(l, avc))
            .max()
            .unwrap_or(Judged::NoMatch)
    };
    let judged: Vec<(Judged, &str)> = raw.iter().map(|r| (best(r), r.policy.as_str())).collect();
    [Judged::Match, Judged::Unknown]
        .into_iter()
        .find_map(|want| judged.iter().find(|(j, _)| *j == want).map(|(_, p)| *p))
}

/// Keywords of rules of other classes: they cannot refuse a file, capability or network
/// operation.
const OTHER_RULES: &[&str] = &[
    "ptrace",
    "signal",
    "mount",
    "umount",
    "remount",
    "pivot_root",
    "dbus",
    "unix",
    "change_profile",
    "rlimit",
    "set",
    "userns",
    "io_uring",
    "mqueue",
];

/// Whether `line` (one raw line) refuses `avc`.
pub fn judge(line: &str, avc: &Avc) -> Judged {
    let line = strip_comment(line).trim();
    let line = line.strip_suffix(',').unwrap_or(line).trim_end();
    // Empty, a block's head (a hat, a nested profile: its lines are judged one by one) or
    // its end.
    if line.is_empty() || line.ends_with('{') || line == "}" {
        return Judged::NoMatch;
    }
    let Some(words) = words(line) else {
        return Judged::Unknown;
    };
    let mut i = 0;
    let (mut deny, mut owner, mut other) = (false, false, false);
    while let Some(w) = words.get(i) {
        match w.text.as_str() {
            "audit" | "allow" | "quiet" | "kill" => {}
            "deny" => deny = true,
            "owner" => owner = true,
            "other" => other = true,
            t if t.starts_with("priority=") => {}
            _ => break,
        }
        i += 1;
    }
    let rest = &words[i..];
    let Some(head) = rest.first() else {
        return Judged::Unknown;
    };
    let class = class(avc);
    let rule_class = match head.text.as_str() {
        "capability" => Class::Capability,
        "network" => Class::Network,
        "file" => Class::File,
        _ if head.quoted || head.text.starts_with('/') || head.text.starts_with('@') => Class::File,
        t if perms(t).is_some()
            && rest
                .get(1)
                .is_some_and(|p| p.quoted || p.text.starts_with(['/', '@'])) =>
        {
            Class::File
        }
        t if OTHER_RULES.contains(&t) => Class::Other,
        // include, abi, link rules, anything newer: it may be a rule of any class.
        _ => return Judged::Unknown,
    };
    if rule_class != class {
        return Judged::NoMatch;
    }
    if !deny {
        return Judged::NoMatch;
    }
    match class {
        Class::File => file(rest, owner, other, avc),
        Class::Capability => {
            let name = avc.capname.to_lowercase();
            let names = &rest[1..];
            if names.is_empty() || names.iter().any(|n| n.text == name) {
                Judged::Match
            } else {
                Judged::NoMatch
            }
        }
        Class::Network => network(&rest[1..], avc),
        Class::Other => Judged::Unknown,
    }
}

/// A file rule (`rest` after the qualifiers): `[file] PATH PERMS [-> TARGET]`,
/// `[file] PERMS PATH` or a bare `file` (every path, every permission).
fn file(rest: &[Word], owner: bool, other: bool, avc: &Avc) -> Judged {
    let rest = match rest.first() {
        Some(w) if w.text == "file" && !w.quoted => &rest[1..],
        _ => rest,
    };
    // The owner of the file is the acting process (fsuid = ouid), or another.
    if let (Some(uid), Some(ouid)) = (avc.fsuid, avc.ouid)
        && ((owner && uid != ouid) || (other && uid == ouid))
    {
        return Judged::NoMatch;
    }
    let (path, mode) = match rest {
        [] => return Judged::Match,
        [p, m, ..] if p.quoted || p.text.starts_with(['/', '@']) => (p, Some(m)),
        [m, p, ..] if perms(&m.text).is_some() => (p, Some(m)),
        [p] => (p, None),
        _ => return Judged::Unknown,
    };
    let allowed = match mode {
        Some(m) if m.text == "->" => None,
        Some(m) => match perms(&m.text) {
            Some(p) => Some(p),
            None => return Judged::Unknown,
        },
        None => None,
    };
    match glob(&path.text, &avc.name) {
        None => return Judged::Unknown,
        Some(false) => return Judged::NoMatch,
        Some(true) => {}
    }
    let Some(allowed) = allowed else {
        return Judged::Match;
    };
    let denied: Vec<char> = avc.mask().chars().filter(|c| *c != ':').collect();
    if denied.is_empty() || denied.iter().any(|c| allowed.contains(*c)) {
        Judged::Match
    } else {
        Judged::NoMatch
    }
}

/// The kernel's audit mask letters a rule's permissions cover, or None when `t` is not a
/// permission string. `w` covers append, create and delete as the kernel checks them;
/// every exec mode (`ix`, `px`, `Cx`, ...) is `x`.
fn perms(t: &str) -> Option<String> {
    if t.is_empty() || !t.chars().all(|c| "rwaklmxiupcPUCbI".contains(c)) {
        return None;
    }
    let mut out = String::new();
    for c in t.chars() {
        match c {
            'r' => out.push('r'),
            'w' => out.push_str("wacd"),
            'a' => out.push_str("ac"),
            'l' | 'k' | 'm' | 'x' => out.push(c),
            _ => {}
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A network rule's arguments: `[DOMAIN] [TYPE | PROTOCOL]`; none means every socket.
fn network(args: &[Word], avc: &Avc) -> Judged {
    const TYPES: &[&str] = &["stream", "dgram", "seqpacket", "rdm", "raw", "packet"];
    let mut verdict = Judged::Match;
    for a in args {
        let t = a.text.as_str();
        let ok = if TYPES.contains(&t) {
            avc.sock_type == t
        } else {
            match t {
                "tcp" => avc.sock_type == "stream",
                "udp" => avc.sock_type == "dgram",
                "icmp" => avc.sock_type == "raw",
                // AppArmor 4's fine-grained rules (ip=, port=, peer=, ...).
                _ if t.contains(['=', '(', ')']) => {
                    verdict = Judged::Unknown;
                    true
                }
                domain => avc.family == domain,
            }
        };
        if !ok {
            return Judged::NoMatch;
        }
    }
    verdict
}

/// `line` without its comment (`#` outside quotes; `#include` is a directive).
fn strip_comment(line: &str) -> &str {
    let t = line.trim_start();
    if t.starts_with("#include") {
        return line;
    }
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

/// One word of a rule; a quoted one (a path with spaces) loses its quotes.
#[derive(Debug)]
struct Word {
    text: String,
    quoted: bool,
}

/// The words of `line`, or None when a quote is not closed.
fn words(line: &str) -> Option<Vec<Word>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '"' {
            chars.next();
            let mut text = String::new();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => text.extend(chars.next()),
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => text.push(c),
                }
            }
            if !closed {
                return None;
            }
            out.push(Word { text, quoted: true });
            continue;
        }
        let mut text = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            text.push(c);
            chars.next();
        }
        out.push(Word {
            text,
            quoted: false,
        });
    }
    Some(out)
}

/// Whether AppArmor's glob `pattern` matches `path`: `*` (no `/`), `**` (any), `?` (one
/// character but `/`), `{a,b}` (nested), `[abc]`, `[a-z]`, `[^...]`, `\` escapes; a `*` or
/// `**` right after a `/` and at the end or before a `/` matches at least one character
/// (`/dir/*` is not `/dir/`), as apparmor_parser compiles it. None when the pattern cannot
/// be judged: variables (`@{HOME}`), an unbalanced brace or bracket, too many
/// alternatives. Parsed by the policy matcher's [`Glob`] (the same AppArmor glob syntax),
/// with that one rule of apparmor_parser's added.
pub fn glob(pattern: &str, path: &str) -> Option<bool> {
    if pattern.contains("@{") || stray_close_brace(pattern) {
        return None;
    }
    let glob = Glob::new(pattern).ok()?;
    let path: Vec<char> = path.chars().collect();
    Some(
        glob.alternatives()
            .any(|toks| matches(&nonempty_components(toks), &path)),
    )
}

/// A `}` that closes nothing (the matcher would take it literally; apparmor_parser refuses
/// it).
fn stray_close_brace(pattern: &str) -> bool {
    let mut chars = pattern.chars();
    let (mut depth, mut bracket) = (0usize, false);
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '[' => bracket = true,
            ']' => bracket = false,
            '{' if !bracket => depth += 1,
            '}' if !bracket && depth == 0 => return true,
            '}' if !bracket => depth -= 1,
            _ => {}
        }
    }
    false
}

/// `toks` with a `?` put before each `*` or `**` that fills a whole path component (right
/// after a `/`, and at the end or before a `/`): there it matches at least one character.
fn nonempty_components(toks: &[Tok]) -> Vec<Tok> {
    let mut out = Vec::with_capacity(toks.len() + 1);
    for (i, t) in toks.iter().enumerate() {
        if matches!(t, Tok::Star | Tok::DStar)
            && out.last() == Some(&Tok::Lit('/'))
            && matches!(toks.get(i + 1), None | Some(Tok::Lit('/')))
        {
            out.push(Tok::One);
        }
        out.push(t.clone());
    }
    out
}

/// Whether `toks` match all of `path` (dynamic programming: linear in tokens × path).
fn matches(toks: &[Tok], path: &[char]) -> bool {
    let n = path.len();
    // next[j]: toks[i+1..] match path[j..]; cur[j]: toks[i..] do.
    let mut next = vec![false; n + 1];
    next[n] = true;
    for t in toks.iter().rev() {
        let mut cur = vec![false; n + 1];
        for j in (0..=n).rev() {
            let here = path.get(j).copied();
            cur[j] = match t {
                Tok::Lit(c) => here == Some(*c) && next[j + 1],
                Tok::One => here.is_some_and(|h| h != '/') && next[j + 1],
                Tok::Class { negated, ranges } => {
                    here.is_some_and(|h| {
                        h != '/' && ranges.iter().any(|(a, b)| (*a..=*b).contains(&h)) != *negated
                    }) && next[j + 1]
                }
                Tok::Star => next[j] || (here.is_some_and(|h| h != '/') && cur[j + 1]),
                Tok::DStar => next[j] || (here.is_some() && cur[j + 1]),
            };
        }
        next = cur;
    }
    next[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enforce::apparmor::audit;

    fn avc(text: &str) -> Avc {
        Avc::of(&audit::parse(audit::AUDIT_AVC, text).expect("parses")).expect("avc")
    }

    fn open(name: &str, mask: &str) -> Avc {
        avc(&format!(
            r#"audit(1.0:1): apparmor="DENIED" operation="open" class="file" profile="knoxctl-host" name="{name}" pid=1 comm="cat" requested_mask="{mask}" denied_mask="{mask}" fsuid=0 ouid=0"#
        ))
    }

    #[test]
    fn globs_match_as_apparmor_compiles_them() {
        for (pattern, path, want) in [
            ("/etc/knox", "/etc/knox", true),
            ("/etc/knox", "/etc/knox2", false),
            ("/etc/*", "/etc/passwd", true),
            ("/etc/*", "/etc/", false),
            ("/etc/*", "/etc/ssh/sshd_config", false),
            ("/etc/*.conf", "/etc/a.conf", true),
            ("/etc/*.conf", "/etc/.conf", true),
            ("/*/x", "//x", false),
            ("/*/x", "/a/x", true),
            ("/etc/**", "/etc/ssh/sshd_config", true),
            ("/etc/**", "/etc/", false),
            ("/etc/**", "/etc/x", true),
            ("/etc/knox-raw/**", "/etc/knox-raw/file", true),
            ("/etc/knox-raw/**", "/etc/knox-raw", false),
            ("/etc/knox-raw{,/**}", "/etc/knox-raw", true),
            ("/etc/knox-raw{,/**}", "/etc/knox-raw/a/b", true),
            ("/etc/{shadow,gshadow}", "/etc/gshadow", true),
            ("/etc/{shadow,gshadow}", "/etc/passwd", false),
            ("/{usr/,}bin/{d{a,i}sh,bash}", "/bin/dish", true),
            ("/{usr/,}bin/{d{a,i}sh,bash}", "/usr/bin/bash", true),
            ("/{usr/,}bin/{d{a,i}sh,bash}", "/usr/bin/zsh", false),
            ("/tmp/?.log", "/tmp/a.log", true),
            ("/tmp/?.log", "/tmp/ab.log", false),
            ("/tmp/?", "/tmp//", false),
            ("/dev/tty[0-9]", "/dev/tty7", true),
            ("/dev/tty[0-9]", "/dev/ttyS", false),
            ("/dev/tty[^0-9]", "/dev/ttyS", true),
            ("/dev/tty[!0-9]", "/dev/tty1", false),
            ("/dev/[ab]x", "/dev/bx", true),
            (r"/odd\*name", "/odd*name", true),
            (r"/odd\*name", "/oddXname", false),
            ("/**/shadow", "/etc/shadow", true),
            ("/**/shadow", "/a/b/c/shadow", true),
            ("/**/shadow", "/etc/gshadow", false),
            ("/{,**}", "/", true),
            ("/{,**}", "/anything/at/all", true),
        ] {
            assert_eq!(glob(pattern, path), Some(want), "{pattern} {path}");
        }
        // Not judged: variables, unbalanced braces and brackets, explosive alternations.
        assert_eq!(glob("@{HOME}/.ssh/**", "/root/.ssh/id"), None);
        assert_eq!(glob("/etc/{a,b", "/etc/a"), None);
        assert_eq!(glob("/etc/a}", "/etc/a"), None);
        assert_eq!(glob("/dev/tty[0-9", "/dev/tty1"), None);
        let explosive = "/{a,b}".repeat(10);
        assert_eq!(glob(&explosive, "/a/a/a/a/a/a/a/a/a/a"), None);
        // Long paths and many stars stay cheap (no backtracking).
        let long = format!("/{}", "a/".repeat(500));
        assert_eq!(glob("/**/**/**/**/**/b", &long), Some(false));
    }

    #[test]
    fn deny_lines_are_written_audited() {
        for (line, want) in [
            ("deny /etc/x r,", "audit deny /etc/x r,"),
            ("  deny owner /etc/x w,", "  audit deny owner /etc/x w,"),
            ("priority=1 deny /x r,", "priority=1 audit deny /x r,"),
            ("audit deny /etc/x r,", "audit deny /etc/x r,"),
            ("/etc/x r,", "/etc/x r,"),
            ("deny ptrace (trace),", "audit deny ptrace (trace),"),
            ("# deny /x r,", "# deny /x r,"),
            ("denylist /x r,", "denylist /x r,"),
            ("}", "}"),
        ] {
            assert_eq!(audited(line), want, "{line}");
        }
    }

    #[test]
    fn file_lines_judge_path_mask_and_owner() {
        let read = open("/etc/knox-raw/file", "r");
        let write = open("/etc/knox-raw/file", "wc");
        for (line, avc, want) in [
            ("deny /etc/knox-raw/** r,", &read, Judged::Match),
            ("audit deny /etc/knox-raw/** r,", &read, Judged::Match),
            ("deny /etc/knox-raw/** r, # why", &read, Judged::Match),
            ("deny /etc/knox-raw/** w,", &read, Judged::NoMatch),
            ("deny /etc/knox-raw/** w,", &write, Judged::Match),
            ("deny /etc/knox-raw/** a,", &write, Judged::Match),
            ("deny /etc/knox-raw/** r,", &write, Judged::NoMatch),
            ("deny file /etc/knox-raw/** rw,", &write, Judged::Match),
            ("deny r /etc/knox-raw/**,", &read, Judged::Match),
            ("deny \"/etc/knox-raw/**\" r,", &read, Judged::Match),
            ("deny file,", &read, Judged::Match),
            ("deny owner /etc/knox-raw/** r,", &read, Judged::Match),
            ("deny other /etc/knox-raw/** r,", &read, Judged::NoMatch),
            ("deny /etc/other r,", &read, Judged::NoMatch),
            // An allow line refuses nothing where the profile allows the rest.
            ("/etc/knox-raw/** r,", &read, Judged::NoMatch),
            ("deny capability net_raw,", &read, Judged::NoMatch),
            ("deny network inet raw,", &read, Judged::NoMatch),
            ("deny ptrace (trace),", &read, Judged::NoMatch),
            ("deny @{HOME}/** r,", &read, Judged::Unknown),
            ("include <abstractions/nothing>", &read, Judged::Unknown),
            ("", &read, Judged::NoMatch),
            ("# deny /etc/knox-raw/** r,", &read, Judged::NoMatch),
            ("^hat {", &read, Judged::NoMatch),
        ] {
            assert_eq!(judge(line, avc), want, "{line}");
        }
        let exec = avc(
            r#"audit(1.0:1): apparmor="DENIED" operation="exec" class="file" profile="knoxctl-host" name="/usr/bin/id" pid=9 comm="sh" requested_mask="x" denied_mask="x" fsuid=0 ouid=0"#,
        );
        assert_eq!(judge("deny /usr/bin/id x,", &exec), Judged::Match);
        assert_eq!(judge("deny /usr/bin/id ix,", &exec), Judged::Match);
        assert_eq!(judge("deny /usr/bin/id r,", &exec), Judged::NoMatch);
        let other_owner = avc(
            r#"audit(1.0:1): apparmor="DENIED" operation="open" class="file" profile="knoxctl-host" name="/tmp/f" pid=9 comm="cat" requested_mask="r" denied_mask="r" fsuid=1000 ouid=0"#,
        );
        assert_eq!(judge("deny owner /tmp/f r,", &other_owner), Judged::NoMatch);
        assert_eq!(judge("deny other /tmp/f r,", &other_owner), Judged::Match);
    }

    #[test]
    fn capability_and_network_lines_judge_their_class() {
        let cap = avc(
            r#"audit(1.0:3): apparmor="DENIED" operation="capable" class="cap" profile="knoxctl-host" pid=5 comm="ping" capability=13  capname="net_raw""#,
        );
        assert_eq!(judge("deny capability net_raw,", &cap), Judged::Match);
        assert_eq!(judge("deny capability chown net_raw,", &cap), Judged::Match);
        assert_eq!(judge("deny capability,", &cap), Judged::Match);
        assert_eq!(judge("deny capability chown,", &cap), Judged::NoMatch);
        assert_eq!(judge("deny /etc/x r,", &cap), Judged::NoMatch);
        let net = avc(
            r#"audit(1.0:2): apparmor="DENIED" operation="create" class="net" profile="knoxctl-host" pid=6 comm="ping" family="inet" sock_type="raw" protocol=1 requested_mask="create" denied_mask="create""#,
        );
        for (line, want) in [
            ("deny network,", Judged::Match),
            ("deny network inet,", Judged::Match),
            ("deny network inet raw,", Judged::Match),
            ("deny network inet icmp,", Judged::Match),
            ("deny network raw,", Judged::Match),
            ("deny network inet6 raw,", Judged::NoMatch),
            ("deny network inet tcp,", Judged::NoMatch),
            ("deny network inet stream,", Judged::NoMatch),
            ("network inet raw,", Judged::NoMatch),
            ("deny network inet raw ip=10.0.0.1,", Judged::Unknown),
            ("deny capability net_raw,", Judged::NoMatch),
        ] {
            assert_eq!(judge(line, &net), want, "{line}");
        }
        let signal = avc(
            r#"audit(1.0:4): apparmor="DENIED" operation="signal" class="signal" profile="knoxctl-host" pid=5 comm="kill" requested_mask="send" denied_mask="send" signal=term peer="unconfined""#,
        );
        assert_eq!(judge("deny signal,", &signal), Judged::Unknown);
        assert_eq!(judge("deny /etc/x r,", &signal), Judged::NoMatch);
    }

    fn raw(policy: &str, lines: &[&str]) -> RawAppArmor {
        RawAppArmor {
            policy: policy.into(),
            lines: lines.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn the_policy_is_the_one_whose_lines_refuse() {
        let set = [
            raw("a", &["deny /etc/a/** r,", "deny ptrace (trace),"]),
            raw("b", &["deny /etc/b/** rw,"]),
            raw("c", &["include <local/c>"]),
        ];
        assert_eq!(policy_of(&set, &open("/etc/a/x", "r")), Some("a"));
        assert_eq!(policy_of(&set, &open("/etc/b/x", "w")), Some("b"));
        // Judged by none: the one whose lines cannot be judged.
        assert_eq!(policy_of(&set, &open("/etc/c/x", "r")), Some("c"));
        // All judged, none refuses: not the raw rules' denial.
        assert_eq!(policy_of(&set[..2], &open("/etc/c/x", "r")), None);
        // Two refuse: the first in the rule set's order.
        let both = [
            raw("x", &["deny /etc/** r,"]),
            raw("y", &["deny /etc/a/* r,"]),
        ];
        assert_eq!(policy_of(&both, &open("/etc/a/x", "r")), Some("x"));
        assert_eq!(policy_of(&[], &open("/etc/a/x", "r")), None);
        // A denial of a class no alert names is left to the counter.
        let signal = avc(
            r#"audit(1.0:4): apparmor="DENIED" operation="signal" class="signal" profile="knoxctl-host" pid=5 comm="kill" requested_mask="send" denied_mask="send" signal=term peer="unconfined""#,
        );
        assert_eq!(policy_of(&set, &signal), None);
    }
}
