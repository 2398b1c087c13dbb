//! `knoxctl harden`: the catalog as listed and shown, recommendations on a prepared root
//! file system (merged /usr, dpkg status) and on this host, reports and files written
//! whole or not at all, usage errors with suggestions, and — as root — apply and verify
//! against a real agent.

use super::*;
use std::os::unix::fs::symlink;

/// A Debian-like merged-/usr root: apt and dpkg installed, no dnf.
fn debian_root(s: &Scratch) -> PathBuf {
    let root = s.0.join("root");
    for f in [
        "usr/bin/apt",
        "usr/bin/apt-get",
        "usr/bin/dpkg",
        "usr/bin/bash",
    ] {
        s.write(&format!("root/{f}"), "");
    }
    std::fs::create_dir_all(root.join("usr/sbin")).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    symlink("usr/bin", root.join("bin")).unwrap();
    symlink("usr/sbin", root.join("sbin")).unwrap();
    s.write("root/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    s.write("root/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
    s.write(
        "root/var/lib/dpkg/status",
        "Package: apt\nStatus: install ok installed\nVersion: 2.6.1\n",
    );
    root
}

#[test]
fn list_filters_by_framework_control_category_and_scope() {
    let out = run(&[
        "harden",
        "list",
        "--framework",
        "PCI DSS",
        "--control",
        "11.5.2",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"file-integrity-monitoring"), "{ids:?}");
    assert!(!ids.contains(&"pkg-mngr-exec"), "{ids:?}");
    // The same framework, typed three ways.
    for typed in ["pci-dss", "PCI_DSS", "pci dss"] {
        assert_eq!(
            run(&["harden", "list", "--framework", typed, "-o", "json"]).stdout,
            { run(&["harden", "list", "--framework", "PCI-DSS", "-o", "json"]).stdout }
        );
    }
    let all = run(&["harden", "list", "-o", "json"]);
    let all: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    assert!(all.as_array().unwrap().len() >= 80);
    let t = stdout(&run(&[
        "harden",
        "list",
        "--category",
        "container-escape",
        "--scope",
        "host",
    ]));
    assert!(
        has_row(
            &t,
            &["escape-runtime-socket-host", "container-escape", "host"]
        ),
        "{t}"
    );
    assert!(!t.contains("escape-namespace-tools"), "{t}");
    let md = stdout(&run(&[
        "harden",
        "list",
        "--category",
        "ssh",
        "-o",
        "markdown",
    ]));
    assert!(md.starts_with("| Template | Category |"), "{md}");
}

#[test]
fn unknown_names_are_usage_errors_with_suggestions() {
    for (args, want) in [
        (
            vec!["harden", "list", "--framework", "pci-dds"],
            "did you mean 'pci-dss'?",
        ),
        (
            vec!["harden", "list", "--category", "kernel"],
            "did you mean 'kernel-modules'?",
        ),
        (
            vec!["harden", "list", "--control", "ZZ-99"],
            "no template maps control 'ZZ-99'",
        ),
        (
            vec!["harden", "show", "pkg-mngr-exe"],
            "did you mean 'pkg-mngr-exec'?",
        ),
        (
            vec!["harden", "recommend", "--framework", "hipaa"],
            "unknown framework 'hipaa'",
        ),
        (
            vec!["harden", "show", "pkg-mngr-exec", "--for", "pod"],
            "expected `host` or `container=NAME`",
        ),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{args:?}");
    }
}

#[test]
fn show_prints_the_template_with_its_mappings_and_enforcers() {
    let md = stdout(&run(&["harden", "show", "pkg-mngr-exec", "-o", "markdown"]));
    assert!(
        md.contains("| mitre-attack | v16 | T1546.016 | direct |"),
        "{md}"
    );
    assert!(
        md.contains("- process: bpf-lsm, fanotify, apparmor"),
        "{md}"
    );
    // No verify.requires: no such list.
    assert!(!md.contains("The recipe needs"), "{md}");
    // A recipe that needs something on the target says what.
    let md = stdout(&run(&[
        "harden",
        "show",
        "escape-runtime-sockets",
        "-o",
        "md",
    ]));
    assert!(
        md.contains(
            "The recipe needs (verify skips the template where it is not met):\n\n- one of `/var/run/docker.sock`, `/run/docker.sock`,"
        ),
        "{md}"
    );
}

/// A stand-in agent on a Unix socket that answers a status request as a fanotify agent
/// and every other request with this container inventory (what `show --for container=`,
/// `recommend --container` and `verify --container` ask for).
fn fake_inventory(s: &Scratch, items: Vec<knoxctl::agent::api::ContainerItem>) -> PathBuf {
    use std::io::{BufRead, BufReader};
    let socket = s.0.join("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let mut reply =
        serde_json::to_vec(&knoxctl::agent::api::Response::Containers { items }).unwrap();
    reply.push(b'\n');
    let mut status = serde_json::to_vec(&knoxctl::agent::api::Response::Status {
        status: knoxctl::agent::api::Status {
            enforcer: "fanotify".into(),
            ..Default::default()
        },
    })
    .unwrap();
    status.push(b'\n');
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut line = String::new();
            let _ = BufReader::new(&stream).read_line(&mut line);
            let asked: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            let _ = stream.write_all(if asked["op"] == "status" {
                &status
            } else {
                &reply
            });
        }
    });
    socket
}

