//! The host's identity labels and how policy selectors match them, as KubeArmor does for
//! non-Kubernetes hosts: the host carries `kubearmor.io/hostname=<hostname>` plus the
//! labels it was configured with, and a host policy's `nodeSelector.matchLabels` must all
//! match (values may be `*`, a comma list, or — under `kubearmor.io/hostnamereg` — a glob).

use std::collections::BTreeMap;

pub const HOSTNAME_LABEL: &str = "kubearmor.io/hostname";
pub const HOSTNAME_REGEX_LABEL: &str = "kubearmor.io/hostnamereg";

/// The short host name (`uname -n`, as KubeArmor's HostName field).
pub fn hostname() -> String {
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname fills the struct we own; the nodename field is NUL-terminated.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return String::new();
    }
    let raw: Vec<u8> = uts
        .nodename
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&raw).into_owned()
}

#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    pub labels: BTreeMap<String, String>,
}

impl Identity {
    /// This host's identity: its hostname label plus `extra` (`key=value` pairs).
    pub fn host(hostname: &str, extra: &BTreeMap<String, String>) -> Identity {
        let mut labels = extra.clone();
        labels.insert(HOSTNAME_LABEL.to_string(), hostname.to_string());
        Identity { labels }
    }

    /// Whether every selector label matches. An empty selector matches nothing (KubeArmor
    /// skips policies whose selector has no identities).
    pub fn matches(&self, selector: &BTreeMap<String, String>) -> bool {
        !selector.is_empty() && selector.iter().all(|(k, v)| self.matches_one(k, v))
    }

    fn matches_one(&self, key: &str, wanted: &str) -> bool {
        if key == HOSTNAME_REGEX_LABEL {
            let host = self
                .labels
                .get(HOSTNAME_LABEL)
                .map(String::as_str)
                .unwrap_or("");
            return wanted.split(',').any(|g| glob_match(g.trim(), host));
        }
        let Some(have) = self.labels.get(key) else {
            return false;
        };
        wanted
            .split(',')
            .map(str::trim)
            .any(|w| w == "*" || w == have)
    }
}

/// `*` and `?` globbing over a whole string (host names have no path structure).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Parses `key=value` flags into labels; the error names the bad flag.
pub fn parse_labels(pairs: &[String]) -> Result<BTreeMap<String, String>, String> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(format!("label '{p}' is not KEY=VALUE")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn host_selectors() {
        let extra = sel(&[("env", "prod")]);
        let id = Identity::host("web-1", &extra);
        assert!(id.matches(&sel(&[(HOSTNAME_LABEL, "web-1")])));
        assert!(id.matches(&sel(&[(HOSTNAME_LABEL, "*")])));
        assert!(id.matches(&sel(&[(HOSTNAME_LABEL, "db-1, web-1")])));
        assert!(id.matches(&sel(&[(HOSTNAME_LABEL, "web-1"), ("env", "prod")])));
        assert!(!id.matches(&sel(&[(HOSTNAME_LABEL, "web-1"), ("env", "dev")])));
        assert!(!id.matches(&sel(&[(HOSTNAME_LABEL, "ubuntu-2gb-hel1-1")])));
        assert!(id.matches(&sel(&[(HOSTNAME_REGEX_LABEL, "web-*")])));
        assert!(!id.matches(&sel(&[(HOSTNAME_REGEX_LABEL, "db-?")])));
        assert!(
            !id.matches(&BTreeMap::new()),
            "empty selector matches nothing"
        );
    }

    #[test]
    fn labels_parse() {
        assert_eq!(
            parse_labels(&["a=b".into(), "c = d".into()]).unwrap(),
            sel(&[("a", "b"), ("c", "d")])
        );
        assert!(parse_labels(&["nokey".into()]).is_err());
        assert!(!hostname().is_empty());
    }
}
