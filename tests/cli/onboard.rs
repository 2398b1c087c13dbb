//! `onboard vm`, `offboard vm` and `sysdump` as a script or CI job sees them: refusals
//! without a terminal (exit 2, nothing changed), plans that change nothing, errors that say
//! what to do, and a sysdump that works on a host where nothing is installed. Everything
//! runs under a scratch KNOXCTL_ROOT; the real paths and running agents are in
//! tests/onboard.rs.

use super::*;
use std::path::Path;

fn under(root: &Path, args: &[&str]) -> Output {
    bin()
        .args(args)
        .env("KNOXCTL_ROOT", root)
        .stdin(Stdio::null())
        .output()
        .expect("run knoxctl")
}

/// Every path below `root`, so that "nothing changed" is checked, not assumed.
fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            out.push(e.path().display().to_string());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn onboard_without_a_terminal_needs_yes() {
    let s = Scratch::new("onboard-noyes");
    let root = s.0.join("root");
    let o = under(&root, &["onboard", "vm"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("there is no terminal to confirm on: pass --yes"),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("Onboarding plan for"),
        "the plan is shown"
    );
    assert!(!root.exists(), "nothing created: {:?}", tree(&root));
}

#[test]
fn dry_run_shows_the_plan_and_changes_nothing() {
    let s = Scratch::new("onboard-dry");
    let root = s.0.join("root");
    let o = under(&root, &["onboard", "vm", "--dry-run", "--label", "env=ci"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    for want in [
        "mode          standalone",
        "enforcer      ",
        "binary        create ",
        "/usr/local/bin/knoxctl (copy of ",
        "configuration create ",
        "/etc/knoxctl/config.yaml",
        "/var/lib/knoxctl — applied policies and the alert store",
        "agent         start",
        "dry run: nothing was changed",
    ] {
        assert!(text.contains(want), "{want:?} missing:\n{text}");
    }
    let pages = knoxctl::cmd::assets::man_pages().len();
    let man = format!(
        "man pages     create {}/usr/local/share/man/man1/knoxctl*.1 ({pages} pages)",
        root.display()
    );
    assert!(text.contains(&man), "{man:?} missing:\n{text}");
    assert!(
        !text.contains("completion "),
        "no shell is installed under the root:\n{text}"
    );
    assert!(!root.exists(), "nothing created: {:?}", tree(&root));
}

#[test]
fn completions_are_planned_for_the_shells_installed() {
    let s = Scratch::new("onboard-shells");
    let root = s.0.join("root");
    // bash-completion and fish are installed; zsh is not.
    for dir in ["usr/share/bash-completion", "usr/share/fish"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    let before = tree(&root);
    let o = under(&root, &["onboard", "vm", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    for path in [
        "usr/share/bash-completion/completions/knoxctl",
        "usr/share/fish/vendor_completions.d/knoxctl.fish",
    ] {
        let want = format!("completion    create {}", root.join(path).display());
        assert!(text.contains(&want), "{want:?} missing:\n{text}");
    }
    assert!(!text.contains("_knoxctl"), "zsh is not installed:\n{text}");
    assert_eq!(tree(&root), before, "a dry run changes nothing");
}

/// Podman's hook is planned next to the binary, pointing at the real binary and socket
/// (podman runs it from the host's paths, not the scratch root's).
#[test]
fn onboarding_plans_the_podman_oci_hook() {
    let s = Scratch::new("onboard-hook");
    let root = s.0.join("root");
    let o = under(&root, &["onboard", "vm", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", out_text(&o));
    let text = stdout(&o);
    assert!(
        text.contains("OCI hook      create ")
            && text.contains("usr/share/containers/oci/hooks.d/knoxctl.json"),
        "{text}"
    );
    let def = knoxctl::container::hook::definition(
        Path::new("/usr/local/bin/knoxctl"),
        Path::new("/run/knoxctl/agent.sock"),
    );
    assert!(
        def.contains("\"createRuntime\"") && def.contains("\"/run/knoxctl/agent.sock\""),
        "{def}"
    );
}

#[test]
fn offboard_removes_completions_and_man_pages() {
    let s = Scratch::new("offboard-docs");
    let root = s.0.join("root");
    let man1 = "root/usr/local/share/man/man1";
    for f in [
        "root/usr/share/bash-completion/completions/knoxctl",
        "root/usr/local/share/zsh/site-functions/_knoxctl",
        "root/usr/share/fish/vendor_completions.d/knoxctl.fish",
        "root/usr/share/containers/oci/hooks.d/knoxctl.json",
        &format!("{man1}/knoxctl.1"),
        &format!("{man1}/knoxctl-alerts.1"),
        // A page of a command an older knoxctl had.
        &format!("{man1}/knoxctl-gone.1"),
    ] {
        s.write(f, "x");
    }
    let other = s.write(&format!("{man1}/ls.1"), "not knoxctl's");
    let o = under(&root, &["offboard", "vm", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", out_text(&o));
    let text = stdout(&o);
    assert!(
        text.contains("remove ")
            && text.contains("usr/share/bash-completion/completions/knoxctl — shell completion"),
        "{text}"
    );
    assert!(text.contains("knoxctl*.1 — 3 man pages"), "{text}");
    assert!(
        text.contains("usr/share/containers/oci/hooks.d/knoxctl.json — podman OCI hook"),
        "{text}"
    );
    assert!(text.contains("offboarded:"), "{text}");
    let left: Vec<String> = tree(&root)
        .into_iter()
        .filter(|p| p[root.display().to_string().len()..].contains("knoxctl"))
        .collect();
    assert_eq!(left, Vec::<String>::new());
    assert!(other.exists(), "other pages stay");
}

#[test]
fn impossible_choices_are_refused_before_anything_changes() {
    let s = Scratch::new("onboard-refuse");
    let root = s.0.join("root");
    // This machine has no systemd as PID 1 and no BPF-LSM enforcer in this build.
    let o = under(&root, &["onboard", "vm", "--mode", "systemd", "--yes"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("systemd") && stderr(&o).contains("--mode standalone"),
        "{}",
        stderr(&o)
    );
    let o = under(&root, &["onboard", "vm", "--enforcer", "bpf-lsm", "--yes"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("the bpf-lsm enforcer is not usable on this host")
            && stderr(&o).contains("Enforcers that work here:"),
        "{}",
        stderr(&o)
    );
    let o = under(&root, &["onboard", "vm", "--label", "novalue", "--yes"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a malformed flag is a usage error"
    );
    assert!(stderr(&o).contains("is not KEY=VALUE"), "{}", stderr(&o));
    assert!(!root.exists(), "nothing created: {:?}", tree(&root));
}

#[test]
fn an_invalid_existing_config_is_named_not_overwritten() {
    let s = Scratch::new("onboard-badcfg");
    let root = s.0.join("root");
    let cfg = s.write(
        "root/etc/knoxctl/config.yaml",
        "clusterName: lab\nenforcr: auto\n",
    );
    let o = under(&root, &["onboard", "vm", "--yes"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("config.yaml:2:1: unknown field `enforcr`"),
        "{err}"
    );
    assert!(err.contains("Fix it or remove it"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        "clusterName: lab\nenforcr: auto\n"
    );
}

#[test]
fn offboard_of_nothing_is_a_no_op_and_needs_yes_otherwise() {
    let s = Scratch::new("offboard");
    let root = s.0.join("root");
    let o = under(&root, &["offboard", "vm"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("not onboarded on this host: nothing to do"));
    s.write("root/etc/knoxctl/config.yaml", "clusterName: lab\n");
    let o = under(&root, &["offboard", "vm", "--purge"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stdout(&o).contains("remove ") && stdout(&o).contains("/etc/knoxctl"));
    assert!(stderr(&o).contains("pass --yes"), "{}", stderr(&o));
    assert!(root.join("etc/knoxctl/config.yaml").exists());
    let o = under(&root, &["offboard", "vm", "--purge", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", out_text(&o));
    assert!(!root.join("etc/knoxctl").exists());
}

#[test]
fn offboard_unloads_apparmor_profiles_and_says_when_one_stays() {
    // A stand-in for securityfs: the profile is "unloaded" by writing its name to .remove,
    // but this file does not make it go away, so offboarding must notice and fail.
    let s = Scratch::new("offboard-aa");
    let root = s.0.join("root");
    s.write("root/etc/knoxctl/config.yaml", "clusterName: lab\n");
    let aa = "root/sys/kernel/security/apparmor";
    s.write(
        &format!("{aa}/profiles"),
        "knoxctl-host (enforce)\n/usr/bin/man (enforce)\n",
    );
    let remove = s.write(&format!("{aa}/.remove"), "");
    let o = under(&root, &["offboard", "vm", "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", out_text(&o));
    assert!(
        stdout(&o).contains("unload AppArmor profile knoxctl-host"),
        "{}",
        out_text(&o)
    );
    assert_eq!(std::fs::read_to_string(&remove).unwrap(), "knoxctl-host");
    assert!(
        stderr(&o).contains("AppArmor profile knoxctl-host is still loaded"),
        "{}",
        out_text(&o)
    );
    assert!(
        !root.join("etc/knoxctl").exists(),
        "the rest is still removed"
    );
}

fn out_text(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

/// The archive's manifest and files, by path below the top directory.
pub fn read_sysdump(path: &Path) -> (serde_json::Value, BTreeMap<String, Vec<u8>>) {
    use std::io::Read;
    let f = std::fs::File::open(path).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut files = BTreeMap::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().display().to_string();
        let (_, rel) = p.split_once('/').expect("one top directory");
        let rel = rel.to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        files.insert(rel, data);
    }
    let manifest = serde_json::from_slice(&files["manifest.json"]).unwrap();
    (manifest, files)
}

use std::collections::BTreeMap;

#[test]
fn sysdump_on_a_host_without_knoxctl_writes_what_it_can() {
    let s = Scratch::new("sysdump-empty");
    let root = s.0.join("root");
    let out_file = s.0.join("dump.tar.gz");
    let o = under(
        &root,
        &[
            "sysdump",
            "-o",
            out_file.to_str().unwrap(),
            "--alerts",
            "10",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), out_file.display().to_string());
    let (m, files) = read_sysdump(&out_file);
    let items = m["items"].as_array().unwrap();
    assert!(items.len() >= 20, "{m}");
    for i in items {
        let path = i["path"].as_str().unwrap();
        match i["status"].as_str().unwrap() {
            "ok" => assert_eq!(
                files[path].len() as u64,
                i["size"].as_u64().unwrap(),
                "{path}"
            ),
            "failed" | "skipped" => {
                assert!(!files.contains_key(path), "{path}");
                assert!(i["error"].as_str().is_some_and(|e| !e.is_empty()), "{i}");
            }
            other => panic!("status {other}"),
        }
    }
    let status = |name: &str| {
        items
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing"))["status"]
            .clone()
    };
    assert_eq!(status("probe report"), "ok");
    assert_eq!(status("uname"), "ok");
    assert_eq!(status("agent status"), "failed", "no agent under this root");
    assert_eq!(status("configuration (redacted)"), "skipped");
    let probe: serde_json::Value = serde_json::from_slice(&files["probe.json"]).unwrap();
    assert!(probe["enforcers"].as_array().is_some_and(|e| e.len() == 4));
    assert!(!root.exists(), "sysdump creates nothing under the root");
}

#[test]
fn sysdump_defaults_to_a_named_file_here_and_fails_only_when_it_cannot_write() {
    let s = Scratch::new("sysdump-name");
    let o = bin()
        .args(["sysdump", "--alerts", "0"])
        .env("KNOXCTL_ROOT", s.0.join("root"))
        .current_dir(&s.0)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let name = stdout(&o).trim().to_string();
    let host = knoxctl::identity::hostname();
    assert!(
        name.starts_with(&format!("knoxctl-sysdump-{host}-")) && name.ends_with("Z.tar.gz"),
        "{name}"
    );
    assert!(s.0.join(&name).is_file());
    // A directory, existing or new with a trailing slash, gets the named file inside.
    for dir in ["dumps", "new-dumps/"] {
        std::fs::create_dir_all(s.0.join("dumps")).unwrap();
        let o = under(
            &s.0.join("root"),
            &[
                "sysdump",
                "--alerts",
                "0",
                "-o",
                s.0.join(dir).to_str().unwrap(),
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{dir}: {}", stderr(&o));
        let path = std::path::PathBuf::from(stdout(&o).trim());
        assert!(path.is_file(), "{dir}: {}", path.display());
        assert_eq!(path.parent().unwrap(), s.0.join(dir.trim_end_matches('/')));
        assert!(
            path.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("knoxctl-sysdump-"),
            "{}",
            path.display()
        );
    }
    let o = under(
        &s.0.join("root"),
        &["sysdump", "-o", "/nonexistent-dir/knoxctl/x.tar.gz"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot write the archive /nonexistent-dir/knoxctl/x.tar.gz"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn man_pages_say_what_the_exit_status_means() {
    let page = |p: &str| std::fs::read_to_string(repo().join("man").join(p)).unwrap();
    let probe = page("knoxctl-probe.1");
    assert!(probe.contains("Exit status: 0 when some enforcer"), "probe");
    let onboard = page("knoxctl-onboard-vm.1");
    assert!(onboard.contains("exit status is 2"), "onboard");
    assert!(
        onboard.contains("\\-\\-dry\\-run"),
        "onboard documents --dry-run"
    );
    assert!(page("knoxctl-offboard-vm.1").contains("\\-\\-purge"));
    assert!(page("knoxctl-sysdump.1").contains("manifest.json"));
}