/// `verify --container` says what is wrong before it changes anything: no agent (1), a
/// container the agent does not know (2, with the ones it knows), a template of the other
/// scope (2).
#[test]
fn verify_in_a_container_refuses_what_it_cannot_do() {
    let s = Scratch::new("harden-verify-ctr");
    let none = s.0.join("no-agent.sock");
    let out = run(&[
        "harden",
        "verify",
        "--all",
        "--container",
        "web",
        "--socket",
        none.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("harden verify needs the running agent"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    let socket = fake_inventory(&s, vec![container("web", 0, &s.0.join("ctr"))]);
    let sock = socket.to_str().unwrap();
    let out = run(&[
        "harden",
        "verify",
        "--all",
        "--container",
        "db",
        "--socket",
        sock,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no container named 'db' on this host (known: web)"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    for (args, says) in [
        (
            vec!["escape-runtime-socket-host", "--container", "web"],
            "escape-runtime-socket-host is a host template; verify it without --container",
        ),
        (
            vec!["escape-core-pattern"],
            "escape-core-pattern is a container template; verify it with --container NAME",
        ),
    ] {
        let mut argv = vec!["harden", "verify"];
        argv.extend(args);
        argv.extend(["--socket", sock]);
        let out = run(&argv);
        assert_eq!(out.status.code(), Some(2), "{argv:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{argv:?}: {}", stderr(&out));
    }
    // IDs and --all do not go together.
    let out = run(&["harden", "verify", "--all", "exec-tmp", "--socket", sock]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

fn container(name: &str, pid: u32, rootfs: &Path) -> knoxctl::agent::api::ContainerItem {
    knoxctl::agent::api::ContainerItem {
        container: knoxctl::container::Container {
            id: "a".repeat(64),
            name: name.into(),
            runtime: "docker".into(),
            pid,
            rootfs: rootfs.display().to_string(),
            ..Default::default()
        },
        policies: Vec::new(),
        enforcement: None,
    }
}

/// `show --for container=NAME` resolves the template's paths in that container's root
/// (from the agent's inventory), not on this host: an Alpine-like root without merged
/// /usr and with only apt-get gets exactly that path.
#[test]
fn show_for_a_container_resolves_paths_in_its_root() {
    let s = Scratch::new("harden-show-ctr");
    s.write("ctr/usr/bin/apt-get", "");
    s.write("ctr/etc/os-release", "ID=debian\n");
    std::fs::create_dir_all(s.0.join("ctr/bin")).unwrap();
    let socket = fake_inventory(&s, vec![container("web", 0, &s.0.join("ctr"))]);
    let sock = socket.to_str().unwrap();
    let out = run(&[
        "harden",
        "show",
        "pkg-mngr-exec",
        "--for",
        "container=web",
        "--socket",
        sock,
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let policy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(policy["kind"], "KubeArmorPolicy");
    assert_eq!(
        policy["spec"]["selector"]["matchLabels"]["kubearmor.io/container.name"],
        "web$"
    );
    let paths: Vec<&str> = policy["spec"]["process"]["matchPaths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/usr/bin/apt-get"]);
    assert!(
        stderr(&out).contains("# dropped (absent here): /usr/bin/apt, /usr/bin/dpkg"),
        "{}",
        stderr(&out)
    );
    let yaml = run(&[
        "harden",
        "show",
        "pkg-mngr-exec",
        "--for",
        "container=web",
        "--socket",
        sock,
    ]);
    let v = run_stdin(&["policy", "validate", "--strict", "-f", "-"], &yaml.stdout);
    assert_eq!(v.status.code(), Some(0), "{}{}", stdout(&v), stderr(&v));
    // recommend --container takes the same root from the inventory.
    let rec = run(&[
        "harden",
        "recommend",
        "--container",
        "web",
        "--category",
        "package-managers",
        "--socket",
        sock,
        "-o",
        "json",
    ]);
    assert_eq!(rec.status.code(), Some(0), "{}", stderr(&rec));
    let rec: serde_json::Value = serde_json::from_slice(&rec.stdout).unwrap();
    assert_eq!(
        rec["policies"][0]["spec"]["process"]["matchPaths"],
        serde_json::json!([{"path": "/usr/bin/apt-get"}])
    );
    // Nothing there to harden: said, with the container's own evidence.
    let out = run(&[
        "harden",
        "show",
        "pkg-mngr-rpm",
        "--for",
        "container=web",
        "--socket",
        sock,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "pkg-mngr-rpm produces no policy for container web (root {})",
            s.0.join("ctr").display()
        )),
        "{}",
        stderr(&out)
    );
    let out = run(&[
        "harden",
        "show",
        "pkg-mngr-exec",
        "--for",
        "container=db",
        "--socket",
        sock,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no container named 'db' on this host (known: web)"),
        "{}",
        stderr(&out)
    );
    let out = run(&[
        "harden",
        "show",
        "pkg-mngr-exec",
        "--for",
        "container=web",
        "--socket",
        "/nonexistent/agent.sock",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("needs the agent's container inventory"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn recommend_on_a_rootfs_uses_what_exists_there() {
    let s = Scratch::new("harden-rootfs");
    let root = debian_root(&s);
    let r = root.display().to_string();
    let out = run(&[
        "harden",
        "recommend",
        "--rootfs",
        &r,
        "--category",
        "package-managers",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let o = &v["outcomes"][0];
    let rec = &o["recommendations"][0];
    assert_eq!(rec["template"], "pkg-mngr-exec");
    assert_eq!(rec["action"], "Audit");
    assert_eq!(rec["dropped"], serde_json::json!(["/usr/bin/aptitude"]));
    let skipped: Vec<(String, String)> = o["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["template"].as_str().unwrap().into(),
                s["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        skipped.contains(&(
            "pkg-mngr-rpm".into(),
            "none of /usr/bin/dnf, /usr/bin/yum, /usr/bin/rpm, /usr/bin/microdnf exists".into()
        )),
        "{skipped:?}"
    );
    let policy = &v["policies"][0];
    let paths: Vec<&str> = policy["spec"]["process"]["matchPaths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    // Both spellings on merged /usr; the absent aptitude is gone.
    assert_eq!(
        paths,
        [
            "/usr/bin/apt",
            "/bin/apt",
            "/usr/bin/apt-get",
            "/bin/apt-get",
            "/usr/bin/dpkg",
            "/bin/dpkg"
        ]
    );
    let host = stdout(&run(&["version", "-o", "json"]));
    assert!(!host.is_empty());
    assert_eq!(policy["kind"], "KubeArmorHostPolicy");
    assert!(policy["spec"]["nodeSelector"]["matchLabels"]["kubearmor.io/hostname"].is_string());
    assert!(
        policy["spec"]["tags"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("MITRE_T1546.016"))
    );
}

#[test]
fn recommend_writes_files_and_reports_identically_each_run() {
    let s = Scratch::new("harden-out");
    let root = debian_root(&s);
    let r = root.display().to_string();
    let mut previous: Option<Vec<(String, Vec<u8>)>> = None;
    for run_no in 0..2 {
        let dir = s.0.join(format!("out{run_no}"));
        let report = s.0.join(format!("report{run_no}.html"));
        let out = run(&[
            "harden",
            "recommend",
            "--rootfs",
            &r,
            "--out-dir",
            dir.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        assert!(
            files.iter().any(|(f, _)| f == "harden-pkg-mngr-exec.yaml"),
            "{files:?}"
        );
        assert!(
            files.iter().all(|(f, _)| !f.starts_with('.')),
            "temporary files left"
        );
        let v = run(&["policy", "validate", "--strict", dir.to_str().unwrap()]);
        assert_eq!(v.status.code(), Some(0), "{}{}", stdout(&v), stderr(&v));
        let html = std::fs::read_to_string(&report).unwrap();
        assert!(
            html.starts_with("<!DOCTYPE html>") && html.contains("PCI DSS 4.0"),
            "{html}"
        );
        assert!(
            !html.contains("<script") && !html.contains("http"),
            "not self-contained"
        );
        if let Some(p) = &previous {
            assert_eq!(p, &files, "output differs between runs");
        }
        previous = Some(files);
    }
    // Markdown and JSON reports by extension; anything else is a usage error.
    let md = s.0.join("r.md");
    assert_eq!(
        run(&[
            "harden",
            "recommend",
            "--rootfs",
            &r,
            "--report",
            md.to_str().unwrap()
        ])
        .status
        .code(),
        Some(0)
    );
    assert!(
        std::fs::read_to_string(&md)
            .unwrap()
            .contains("## Coverage per framework")
    );
    let json = s.0.join("r.json");
    assert_eq!(
        run(&[
            "harden",
            "recommend",
            "--rootfs",
            &r,
            "--report",
            json.to_str().unwrap()
        ])
        .status
        .code(),
        Some(0)
    );
    let rep: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(rep["schema"], "knoxctl.harden.report/v1");
    let pci = rep["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["framework"] == "pci-dss")
        .unwrap();
    assert!(!pci["covered"].as_array().unwrap().is_empty());
    assert!(!pci["notRuntimeEnforceable"].as_array().unwrap().is_empty());
    let bad = s.0.join("r.txt");
    let out = run(&[
        "harden",
        "recommend",
        "--rootfs",
        &r,
        "--report",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!bad.exists());
}

#[test]
fn nothing_half_written_when_the_out_dir_cannot_be_used() {
    let s = Scratch::new("harden-bad-out");
    let root = debian_root(&s);
    let blocker = s.write("not-a-dir", "x");
    let out = run(&[
        "harden",
        "recommend",
        "--rootfs",
        root.to_str().unwrap(),
        "--out-dir",
        blocker.join("sub").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("writing the policies into"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&blocker).unwrap(), "x");
    let out = run(&[
        "harden",
        "recommend",
        "--rootfs",
        s.0.join("missing").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a directory"), "{}", stderr(&out));
}

/// An out-dir that already holds policies: a run replaces them as one set, keeping what
/// else is there; a run that fails leaves every previous file as it was.
#[test]
fn the_out_dir_changes_as_a_whole_or_not_at_all() {
    let s = Scratch::new("harden-out-atomic");
    let root = debian_root(&s);
    let out_dir = s.0.join("policies");
    let recommend = |extra: &[&str]| {
        let mut args = vec![
            "harden",
            "recommend",
            "--rootfs",
            root.to_str().unwrap(),
            "--out-dir",
            out_dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let out = recommend(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let first: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(first.len() > 2, "{first:?}");
    std::fs::write(out_dir.join("README"), "mine").unwrap();
    let pkg = out_dir.join("harden-pkg-mngr-exec.yaml");
    std::fs::write(&pkg, "edited").unwrap();
    let out = recommend(&["--action", "block"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(out_dir.join("README")).unwrap(),
        "mine"
    );
    assert!(
        std::fs::read_to_string(&pkg)
            .unwrap()
            .contains("action: Block")
    );
    // Every file of the set but one could be written: none is, the old set stays whole.
    let before: Vec<(String, Vec<u8>)> = {
        let mut v: Vec<_> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let last = before
        .iter()
        .map(|(f, _)| f)
        .filter(|f| f.starts_with("harden-"))
        .max()
        .unwrap()
        .clone();
    let blocked = out_dir.join(&last);
    std::fs::remove_file(&blocked).unwrap();
    std::fs::create_dir(&blocked).unwrap();
    let out = recommend(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not a regular file; a policy would replace it"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir(&blocked).unwrap();
    let after: Vec<(String, Vec<u8>)> = {
        let mut v: Vec<_> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let without_last: Vec<_> = before.into_iter().filter(|(f, _)| *f != last).collect();
    assert_eq!(after, without_last, "a failed run changed the out-dir");
    let leftovers: Vec<String> = std::fs::read_dir(&s.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Whatever templates name the same resource, the merged policy gives each resource the
/// strongest action the separate policies gave it (no built-in template pair collides on
/// one target today; the unit test merge_keeps_block_when_templates_collide makes one).
#[test]
fn merge_keeps_the_stronger_action() {
    let s = Scratch::new("harden-merge");
    let root = debian_root(&s);
    let recommend = |merge: bool| -> serde_json::Value {
        let mut args = vec![
            "harden",
            "recommend",
            "--rootfs",
            root.to_str().unwrap(),
            "--action",
            "block",
            "-o",
            "json",
        ];
        if merge {
            args.push("--merge");
        }
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // A rule's resource: its section, list and matcher fields, without action and info.
    let resource = |section: &str, key: &str, e: &serde_json::Value| -> String {
        let mut e = e.clone();
        for k in ["action", "severity", "message", "tags"] {
            e.as_object_mut().unwrap().remove(k);
        }
        format!("{section}.{key} {e}")
    };
    let mut strongest: std::collections::BTreeMap<String, String> = Default::default();
    for p in recommend(false)["policies"].as_array().unwrap() {
        let action = p["spec"]["action"].as_str().unwrap();
        for section in ["process", "file", "network", "capabilities"] {
            let Some(lists) = p["spec"][section].as_object() else {
                continue;
            };
            for (key, list) in lists {
                for e in list.as_array().into_iter().flatten() {
                    let a = e["action"].as_str().unwrap_or(action).to_string();
                    let w = strongest
                        .entry(resource(section, key, e))
                        .or_insert(a.clone());
                    if a == "Block" {
                        *w = a;
                    }
                }
            }
        }
    }
    let merged = recommend(true);
    let policy = &merged["policies"][0];
    let mut checked = 0;
    for section in ["process", "file", "network", "capabilities"] {
        let Some(lists) = policy["spec"][section].as_object() else {
            continue;
        };
        for (key, list) in lists {
            for e in list.as_array().into_iter().flatten() {
                let r = resource(section, key, e);
                assert_eq!(
                    e["action"].as_str(),
                    strongest.get(&r).map(String::as_str),
                    "{r}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 0);
}

#[test]
fn block_only_what_is_safe_and_say_why_the_rest_stays_audit() {
    let s = Scratch::new("harden-block");
    let root = debian_root(&s);
    let out = run(&[
        "harden",
        "recommend",
        "--rootfs",
        root.to_str().unwrap(),
        "--action",
        "block",
        "--category",
        "package-managers",
        "--category",
        "tmp-exec",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let recs = v["outcomes"][0]["recommendations"].as_array().unwrap();
    let get = |id: &str| {
        recs.iter()
            .find(|r| r["template"] == id)
            .unwrap_or_else(|| panic!("{id}: {recs:?}"))
    };
    assert_eq!(get("pkg-mngr-exec")["action"], "Block");
    assert_eq!(get("exec-tmp")["action"], "Audit");
    assert!(
        get("exec-tmp")["demoted"]
            .as_str()
            .unwrap()
            .starts_with("not safe to block")
    );
}

#[test]
fn container_targets_need_the_agent_and_a_known_name() {
    let out = run(&[
        "harden",
        "recommend",
        "--container",
        "web",
        "--socket",
        "/nonexistent/agent.sock",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("needs the agent's container inventory"),
        "{}",
        stderr(&out)
    );
    let s = Scratch::new("harden-ctr");
    let root = debian_root(&s);
    let out = run(&[
        "harden",
        "recommend",
        "--rootfs",
        root.to_str().unwrap(),
        "--container",
        "web",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &v["policies"][0];
    assert_eq!(p["kind"], "KubeArmorPolicy");
    assert_eq!(p["metadata"]["namespace"], "container_namespace");
    let apply = run(&[
        "harden",
        "recommend",
        "--apply",
        "--yes",
        "--socket",
        "/nonexistent/agent.sock",
    ]);
    assert_eq!(apply.status.code(), Some(1));
    assert!(
        stderr(&apply).contains("--apply needs the running agent"),
        "{}",
        stderr(&apply)
    );
}

/// Without a terminal nobody can choose, so --apply must be told --yes; --dry-run
/// changes nothing and needs no --yes.
#[test]
fn apply_without_a_terminal_needs_yes() {
    let out = run(&[
        "harden",
        "recommend",
        "--apply",
        "--socket",
        "/nonexistent/agent.sock",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--apply without a terminal needs --yes"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    let dry = run(&[
        "harden",
        "recommend",
        "--apply",
        "--dry-run",
        "--socket",
        "/nonexistent/agent.sock",
    ]);
    assert_eq!(dry.status.code(), Some(1), "{}", stderr(&dry));
    assert!(
        stderr(&dry).contains("--apply needs the running agent"),
        "{}",
        stderr(&dry)
    );
}

#[test]
fn host_recommendation_is_fast_and_follows_this_machine() {
    let start = std::time::Instant::now();
    let out = run(&["harden", "recommend", "--host", "-o", "json"]);
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let recs = v["outcomes"][0]["recommendations"].as_array().unwrap();
    let skips = v["outcomes"][0]["skipped"].as_array().unwrap();
    // Whatever this machine is, package-manager templates follow what is installed.
    for (id, bin) in [
        ("pkg-mngr-exec", "/usr/bin/dpkg"),
        ("pkg-mngr-rpm", "/usr/bin/rpm"),
    ] {
        let here = Path::new(bin).exists();
        let recommended = recs.iter().any(|r| r["template"] == id);
        let skipped = skips.iter().any(|s| s["template"] == id);
        if here {
            assert!(recommended, "{id}: {bin} exists here");
        } else {
            assert!(skipped, "{id}: no {bin} here");
        }
    }
}

/// As root with an agent: `--apply` then the blocked command is denied with the
/// template's tags in the alert, and `harden verify` passes for a template.
#[test]
fn apply_blocks_package_managers_and_verify_sees_the_alert() {
    let root = unsafe { libc::geteuid() } == 0;
    if !common::prerequisite(root, "harden apply needs root to run an agent") {
        return;
    }
    if !common::prerequisite(
        Path::new("/usr/bin/dpkg").exists(),
        "harden apply test needs dpkg",
    ) {
        return;
    }
    let agent = common::Agent::start("harden", "auto");
    let out = agent.cli(&[
        "harden",
        "recommend",
        "--category",
        "package-managers",
        "--action",
        "block",
        "--apply",
        "--yes",
        "--state-dir",
        agent.state.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("kubearmorhostpolicy/harden-pkg-mngr-exec created"),
        "{}",
        stdout(&out)
    );
    // A denied exec fails in the parent (EPERM from execve), so spawning itself errs.
    let ran = std::process::Command::new("/usr/bin/dpkg")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let alerts = agent.wait_alerts(&["PolicyName=harden-pkg-mngr-exec"], 1);
    // Take the policy away before asserting, so a failure leaves dpkg usable.
    let _ = agent.cli(&["policy", "delete", "--all"]);
    assert!(!alerts.is_empty(), "no alert: {}", agent.log());
    assert!(
        alerts[0]["Tags"]
            .as_str()
            .unwrap()
            .contains("MITRE_T1546.016"),
        "{:?}",
        alerts[0]
    );
    if agent.log().contains("enforcer: monitor-only") {
        eprintln!("*** monitor-only here: the alert is Audit ***");
    } else {
        assert!(!ran, "dpkg ran under a Block policy");
        assert_eq!(alerts[0]["Action"], "Block", "{:?}", alerts[0]);
    }
    let v = agent.cli(&[
        "harden",
        "verify",
        "cred-account-tools",
        "--state-dir",
        agent.state.to_str().unwrap(),
    ]);
    let text = stdout(&v);
    assert!(
        text.contains("PASS cred-account-tools") || text.contains("SKIP cred-account-tools"),
        "{text}{}",
        stderr(&v)
    );
    assert!(text.contains("harden verify: "), "{text}");
    // Audit first, then block: the replay keeps a template that fired here at Audit.
    let out = agent.cli(&[
        "harden",
        "recommend",
        "--category",
        "package-managers",
        "--action",
        "block",
        "--since",
        "1h",
        "--state-dir",
        agent.state.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let recs = v["outcomes"][0]["recommendations"].as_array().unwrap();
    let pkg = recs
        .iter()
        .find(|r| r["template"] == "pkg-mngr-exec")
        .unwrap();
    assert_eq!(pkg["action"], "Audit", "{pkg}");
    assert!(
        pkg["demoted"]
            .as_str()
            .unwrap()
            .contains("alerts from harden-pkg-mngr-exec since 1h"),
        "{pkg}"
    );
}

#[test]
fn imports_a_policy_templates_tree_with_file_line_problems() {
    let s = Scratch::new("harden-import");
    s.write(
        "tree/mitre/system/hsp-audit-crontab.yaml",
        "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: hsp-audit-crontab\n\
         spec:\n  tags: [MITRE, T1053.003]\n  nodeSelector:\n    matchLabels:\n      kubernetes.io/hostname: gke-ubuntu\n\
         \x20 process:\n    matchPaths:\n    - path: /bin/crontab\n    action: Block\n",
    );
    s.write(
        "tree/broken/ksp-broken.yaml",
        "kind: KubeArmorPolicy\nspec: [\n",
    );
    s.write(
        "tree/net/cnp-x.yaml",
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x}\n",
    );
    s.write(
        "tree/metadata.yaml",
        "version: v0.2.3\npolicyRules:\n- name: shm-exec\n  precondition: [OPTSCAN]\n  description: {tldr: exec from shm}\n\
         \x20 spec:\n    process:\n      matchDirectories:\n      - dir: /dev/shm/\n        recursive: true\n",
    );
    let tree = s.0.join("tree");
    let out = run(&[
        "harden",
        "list",
        "--templates",
        tree.to_str().unwrap(),
        "--category",
        "mitre",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    let t = tree.display();
    for line in [
        format!("{t}/broken/ksp-broken.yaml:3: skipped: not valid YAML"),
        format!("{t}/net/cnp-x.yaml:2: skipped: not a KubeArmor policy (kind CiliumNetworkPolicy)"),
        format!("{t}/mitre/system/hsp-audit-crontab.yaml:7: repaired: audit-crontab: nodeSelector"),
        format!(
            "{t}/mitre/system/hsp-audit-crontab.yaml:10: repaired: process.action \"Block\" left to the recommendation"
        ),
        format!(
            "{t}/mitre/system/hsp-audit-crontab.yaml:10: repaired: /bin/crontab is also matched as /usr/bin/crontab"
        ),
        format!("imported 2 templates from {t} (4 files; 2 problems skipped a file or entry)"),
    ] {
        assert!(err.contains(&line), "missing {line:?} in:\n{err}");
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t0 = &v[0];
    assert_eq!(t0["id"], "audit-crontab");
    assert_eq!(t0["compliance"][0]["control"], "T1053.003");
    assert_eq!(t0["compliance"][0]["strength"], "weak");
    // The imported host template renders with this host's selector and Audit.
    let root = debian_root(&s);
    s.write("root/usr/bin/crontab", "");
    let out = run(&[
        "harden",
        "recommend",
        "--rootfs",
        root.to_str().unwrap(),
        "--templates",
        tree.to_str().unwrap(),
        "--category",
        "mitre",
        "--action",
        "block",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &v["policies"][0];
    assert_eq!(
        p["spec"]["action"], "Audit",
        "imported templates are never blocked blindly"
    );
    assert!(p["spec"]["nodeSelector"]["matchLabels"]["kubearmor.io/hostname"].is_string());
    // A tree that is not there: an error, nothing imported.
    let out = run(&[
        "harden",
        "list",
        "--templates",
        s.0.join("nope").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a directory"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

/// The upstream corpus (572 policy files), when present: every file is imported,
/// repaired or reported, never silently lost, and every imported template renders.
#[test]
fn imports_the_whole_policy_templates_corpus() {
    let Some(dir) = common::conformance_dir() else {
        return;
    };
    let tree = dir.join("policy-templates");
    if !common::prerequisite(tree.is_dir(), "policy-templates in the conformance corpus") {
        return;
    }
    let start = std::time::Instant::now();
    let out = run(&[
        "harden",
        "list",
        "--templates",
        tree.to_str().unwrap(),
        "-o",
        "json",
    ]);
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    let summary = err.lines().last().unwrap();
    eprintln!("corpus import: {summary} in {took:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let imported = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["source"] != "builtin")
        .count();
    assert!(imported > 400, "{imported}: {summary}");
    // The 87 non-KubeArmor documents and the allow-lists are reported, each with a line.
    let skipped_kinds = err.matches("skipped: not a KubeArmor policy").count();
    assert_eq!(skipped_kinds, 87, "{err}");
    assert!(err.matches("an Allow policy").count() >= 20);
    // Every host template needed its selector repaired but one.
    assert!(err.matches("replaced by kubearmor.io/hostname").count() >= 60);
    for l in err
        .lines()
        .filter(|l| l.contains(": skipped: ") || l.contains(": repaired: "))
    {
        let loc = l.split(": ").next().unwrap();
        let line: u32 = loc
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("no line in {l}"));
        assert!(line >= 1, "{l}");
    }
    // And it renders: recommending with the whole corpus on a rootfs stays valid.
    let s = Scratch::new("harden-corpus");
    let root = debian_root(&s);
    let out_dir = s.0.join("out");
    let out = run(&[
        "harden",
        "recommend",
        "--rootfs",
        root.to_str().unwrap(),
        "--templates",
        tree.to_str().unwrap(),
        "--out-dir",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = run(&["policy", "validate", out_dir.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
}

/// A small policy-templates tree as a release zip holds it (under one top directory).
fn templates_zip(s: &Scratch) -> Vec<u8> {
    use std::io::Write as _;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in [
        (
            "policy-templates-0.2.3/mitre/system/hsp-audit-crontab.yaml",
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: hsp-audit-crontab\n\
             spec:\n  tags: [MITRE, T1053.003]\n  nodeSelector:\n    matchLabels:\n      kubernetes.io/hostname: gke-ubuntu\n\
             \x20 process:\n    matchPaths:\n    - path: /bin/crontab\n",
        ),
        (
            "policy-templates-0.2.3/broken/ksp-broken.yaml",
            "kind: KubeArmorPolicy\nspec: [\n",
        ),
        ("policy-templates-0.2.3/README.md", "not imported"),
    ] {
        w.start_file(name, opts).unwrap();
        w.write_all(body.as_bytes()).unwrap();
    }
    let bytes = w.finish().unwrap().into_inner();
    s.write("templates.zip", &bytes);
    bytes
}

fn list_templates(source: &str, cache: &Path) -> Output {
    let mut c = bin();
    for v in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ] {
        c.env_remove(v);
    }
    c.env("XDG_CACHE_HOME", cache)
        .args([
            "harden",
            "list",
            "--templates",
            source,
            "--category",
            "mitre",
            "-o",
            "json",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn imported_ids(out: &Output) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", stdout(out), stderr(out));
    });
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

/// `--templates FILE.zip`: the tree inside the archive is imported like a directory, its
/// problems named by the archive's path and the file inside it.
#[test]
fn imports_templates_from_a_zip() {
    let s = Scratch::new("harden-zip");
    templates_zip(&s);
    let z = s.0.join("templates.zip");
    let out = list_templates(z.to_str().unwrap(), &s.0.join("cache"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(imported_ids(&out), ["audit-crontab"]);
    let err = stderr(&out);
    let zs = z.display();
    for line in [
        format!("{zs}/policy-templates-0.2.3/broken/ksp-broken.yaml:3: skipped: not valid YAML"),
        format!(
            "{zs}/policy-templates-0.2.3/mitre/system/hsp-audit-crontab.yaml:10: repaired: /bin/crontab is also matched as /usr/bin/crontab"
        ),
        format!("imported 1 templates from {zs} (2 files; 1 problems skipped a file or entry)"),
    ] {
        assert!(err.contains(&line), "missing {line:?} in:\n{err}");
    }
    // Not a zip after all: an error naming it, nothing listed.
    let bad = s.write("bad.zip", "PK but not really");
    let out = list_templates(bad.to_str().unwrap(), &s.0.join("cache"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{}: not a zip archive", bad.display())),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
}

/// `--templates URL`: downloaded from a server on loopback into the cache directory, then
/// revalidated with its ETag (304: the cached copy), then — the server gone — imported
/// from the cache with a note; a URL never downloaded fails clearly.
#[test]
fn imports_templates_from_a_url_with_a_cache() {
    use std::io::{BufRead, BufReader, Write as _};
    use std::sync::{Arc, Mutex};
    let s = Scratch::new("harden-url");
    let body = templates_zip(&s);
    let cache = s.0.join("cache");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = requests.clone();
    // Two requests, then the listener is dropped: the port refuses connections.
    let server = std::thread::spawn(move || {
        for stream in listener.incoming().take(2) {
            let mut stream = stream.unwrap();
            let mut head = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let lower = head.to_ascii_lowercase();
            let reply: Vec<u8> = if lower.contains("if-none-match: \"v1\"") {
                b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            } else {
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Type: application/zip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                r.extend_from_slice(&body);
                r
            };
            seen.lock().unwrap().push(head);
            let _ = stream.write_all(&reply);
        }
    });
    // With credentials: they are sent, never printed, and never written to the cache.
    let url = format!("http://me:s3cret@127.0.0.1:{port}/releases/policy-templates.zip");
    let shown = format!("http://***@127.0.0.1:{port}/releases/policy-templates.zip");

    let first = list_templates(&url, &cache);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(imported_ids(&first), ["audit-crontab"]);
    assert!(
        stderr(&first).contains(&format!("knoxctl: note: downloaded {shown} (")),
        "{}",
        stderr(&first)
    );
    assert!(
        stderr(&first).contains(&format!(
            "{shown}/policy-templates-0.2.3/broken/ksp-broken.yaml:3: skipped"
        )),
        "{}",
        stderr(&first)
    );
    let cached: Vec<_> = std::fs::read_dir(cache.join("knoxctl/templates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(cached.len(), 2, "{cached:?}");
    for name in &cached {
        let bytes = std::fs::read(cache.join("knoxctl/templates").join(name)).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("s3cret"),
            "{name} keeps the URL's password"
        );
    }

    let second = list_templates(&url, &cache);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_eq!(imported_ids(&second), ["audit-crontab"]);
    assert!(
        stderr(&second).contains(&format!("{shown}: not modified; using the cached copy")),
        "{}",
        stderr(&second)
    );
    server.join().unwrap();
    let heads = requests.lock().unwrap().clone();
    assert_eq!(heads.len(), 2);
    assert!(
        heads[0]
            .to_ascii_lowercase()
            .contains("authorization: basic"),
        "{}",
        heads[0]
    );
    assert!(
        heads[1]
            .to_ascii_lowercase()
            .contains("if-none-match: \"v1\""),
        "{}",
        heads[1]
    );

    // The server is gone: the cached copy, said so.
    let offline = list_templates(&url, &cache);
    assert_eq!(offline.status.code(), Some(0), "{}", stderr(&offline));
    assert_eq!(imported_ids(&offline), ["audit-crontab"]);
    assert!(
        stderr(&offline).contains(&format!("knoxctl: note: could not download {shown} (")),
        "{}",
        stderr(&offline)
    );
    assert!(
        stderr(&offline).contains("using the copy cached in"),
        "{}",
        stderr(&offline)
    );

    // Never downloaded and unreachable: an error, nothing listed, nothing cached.
    let other = format!("http://127.0.0.1:{port}/other.zip");
    let out = list_templates(&other, &cache);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{other}: cannot download (")),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("and no copy is cached"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
    assert_eq!(
        std::fs::read_dir(cache.join("knoxctl/templates"))
            .unwrap()
            .count(),
        2
    );
}

/// A URL's credentials are never printed: not in the note, not in reqwest's error.
#[test]
fn template_url_credentials_are_redacted() {
    let s = Scratch::new("harden-url-creds");
    // A port nothing listens on: the download fails, with no cached copy.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let url = format!("http://me:s3cret@127.0.0.1:{port}/t.zip");
    let out = list_templates(&url, &s.0.join("cache"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(!err.contains("s3cret") && !err.contains("me:"), "{err}");
    assert!(
        err.contains(&format!("http://***@127.0.0.1:{port}/t.zip")),
        "{err}"
    );
}
