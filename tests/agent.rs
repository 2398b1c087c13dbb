//! The agent's API and lifecycle end to end, as root on this machine.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Stdio;

#[test]
fn apply_list_get_delete_through_the_agent() {
    let a = Agent::start("crud", "monitor-only");
    let o = a.cli(&[
        "policy",
        "apply",
        "-f",
        &example("host-process-block-path.yaml"),
        "-f",
        &example("accuknox-file-integrity-monitoring.yaml"),
    ]);
    assert_output(
        &o,
        0,
        "kubearmorhostpolicy/host-block-recon-tools created: on this host (monitor-only); 5 rule(s) observed only (alerted, not blocked), see `knoxctl probe`\n\
         kubearmorpolicy/container_namespace/harden-file-integrity-monitoring created: stored; container policies are not enforced: the agent runs with the monitor-only enforcer\n",
        "",
    );

    let again = a.cli(&[
        "policy",
        "apply",
        "-f",
        &example("host-process-block-path.yaml"),
    ]);
    assert_output(
        &again,
        0,
        "kubearmorhostpolicy/host-block-recon-tools unchanged: on this host (monitor-only); 5 rule(s) observed only (alerted, not blocked), see `knoxctl probe`\n",
        "",
    );

    let list = a.cli(&["policy", "list", "-o", "json"]);
    let items: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let names: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![
            "container_namespace/harden-file-integrity-monitoring",
            "host-block-recon-tools"
        ]
    );
    assert_eq!(items[1]["appliesHere"], true);
    assert_eq!(items[1]["rules"], 5);
    assert_eq!(items[1]["id"], "kubearmorhostpolicy/host-block-recon-tools");
    assert_eq!(
        items[0]["id"],
        "kubearmorpolicy/container_namespace/harden-file-integrity-monitoring"
    );

    let get = a.cli(&["policy", "get", "host-block-recon-tools", "-o", "yaml"]);
    let yaml = stdout(&get);
    assert!(
        yaml.starts_with("apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\n"),
        "{yaml}"
    );
    assert!(yaml.contains("    - path: /usr/bin/nmap\n"), "{yaml}");
    // What get prints is itself a valid policy.
    let p = a.write("got.yaml", &yaml);
    assert!(
        bin()
            .args(["policy", "validate", "--strict"])
            .arg(&p)
            .output()
            .unwrap()
            .status
            .success()
    );
    let json = a.cli(&[
        "policy",
        "get",
        "harden-file-integrity-monitoring",
        "-o",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["metadata"]["namespace"], "container_namespace");

    let missing = a.cli(&["policy", "get", "nope"]);
    assert_output(
        &missing,
        1,
        "",
        "knoxctl: error: no applied policy named 'nope' (see `knoxctl policy list`)\n",
    );

    let del = a.cli(&[
        "policy",
        "delete",
        "-f",
        &example("host-process-block-path.yaml"),
    ]);
    assert_output(
        &del,
        0,
        "kubearmorhostpolicy/host-block-recon-tools deleted\n",
        "",
    );
    let del = a.cli(&["policy", "delete", "harden-file-integrity-monitoring"]);
    assert_output(
        &del,
        0,
        "kubearmorpolicy/container_namespace/harden-file-integrity-monitoring deleted\n",
        "",
    );
    assert_output(&a.cli(&["policy", "list"]), 0, "", "No policies applied.\n");
}

