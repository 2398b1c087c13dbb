//! Every example policy is valid (strictly, except two that keep a warning on purpose) and
//! explains into the rule it is meant to show.

use super::*;

fn examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("examples/policies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_example_is_valid_and_strict_clean() {
    let all = examples();
    assert!(all.len() >= 22, "{} examples", all.len());
    for p in all {
        // Two examples keep one warning on purpose: the AccuKnox page's stray key, and a
        // raw AppArmor profile, which only the AppArmor enforcer loads (the warning says so).
        let strict = !p.ends_with("accuknox-block-pkg-mgmt-tools.yaml")
            && !p.ends_with("container-apparmor-raw.yaml");
        let mut args = vec!["policy", "validate"];
        if strict {
            args.push("--strict");
        }
        args.push(p.to_str().unwrap());
        let out = run(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            p.display(),
            stdout(&out)
        );
        if strict {
            assert!(
                stdout(&out).contains("(0 errors, 0 warnings)"),
                "{}",
                stdout(&out)
            );
        }
    }
}

#[test]
fn each_rule_kind_explains_as_intended() {
    let cases: &[(&str, &str)] = &[
        (
            "accuknox-process-discovery.yaml",
            "| Process   | /usr/bin/ps   |             | Audit  | permitted, alert |",
        ),
        ("host-process-execname.yaml", "execname"),
        ("host-process-dir-recursive.yaml", "(recursive)"),
        ("host-process-pattern.yaml", "glob "),
        (
            "host-process-allowed-args.yaml",
            "denied unless its arguments are exactly: ",
        ),
        ("host-process-allowed-args.yaml", "allowedArgs="),
        (
            "host-file-owneronly.yaml",
            "owner permitted; others denied, alert",
        ),
        (
            "host-file-owneronly.yaml",
            "EPERM (Operation not permitted) under fanotify",
        ),
        ("host-file-pattern.yaml", "glob /etc/*shadow*"),
        ("host-network-protocols.yaml", "protocol "),
        ("host-capabilities.yaml", "cap net_raw"),
        ("host-syscalls.yaml", "syscall rules are audit-only"),
        ("host-device-usb.yaml", "usb class MASS-STORAGE"),
        ("container-network-dns.yaml", "dns "),
        ("container-presets.yaml", "preset filelessExec: Block"),
        (
            "cluster-policy.yaml",
            "containers cluster-wide [namespace In (prod)]",
        ),
    ];
    for (file, want) in cases {
        let out = run(&["policy", "explain", "-f", example(file).to_str().unwrap()]);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{file}: {text}{}", stderr(&out));
        // A table row holds every '|'-separated part of `want`, side by side.
        let parts: Vec<&str> = want.split('|').map(str::trim).collect();
        let parts = &parts[1..parts.len().saturating_sub(1).max(1)];
        let found = if want.contains('|') {
            has_row(&text, parts)
        } else {
            text.contains(want)
        };
        assert!(found, "{file}: expected {want:?} in:\n{text}");
    }
}