/// The script-facing formats: identifiers that round-trip, documents with readable times,
/// tables without headers.
#[test]
fn output_formats_for_scripts() {
    let a = Agent::start("formats", "monitor-only");
    let file = example("host-process-block-path.yaml");
    let id = "kubearmorhostpolicy/host-block-recon-tools\n";
    assert_output(
        &a.cli(&["policy", "apply", "-f", &file, "-o", "name"]),
        0,
        id,
        "",
    );
    assert_output(&a.cli(&["policy", "list", "-o", "name"]), 0, id, "");
    assert_output(
        &a.cli(&["policy", "get", id.trim(), "-o", "name"]),
        0,
        id,
        "",
    );
    let o = a.cli(&["policy", "list", "--no-headers"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert_eq!(stdout(&o).lines().count(), 1, "{}", out(&o));
    assert!(
        stdout(&o).starts_with("kubearmorhostpolicy/host-block-recon-tools   Block   "),
        "{}",
        out(&o)
    );
    let o = a.cli(&["policy", "list", "-o", "json"]);
    let items: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let at = items[0]["appliedAt"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        at.len() == 20 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
        "appliedAt as RFC 3339, as the table shows it: {items}"
    );
    let o = a.cli(&["policy", "list", "-o", "yml"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        stdout(&o).contains(&format!("appliedAt: {at}"))
            || stdout(&o).contains(&format!("appliedAt: '{at}'")),
        "{}",
        out(&o)
    );
    assert_output(
        &a.cli(&["policy", "delete", "--all", "-o", "name"]),
        0,
        id,
        "",
    );
    assert_output(&a.cli(&["policy", "list", "-o", "name"]), 0, "", "");
}

#[test]
fn apply_is_all_or_nothing() {
    let a = Agent::start("atomic", "monitor-only");
    let good = std::fs::read_to_string(example("host-process-block-path.yaml")).unwrap();
    let bad = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: bad}\nspec:\n  process:\n    matchPaths: [{path: relative/path}]\n";
    let f = a.write("mixed.yaml", &format!("{good}\n---\n{bad}"));
    let o = a.cli(&["policy", "apply", "-f", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        stderr(&o).contains("spec.nodeSelector: required field is missing"),
        "{}",
        out(&o)
    );
    assert!(stderr(&o).contains("nothing was applied"), "{}", out(&o));
    assert!(stderr(&a.cli(&["policy", "list"])).contains("No policies applied."));

    let twice = a.write("twice.yaml", &format!("{good}\n---\n{good}"));
    let o = a.cli(&["policy", "apply", "-f", twice.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(
            "error: metadata.name: kubearmorhostpolicy/host-block-recon-tools is defined twice (first at "
        ),
        "{}",
        out(&o)
    );
    assert!(stderr(&a.cli(&["policy", "list"])).contains("No policies applied."));
}

#[test]
fn policies_survive_sigkill_and_restart() {
    let mut a = Agent::start("restart", "monitor-only");
    let o = a.cli(&[
        "policy",
        "apply",
        "-f",
        &example("host-process-block-path.yaml"),
    ]);
    assert!(o.status.success(), "{}", out(&o));
    a.kill9();
    a.spawn();
    let list = stdout(&a.cli(&["policy", "list"]));
    assert!(list.contains("host-block-recon-tools"), "{list}");
    assert!(
        a.log()
            .contains("policies restored policies=1 host_rules=5"),
        "{}",
        a.log()
    );
}

#[test]
fn one_agent_per_state_dir_and_socket() {
    let a = Agent::start("single", "monitor-only");
    let o = bin()
        .args(["agent", "--enforcer", "monitor-only", "--config"])
        .arg(a.dir.join("config.yaml"))
        .arg("--state-dir")
        .arg(&a.state)
        .arg("--socket")
        .arg(a.dir.join("other.sock"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("another knoxctl agent is running with state directory"),
        "{}",
        out(&o)
    );
    let o = bin()
        .args(["agent", "--enforcer", "monitor-only", "--config"])
        .arg(a.dir.join("config.yaml"))
        .arg("--state-dir")
        .arg(a.dir.join("state2"))
        .arg("--socket")
        .arg(&a.socket)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("another knoxctl agent is already listening on"),
        "{}",
        out(&o)
    );
}

#[test]
fn bad_config_names_file_and_line() {
    let dir = std::env::temp_dir().join(format!("knoxctl-agent-badcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.yaml");
    std::fs::write(&cfg, "clusterName: x\nenforcr: fanotify\n").unwrap();
    let o = bin()
        .arg("agent")
        .arg("--config")
        .arg(&cfg)
        .arg("--state-dir")
        .arg(dir.join("s"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("{}:2:1: unknown field `enforcr`", cfg.display())),
        "{}",
        out(&o)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn non_root_users_are_refused() {
    let a = Agent::start("nonroot", "monitor-only");
    // The checkout may sit where uid 65534 cannot enter: run a copy from the test's dir.
    let exe = a.dir.join("knoxctl");
    std::fs::copy(env!("CARGO_BIN_EXE_knoxctl"), &exe).unwrap();
    let nobody = || {
        let mut c = std::process::Command::new(&exe);
        c.env("NO_COLOR", "1")
            .env("KNOXCTL_SOCKET", &a.socket)
            .uid(65534)
            .gid(65534);
        c
    };
    // A test thread forking while the copy was still open for writing leaves that child
    // holding it until it execs: the kernel says "Text file busy" meanwhile.
    let as_nobody = |args: &[&str]| {
        for _ in 0..100 {
            match nobody().args(args).output() {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                r => return r.unwrap(),
            }
        }
        panic!("{} stayed busy for 5 s", exe.display());
    };
    // The socket file is root-only...
    let o = as_nobody(&["policy", "list"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(stderr(&o).contains("permission denied on"), "{}", out(&o));
    // ...and even when its mode is opened up, the agent checks the peer's credentials.
    std::fs::set_permissions(&a.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    for args in [
        vec!["policy", "list"],
        vec!["policy", "delete", "x"],
        vec!["policy", "apply", "-f", "-"],
    ] {
        let o = if args.contains(&"-") {
            let mut c = nobody()
                .args(&args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            let policy = std::fs::read(example("host-process-block-path.yaml")).unwrap();
            c.stdin.take().unwrap().write_all(&policy).unwrap();
            c.wait_with_output().unwrap()
        } else {
            as_nobody(&args)
        };
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", out(&o));
        assert!(
            stderr(&o).ends_with(
                "knoxctl: error: uid 65534 may not use the knoxctl API: it is for root\n"
            ),
            "{args:?}: {}",
            out(&o)
        );
    }
    assert!(
        stderr(&a.cli(&["policy", "list"])).contains("No policies applied."),
        "root still can"
    );
}

#[test]
fn clients_say_when_no_agent_runs() {
    let o = bin()
        .args(["policy", "list", "--socket", "/nonexistent/agent.sock"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot reach the knoxctl agent at /nonexistent/agent.sock"),
        "{}",
        out(&o)
    );
    // Validation still happens locally first.
    let o = bin()
        .args([
            "policy",
            "apply",
            "--socket",
            "/nonexistent/agent.sock",
            "-f",
            "-",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("<stdin>:1:1: error: no YAML documents in this file"),
        "{}",
        out(&o)
    );
}

/// This host lists `bpf` among its LSMs but refuses BPF programs on LSM hooks (see
/// ../shared/docs/machine-notes.md): the probe must say why, `auto` must fall back to
/// fanotify, and asking for bpf-lsm explicitly must fail clearly instead of running
/// without enforcement. (BPF-LSM itself is proven in the VM: tests/vm.rs.)
#[test]
fn bpf_lsm_unusable_here_is_explained_and_auto_falls_back() {
    let o = bin().args(["probe", "-o", "json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let backends = v["enforcers"].as_array().expect("enforcers array");
    let lsm = backends
        .iter()
        .find(|b| b["backend"] == "bpf-lsm")
        .expect("bpf-lsm in the probe");
    assert_eq!(lsm["usable"], false, "{lsm}");
    let reason = lsm["reason"].as_str().unwrap();
    assert!(
        reason.contains("LSM") && reason.len() > 40,
        "the reason must say what the kernel refused: {reason}"
    );

    let auto = Agent::start("auto-fallback", "auto");
    let o = auto.cli(&["probe", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["agent"]["enforcer"], "fanotify", "{}", out(&o));

    let dir = std::env::temp_dir().join(format!("knoxctl-lsm-refused-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let o = bin()
        .args(["agent", "--enforcer", "bpf-lsm", "--state-dir"])
        .arg(&dir)
        .arg("--socket")
        .arg(dir.join("s.sock"))
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(stderr(&o).contains("bpf-lsm"), "{}", out(&o));
}

const SAME_NAME: &str = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: same}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n  process: {matchPaths: [{path: /usr/bin/nmap}]}\n";
const SAME_NAME_OTHER_KINDS: &str = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorClusterPolicy\nmetadata: {name: same}\nspec:\n  process: {matchPaths: [{path: /bin/c}]}\n---\napiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nmetadata: {name: same}\nspec:\n  selector: {matchLabels: {app: a}}\n  process: {matchPaths: [{path: /bin/k}]}\n";

fn ids(a: &Agent) -> Vec<String> {
    let o = a.cli(&["policy", "list", "-o", "json"]);
    assert!(o.status.success(), "{}", out(&o));
    let items: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn each_kind_has_its_own_names_and_printed_ids_are_accepted_back() {
    let a = Agent::start("kinds", "monitor-only");
    let host = a.write("host.yaml", SAME_NAME);
    let others = a.write("others.yaml", SAME_NAME_OTHER_KINDS);
    let o = a.cli(&["policy", "apply", "-f", host.to_str().unwrap()]);
    assert_output(
        &o,
        0,
        "kubearmorhostpolicy/same created: on this host (monitor-only); 1 rule(s) observed only (alerted, not blocked), see `knoxctl probe`\n",
        "",
    );
    let o = a.cli(&["policy", "apply", "-f", others.to_str().unwrap()]);
    assert_output(
        &o,
        0,
        "kubearmorclusterpolicy/same created: stored; container policies are not enforced: the agent runs with the monitor-only enforcer\n\
         kubearmorpolicy/default/same created: stored; container policies are not enforced: the agent runs with the monitor-only enforcer\n",
        "",
    );
    assert_eq!(
        ids(&a),
        [
            "kubearmorpolicy/default/same",
            "kubearmorhostpolicy/same",
            "kubearmorclusterpolicy/same"
        ]
    );
    let table = stdout(&a.cli(&["policy", "list"]));
    assert!(
        table.starts_with("POLICY ")
            && table
                .lines()
                .any(|l| l.starts_with("kubearmorhostpolicy/same ")),
        "{table}"
    );

    // Every printed id, and the short and case-insensitive forms, finds its policy.
    for (reference, kind) in [
        ("kubearmorhostpolicy/same", "KubeArmorHostPolicy"),
        ("hsp/same", "KubeArmorHostPolicy"),
        ("HostPolicy/same", "KubeArmorHostPolicy"),
        ("kubearmorclusterpolicy/same", "KubeArmorClusterPolicy"),
        ("csp/same", "KubeArmorClusterPolicy"),
        ("kubearmorpolicy/default/same", "KubeArmorPolicy"),
        ("ksp/same", "KubeArmorPolicy"),
        ("default/same", "KubeArmorPolicy"),
    ] {
        let o = a.cli(&["policy", "get", reference, "-o", "json"]);
        assert_eq!(o.status.code(), Some(0), "{reference}: {}", out(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["kind"], kind, "{reference}");
    }
    // The namespace-less KubeArmorPolicy is stored in `default`, as kubectl would.
    let o = a.cli(&["policy", "get", "ksp/same"]);
    assert!(
        stdout(&o).contains("metadata:\n  name: same\n  namespace: default\n"),
        "{}",
        out(&o)
    );

    let o = a.cli(&["policy", "get", "same"]);
    assert_output(
        &o,
        1,
        "",
        "knoxctl: error: 'same' is ambiguous: it names kubearmorpolicy/default/same, kubearmorhostpolicy/same, kubearmorclusterpolicy/same; use one of these\n",
    );
    let o = a.cli(&["policy", "get", "hsp/nope"]);
    assert_output(
        &o,
        1,
        "",
        "knoxctl: error: no applied policy 'hsp/nope' (kubearmorhostpolicy nope) (see `knoxctl policy list`)\n",
    );
    let o = a.cli(&["policy", "get", "hsp/ns/same"]);
    assert_output(
        &o,
        1,
        "",
        "knoxctl: error: KubeArmorHostPolicy is cluster-scoped and has no namespace: write kubearmorhostpolicy/same\n",
    );

    // Deleting the cluster policy by its printed id leaves the host policy alone.
    let o = a.cli(&["policy", "delete", "kubearmorclusterpolicy/same"]);
    assert_output(&o, 0, "kubearmorclusterpolicy/same deleted\n", "");
    assert_eq!(
        ids(&a),
        ["kubearmorpolicy/default/same", "kubearmorhostpolicy/same"]
    );
    let o = a.cli(&["policy", "delete", "-f", others.to_str().unwrap()]);
    assert_output(
        &o,
        1,
        "kubearmorpolicy/default/same deleted\n",
        &format!(
            "knoxctl: error: kubearmorclusterpolicy/same (from {}) is not applied\n",
            others.display()
        ),
    );
    let o = a.cli(&["policy", "delete", "same"]);
    assert_output(&o, 0, "kubearmorhostpolicy/same deleted\n", "");
}

#[test]
fn delete_removes_what_exists_and_reports_each_missing_one() {
    let a = Agent::start("partial-delete", "monitor-only");
    let host = a.write("host.yaml", SAME_NAME);
    let others = a.write("others.yaml", SAME_NAME_OTHER_KINDS);
    for f in [&host, &others] {
        assert!(
            a.cli(&["policy", "apply", "-f", f.to_str().unwrap()])
                .status
                .success()
        );
    }
    let o = a.cli(&["policy", "delete", "hsp/same", "nosuch", "ns/other"]);
    assert_output(
        &o,
        1,
        "kubearmorhostpolicy/same deleted\n",
        "knoxctl: error: no applied policy named 'nosuch' (see `knoxctl policy list`)\n\
         knoxctl: error: no applied policy 'ns/other' (read as kubearmorpolicy/ns/other: 'ns' is not a kind) (see `knoxctl policy list`)\n",
    );
    assert_eq!(
        ids(&a),
        [
            "kubearmorpolicy/default/same",
            "kubearmorclusterpolicy/same"
        ]
    );

    // --ignore-not-found forgives missing policies, never ambiguous ones.
    let o = a.cli(&["policy", "delete", "--ignore-not-found", "nosuch", "same"]);
    assert_output(
        &o,
        1,
        "",
        "knoxctl: error: 'same' is ambiguous: it names kubearmorpolicy/default/same, kubearmorclusterpolicy/same; use one of these\n",
    );
    let o = a.cli(&[
        "policy",
        "delete",
        "--ignore-not-found",
        "nosuch",
        "csp/same",
    ]);
    assert_output(&o, 0, "kubearmorclusterpolicy/same deleted\n", "");

    // --dry-run says what --all would delete and deletes nothing.
    assert!(
        a.cli(&["policy", "apply", "-f", host.to_str().unwrap()])
            .status
            .success()
    );
    let o = a.cli(&["policy", "delete", "--all", "--dry-run"]);
    assert_output(
        &o,
        0,
        "kubearmorpolicy/default/same deleted (dry run)\nkubearmorhostpolicy/same deleted (dry run)\n",
        "",
    );
    assert_eq!(ids(&a).len(), 2);
    let o = a.cli(&["policy", "delete", "--all"]);
    assert_output(
        &o,
        0,
        "kubearmorpolicy/default/same deleted\nkubearmorhostpolicy/same deleted\n",
        "",
    );
    assert!(ids(&a).is_empty());
    let o = a.cli(&["policy", "delete", "--all"]);
    assert_output(
        &o,
        0,
        "",
        "knoxctl: no policies applied; nothing to delete\n",
    );
}

#[test]
fn dry_run_and_diff_show_what_apply_would_do_and_change_nothing() {
    let a = Agent::start("dry-run", "monitor-only");
    let host = a.write("host.yaml", SAME_NAME);
    let others = a.write("others.yaml", SAME_NAME_OTHER_KINDS);
    let (host_p, others_p) = (host.to_str().unwrap(), others.to_str().unwrap());
    let o = a.cli(&["policy", "apply", "--dry-run", "-f", host_p]);
    assert_output(&o, 0, "kubearmorhostpolicy/same created (dry run)\n", "");
    assert!(ids(&a).is_empty(), "a dry run applies nothing");

    let o = a.cli(&["policy", "diff", "-f", host_p]);
    assert_output(
        &o,
        1,
        "--- /dev/null\n+++ kubearmorhostpolicy/same (file)\n@@ -0,0 +1,11 @@\n\
         +apiVersion: security.kubearmor.com/v1\n+kind: KubeArmorHostPolicy\n+metadata:\n+  name: same\n\
         +spec:\n+  nodeSelector:\n+    matchLabels:\n+      kubearmor.io/hostname: \"*\"\n+  process:\n\
         +    matchPaths:\n+    - path: /usr/bin/nmap\n",
        "",
    );

    assert!(a.cli(&["policy", "apply", "-f", host_p]).status.success());
    let o = a.cli(&["policy", "diff", "-f", host_p]);
    assert_output(&o, 0, "", "");
    let o = a.cli(&["policy", "apply", "--dry-run", "-f", host_p, "-f", others_p]);
    assert_output(
        &o,
        0,
        "kubearmorhostpolicy/same unchanged (dry run)\n\
         kubearmorclusterpolicy/same created (dry run)\n\
         kubearmorpolicy/default/same created (dry run)\n",
        "",
    );

    let changed = a.write(
        "host.yaml",
        &SAME_NAME.replace("/usr/bin/nmap", "/usr/bin/ncat"),
    );
    let o = a.cli(&["policy", "diff", "-f", changed.to_str().unwrap()]);
    assert_output(
        &o,
        1,
        &[
            "--- kubearmorhostpolicy/same (applied)",
            "+++ kubearmorhostpolicy/same (file)",
            "@@ -8,4 +8,4 @@",
            "       kubearmor.io/hostname: \"*\"",
            "   process:",
            "     matchPaths:",
            "-    - path: /usr/bin/nmap",
            "+    - path: /usr/bin/ncat",
            "",
        ]
        .join("\n"),
        "",
    );
    let o = a.cli(&[
        "policy",
        "apply",
        "--dry-run",
        "-f",
        changed.to_str().unwrap(),
    ]);
    assert_output(&o, 0, "kubearmorhostpolicy/same configured (dry run)\n", "");
    let o = a.cli(&["policy", "get", "hsp/same"]);
    assert!(stdout(&o).contains("/usr/bin/nmap"), "{}", out(&o));
}

/// policies.json as knoxctl 0.1.0 (format version 1) wrote it: a namespace-less
/// KubeArmorPolicy kept no namespace, and nothing stored the key.
const V1_STATE: &str = r#"{
  "version": 1,
  "policies": [
    {
      "policy": {
        "apiVersion": "security.kubearmor.com/v1",
        "kind": "KubeArmorPolicy",
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "process": {"matchPaths": [{"path": "/bin/k"}]}}
      },
      "appliedAt": 1700000000,
      "source": "web.yaml"
    },
    {
      "policy": {
        "apiVersion": "security.kubearmor.com/v1",
        "kind": "KubeArmorHostPolicy",
        "metadata": {"name": "block-nmap"},
        "spec": {"nodeSelector": {"matchLabels": {"kubearmor.io/hostname": "*"}}, "process": {"matchPaths": [{"path": "/usr/bin/nmap"}]}}
      },
      "appliedAt": 1700000001,
      "source": "host.yaml"
    }
  ]
}"#;

#[test]
fn a_version_1_state_directory_is_migrated_when_the_agent_starts() {
    let mut a = Agent::new("v1-state", "monitor-only");
    std::fs::create_dir_all(&a.state).unwrap();
    std::fs::write(a.state.join("policies.json"), V1_STATE).unwrap();
    a.spawn();
    assert_eq!(
        ids(&a),
        [
            "kubearmorpolicy/default/web",
            "kubearmorhostpolicy/block-nmap"
        ]
    );
    assert!(
        a.log()
            .contains("policy state migrated from format version 1 to 2"),
        "{}",
        a.log()
    );
    assert_eq!(
        std::fs::read_to_string(a.state.join("policies.json.v1")).unwrap(),
        V1_STATE,
        "the original is kept"
    );
    let disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.state.join("policies.json")).unwrap()).unwrap();
    assert_eq!(disk["version"], 2);
    assert_eq!(
        disk["policies"][0]["policy"]["metadata"]["namespace"],
        "default"
    );
    assert_eq!(disk["policies"][0]["appliedAt"], 1700000000);
    // The old `namespace/name` form still finds the migrated policy.
    let o = a.cli(&["policy", "delete", "default/web"]);
    assert_output(&o, 0, "kubearmorpolicy/default/web deleted\n", "");
    // Restarted, it reads version 2 and migrates nothing.
    a.stop();
    a.spawn();
    assert_eq!(ids(&a), ["kubearmorhostpolicy/block-nmap"]);
    assert!(!a.log().contains("migrated"), "{}", a.log());
}

/// apply and probe give one answer per rule: blocked, observed only (the eBPF monitor
/// alerts), or neither — a capability rule is not "observed" by anything here.
#[test]
fn apply_and_probe_agree_on_what_is_observed() {
    let a = Agent::start("observed", "monitor-only");
    let f = a.write(
        "caps.yaml",
        "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: caps}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n  process: {matchPaths: [{path: /usr/bin/nmap}]}\n  capabilities: {matchCapabilities: [{capability: net_raw, fromSource: [{path: /usr/bin/ping}]}]}\n  action: Block\n",
    );
    assert_output(
        &a.cli(&["policy", "apply", "-f", f.to_str().unwrap()]),
        0,
        "kubearmorhostpolicy/caps created: on this host (monitor-only); 1 rule(s) observed only (alerted, not blocked); 1 rule(s) neither blocked nor alerted, see `knoxctl probe`\n",
        "",
    );
    let o = a.cli(&["probe"]);
    let text = stdout(&o);
    assert!(
        text.contains("  observed only (alerted, not blocked): Process /usr/bin/nmap"),
        "{}",
        out(&o)
    );
    assert!(
        text.contains("  neither blocked nor alerted: Capabilities"),
        "{}",
        out(&o)
    );
    let o = a.cli(&["probe", "-o", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let monitor_only = report["enforcers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["backend"] == "monitor-only")
        .unwrap();
    let caps = monitor_only["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["op"] == "capabilities")
        .unwrap();
    assert_eq!(caps["level"], "none", "{caps}");
    assert!(
        caps["note"]
            .as_str()
            .unwrap()
            .contains("neither block nor alert"),
        "{caps}"
    );
    assert_eq!(report["agent"]["unprotected"].as_array().unwrap().len(), 1);
}

/// `apply DIR` (positional, as karmor) with other manifests beside the policies.
#[test]
fn apply_skips_other_kinds_when_asked() {
    let a = Agent::start("skipkinds", "monitor-only");
    let dir = a.dir.join("manifests");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        example("host-process-block-path.yaml"),
        dir.join("policy.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.join("deploy.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {}\n",
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    let o = a.cli(&["policy", "apply", d]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(stderr(&o).contains("nothing was applied"), "{}", out(&o));
    let o = a.cli(&["policy", "apply", d, "--skip-other-kinds", "-o", "name"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert_eq!(stdout(&o), "kubearmorhostpolicy/host-block-recon-tools\n");
    assert!(
        stderr(&o).contains("skipped: not a KubeArmor policy (kind Deployment)"),
        "{}",
        out(&o)
    );
}

/// A host policy for another host says which labels this host has, and the label key it
/// probably meant.
#[test]
fn a_policy_for_another_host_shows_this_hosts_labels() {
    let a = Agent::start("labels", "monitor-only");
    let f = a.write(
        "other.yaml",
        "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: other}\nspec:\n  nodeSelector: {matchLabels: {kubernetes.io/hostname: elsewhere}}\n  process: {matchPaths: [{path: /usr/bin/nmap}]}\n  action: Block\n",
    );
    let o = a.cli(&["policy", "apply", "-f", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let host = knoxctl::identity::hostname();
    assert!(
        stdout(&o).contains(&format!(
            "does not select this host ({host}; labels: kubearmor.io/hostname={host})"
        )),
        "{}",
        out(&o)
    );
    assert!(
        stdout(&o)
            .contains("label 'kubernetes.io/hostname': did you mean 'kubearmor.io/hostname'?"),
        "{}",
        out(&o)
    );
}

/// `alerts tail` follows the store, so an agent restart loses nothing: it says on stderr
/// that the agent stopped answering and that it was restarted, and the alerts of both
/// agents arrive in one stream.
#[test]
fn alerts_tail_follows_across_an_agent_restart_and_says_so() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};
    if !prerequisite(
        unsafe { libc::geteuid() } == 0,
        "root (the agent enforces with fanotify)",
    ) {
        return;
    }
    let mut a = Agent::start("tail-restart", "fanotify");
    let secret = a.write("secret.txt", "x\n");
    let policy = a.write(
        "p.yaml",
        &format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {{name: tail-restart}}\nspec:\n  nodeSelector: {{matchLabels: {{kubearmor.io/hostname: '*'}}}}\n  file: {{matchPaths: [{{path: {}}}]}}\n  action: Block\n",
            secret.display()
        ),
    );
    let o = a.cli(&["policy", "apply", "-f", policy.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
    let mut tail = bin()
        .args([
            "alerts",
            "tail",
            "-o",
            "json",
            "--filter",
            "PolicyName=tail-restart",
        ])
        .arg("--state-dir")
        .arg(&a.state)
        .env("KNOXCTL_SOCKET", &a.socket)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = BufReader::new(tail.stdout.take().unwrap());
    let stderr = tail.stderr.take().unwrap();
    let _tail = Kill(tail);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in stdout.lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let (etx, erx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = etx.send(l);
        }
    });
    let read_denied = || std::fs::read(&secret).is_err();
    let next_alert = |what: &str| {
        let l = rx
            .recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("no alert in the tail {what}"));
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["Action"], "Block", "{v}");
        v
    };
    std::thread::sleep(Duration::from_millis(500));
    assert!(read_denied(), "the first agent blocks the read");
    let first = next_alert("from the first agent");
    a.stop();
    let wait_for_line = |want: &str| {
        let start = Instant::now();
        let mut seen = Vec::new();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(l) = erx.recv_timeout(Duration::from_millis(200)) {
                if l.contains(want) {
                    return;
                }
                seen.push(l);
            }
        }
        panic!("tail never said {want:?}: {seen:#?}");
    };
    wait_for_line("the agent stopped answering");
    a.spawn();
    wait_for_line("the agent was restarted (pid ");
    // The restarted agent restores the policy before its API opens.
    assert!(read_denied(), "the restarted agent blocks the read");
    let second = next_alert("after the restart");
    assert_ne!(second["UpdatedTime"], first["UpdatedTime"]);
}
