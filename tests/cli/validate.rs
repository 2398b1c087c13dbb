//! `knoxctl policy validate`: diagnostics format, strictness, inputs, exit codes, JSON.

use super::*;

const SEED: &str = "accuknox-block-pkg-mgmt-tools.yaml";

#[test]
fn seed_policy_warns_at_line_3_with_suggestion_and_passes() {
    let path = example(SEED);
    let out = run(&["policy", "validate", path.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let expected = format!(
        "{}:3:1: warning: Policymetadata: unknown field (the API server drops it) (did you mean 'metadata'?)",
        path.display()
    );
    assert!(text.lines().any(|l| l == expected), "{text}");
    assert!(
        text.contains("1 document in 1 file: 1 valid, 0 invalid (0 errors, 1 warning)"),
        "{text}"
    );
}

#[test]
fn seed_policy_fails_under_strict() {
    let path = example(SEED);
    let out = run(&["policy", "validate", "--strict", path.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(":3:1: error: Policymetadata: unknown field"),
        "{text}"
    );
}

#[test]
fn errors_name_file_line_field_and_hint() {
    let s = Scratch::new("validate-errors");
    let p = s.write(
        "bad.yaml",
        "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: bad\nspec:\n  nodeSelector:\n    matchLabels: {kubearmor.io/hostname: '*'}\n  severity: 11\n  action: block\n  process:\n    matchDirectories:\n    - dir: /usr/bin\n      recurive: true\n  file:\n    matchPaths:\n    - path: /etc/\n",
    );
    let out = run(&["policy", "validate", p.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let f = p.display();
    for want in [
        format!("{f}:8:13: error: spec.severity: 11 is above the maximum 10"),
        format!(
            "{f}:9:11: error: spec.action: 'block' is not an accepted value (did you mean 'Block'?)"
        ),
        format!(
            "{f}:12:12: error: spec.process.matchDirectories[0].dir: '/usr/bin' is not a directory: dir must start and end with '/' (write '/usr/bin/')"
        ),
        format!(
            "{f}:13:7: warning: spec.process.matchDirectories[0].recurive: unknown field (the API server drops it) (did you mean 'recursive'?)"
        ),
        format!(
            "{f}:16:13: error: spec.file.matchPaths[0].path: '/etc/' is not an absolute file path (a path ending in '/' is a directory: use matchDirectories with dir)"
        ),
    ] {
        assert!(
            text.lines().any(|l| l == want),
            "missing line:\n{want}\nin:\n{text}"
        );
    }
}

#[test]
fn multi_document_stdin_and_type_errors() {
    let input = b"apiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nmetadata: {name: ok}\nspec:\n  selector: {matchLabels: {app: x}}\n  process:\n    matchPaths: [{path: /bin/sh}]\n---\napiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nmetadata: {name: two}\nspec:\n  severity: \"5\"\n  file:\n    matchPaths:\n    - path: /etc/x\n      readOnly: \"true\"\n---\n";
    let out = run_stdin(&["policy", "validate", "-"], input);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("<stdin>:13:13: error: spec.severity: expected integer, found string (write the number without quotes)"), "{text}");
    assert!(text.contains("<stdin>:17:17: error: spec.file.matchPaths[0].readOnly: expected boolean, found string (write true or false without quotes)"), "{text}");
    assert!(
        text.contains("2 documents in 1 file: 1 valid, 1 invalid"),
        "{text}"
    );
}

#[test]
fn directories_are_searched_recursively_for_yaml() {
    let s = Scratch::new("validate-dir");
    let good = std::fs::read(example("host-process-block-path.yaml")).unwrap();
    s.write("a/one.yaml", &good);
    // Another name: the same policy twice would be a duplicate.
    let other = String::from_utf8(good.clone()).unwrap().replace(
        "name: host-block-recon-tools",
        "name: host-block-recon-tools-2",
    );
    s.write("a/b/two.YML", other);
    s.write("a/readme.txt", "not yaml");
    let out = run(&["policy", "validate", s.0.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("2 documents in 2 files: 2 valid"),
        "{}",
        stdout(&out)
    );

    let empty = Scratch::new("validate-empty-dir");
    let out = run(&["policy", "validate", empty.0.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("no *.yaml or *.yml files in this directory"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn missing_file_fails_with_its_name() {
    let out = run(&["policy", "validate", "/nonexistent/policy.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("/nonexistent/policy.yaml:1:1: error: cannot read: No such file"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn json_report_is_machine_readable() {
    let path = example(SEED);
    let out = run(&[
        "policy",
        "validate",
        "-o",
        "json",
        "--strict",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(v["valid"], false);
    assert_eq!(v["summary"]["documents"], 1);
    let d = &v["files"][0]["documents"][0];
    assert_eq!(d["kind"], "KubeArmorHostPolicy");
    assert_eq!(d["name"], "block-pkg-mgmt-tools");
    assert_eq!(d["diagnostics"][0]["line"], 3);
    assert_eq!(d["diagnostics"][0]["column"], 1);
    assert_eq!(d["diagnostics"][0]["field"], "Policymetadata");
    assert_eq!(d["diagnostics"][0]["severity"], "error");
    assert_eq!(d["diagnostics"][0]["hint"], "did you mean 'metadata'?");
}

#[test]
fn semantic_checks_catch_what_the_crd_cannot() {
    let s = Scratch::new("validate-semantic");
    let p = s.write(
        "p.yaml",
        "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: sem}\nspec:\n  nodeSelector: {matchLabels: {}}\n  process:\n    matchPaths:\n    - path: /usr/bin/apt\n      action: Allow\n    - path: /usr/bin/apt\n    - ownerOnly: true\n  network:\n    matchProtocols:\n    - protocol: xtcp\n      fromSource: [{path: /usr/bin/curl}]\n",
    );
    let out = run(&["policy", "validate", p.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "warnings only: {text}");
    for want in [
        "spec.nodeSelector.matchLabels: empty: this policy selects no host",
        "spec.process.matchPaths[0]: Allow conflicts with Block of spec.process.matchPaths[1] at line 10: Block wins",
        "spec.process.matchPaths[2]: rule has neither path nor execname: it matches nothing",
        "spec.network.matchProtocols[0].protocol: 'xtcp' passes the CRD's pattern but is not a protocol",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let strict = run(&["policy", "validate", "--strict", p.to_str().unwrap()]);
    assert_eq!(strict.status.code(), Some(1));
}

#[test]
fn non_kubearmor_and_misspelt_kinds() {
    let out = run_stdin(
        &["policy", "validate", "-"],
        b"apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x}\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(
            "<stdin>:2:7: error: kind: not a KubeArmor policy (kind CiliumNetworkPolicy)"
        ),
        "{}",
        stdout(&out)
    );
    let out = run_stdin(
        &["policy", "validate", "-"],
        b"apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostpolicy\nmetadata: {name: x}\n",
    );
    assert!(
        stdout(&out)
            .contains("unknown kind 'KubeArmorHostpolicy' (did you mean 'KubeArmorHostPolicy'?)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn numbers_and_tags_resolve_like_kubectl() {
    let head = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: nums}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n  process: {matchPaths: [{path: /bin/x}]}\n";
    for (sev, ok) in [
        ("5.0", true),
        ("0X0A", true),
        ("0o7", true),
        ("1_0", true),
        ("!foo 5", false),
        ("1e400", false),
    ] {
        let out = run_stdin(
            &["policy", "validate", "-"],
            format!("{head}  severity: {sev}\n").as_bytes(),
        );
        assert_eq!(
            out.status.code(),
            Some(if ok { 0 } else { 1 }),
            "severity {sev}: {}",
            stdout(&out)
        );
    }
}

#[test]
fn pruned_fields_never_reach_the_rule_set() {
    let input = b"apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: p}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n  process:\n    matchPaths:\n    - path: /usr/bin/curl\n      readOnly: true\n    - path: /usr/bin/curl\n      execname: wget\n";
    let out = run_stdin(&["policy", "validate", "-"], input);
    let text = stdout(&out);
    assert!(
        text.contains("spec.process.matchPaths[0].readOnly: unknown field"),
        "{text}"
    );
    assert!(
        text.contains("spec.process.matchPaths[1].path: ignored: execname is set too"),
        "{text}"
    );
    let out = run_stdin(&["policy", "explain", "-f", "-"], input);
    let text = stdout(&out);
    assert!(
        !text.contains("readOnly"),
        "process rules have no readOnly: {text}"
    );
    assert!(text.contains("execname wget"), "{text}");
}

/// One way to pass files everywhere: -f/--filename (kubectl) and positional paths (karmor).
#[test]
fn every_file_reading_command_takes_f_and_positional_paths() {
    let file = example("host-process-block-path.yaml");
    let file = file.to_str().unwrap();
    for args in [
        vec!["policy", "validate", file],
        vec!["policy", "validate", "-f", file],
        vec!["policy", "validate", "--filename", file],
        vec!["policy", "validate", "--file", file],
        vec!["policy", "explain", file],
        vec!["policy", "explain", "-f", file],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }
    // apply and diff parse the same way (they then need an agent: exit 1 or 2, never a
    // usage error about the path).
    for cmd in ["apply", "diff"] {
        for how in [&["-f", file][..], &[file][..]] {
            let mut args = vec!["--socket", "/nonexistent/agent.sock", "policy", cmd];
            args.extend_from_slice(how);
            let out = run(&args);
            assert!(
                !stderr(&out).contains("unexpected argument"),
                "{args:?}: {}",
                stderr(&out)
            );
            assert!(
                stderr(&out).contains("cannot reach the knoxctl agent"),
                "{args:?}: {}",
                stderr(&out)
            );
        }
    }
    let out = run(&["policy", "validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--filename <PATH>"),
        "{}",
        stderr(&out)
    );
}

/// A policy directory in a repository: hidden entries (.git/) are not read, and other
/// manifests fail the run unless --skip-other-kinds says to skip them.
#[test]
fn hidden_entries_and_other_kinds_in_directories() {
    let s = Scratch::new("validate-skip");
    let good = std::fs::read(example("host-process-block-path.yaml")).unwrap();
    s.write("policies/block.yaml", &good);
    s.write("policies/.git/old.yaml", "kind: [broken");
    s.write("policies/.hidden.yaml", "kind: [broken");
    let dir = s.0.join("policies");
    let dir = dir.to_str().unwrap();
    let out = run(&["policy", "validate", dir]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("1 document in 1 file"),
        "{}",
        stdout(&out)
    );
    s.write(
        "policies/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {}\n",
    );
    let out = run(&["policy", "validate", dir]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("not a KubeArmor policy (kind Deployment)")
            && stdout(&out).contains("--skip-other-kinds"),
        "{}",
        stdout(&out)
    );
    for extra in [&[][..], &["--strict"][..]] {
        let mut args = vec!["policy", "validate", dir, "--skip-other-kinds"];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", stdout(&out));
        assert!(
            stdout(&out).contains("skipped: not a KubeArmor policy (kind Deployment)"),
            "{}",
            stdout(&out)
        );
    }
    // A misspelt KubeArmor kind is never skipped.
    s.write(
        "policies/typo.yaml",
        "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicyy\nmetadata: {name: t}\nspec: {}\n",
    );
    let out = run(&["policy", "validate", dir, "--skip-other-kinds"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}

/// A file that is not YAML has no documents: the summary says the file could not be read
/// instead of "0 documents: 1 invalid", and the position is printed once.
#[test]
fn unreadable_files_are_counted_as_files() {
    let s = Scratch::new("validate-unreadable");
    let bad = s.write("bad.yaml", "kind: KubeArmorHostPolicy\nspec: [unclosed\n");
    let good = example(SEED);
    let out = run(&[
        "policy",
        "validate",
        bad.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "1 document in 2 files: 1 valid, 0 invalid, 1 file not readable as policies (1 error, 1 warning)"
        ),
        "{text}"
    );
    let line = text.lines().find(|l| l.contains("bad.yaml:")).unwrap();
    assert!(line.contains(": error: YAML syntax error: "), "{line}");
    assert!(
        !line.contains(" at 2:") && !line.contains(" at 3:"),
        "{line}"
    );
    let out = run(&["policy", "validate", "-o", "json", bad.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["summary"]["unreadable"], 1, "{v}");
    assert_eq!(v["summary"]["invalid"], 1, "{v}");
}

/// What KubeArmor refuses in a container policy outside Kubernetes: warned with file, line
/// and field, and refused under --strict (the CRD itself accepts these, so plain validation
/// keeps its verdict).
#[test]
fn container_selectors_kubearmor_refuses_outside_kubernetes() {
    let dir = std::env::temp_dir().join(format!("knoxctl-cli-ctr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ksp.yaml");
    std::fs::write(
        &path,
        "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nmetadata:\n  name: bad\n  namespace: prod\nspec:\n  selector:\n    matchLabels:\n      kubearmor.io/container.name: \"ubu(ntu\"\n      app: x\n  process:\n    matchPaths:\n      - path: /bin/ls\n  action: Block\n---\napiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nmetadata:\n  name: empty\nspec:\n  selector:\n    matchLabels: {}\n  process:\n    matchPaths:\n      - path: /bin/ls\n  action: Block\n---\napiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nmetadata:\n  name: anchored\n  namespace: container_namespace\nspec:\n  selector:\n    matchLabels:\n      kubearmor.io/container.name: ^ubuntu$\n  process:\n    matchPaths:\n      - path: /bin/ls\n  action: Block\n",
    )
    .unwrap();
    let p = path.display();
    let out = run(&["policy", "validate", path.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for want in [
        format!(
            "{p}:9:36: warning: spec.selector.matchLabels.kubearmor.io/container.name: cannot be combined with other labels (app)"
        ),
        format!(
            "{p}:9:36: warning: spec.selector.matchLabels.kubearmor.io/container.name: 'ubu(ntu' is not a valid regular expression"
        ),
        format!(
            "{p}:5:3: warning: metadata.namespace: containers on a VM are all in container_namespace, never in 'prod'"
        ),
        format!(
            "{p}:22:5: warning: spec.selector.matchLabels: empty: selects no container on a VM"
        ),
        format!(
            "{p}:36:36: warning: spec.selector.matchLabels.kubearmor.io/container.name: '^ubuntu$' selects no container"
        ),
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(&want)),
            "missing {want}:\n{text}"
        );
    }
    let strict = run(&["policy", "validate", "--strict", path.to_str().unwrap()]);
    assert_eq!(strict.status.code(), Some(1), "{}", stdout(&strict));
    assert!(stdout(&strict).contains(
        ": error: spec.selector.matchLabels.kubearmor.io/container.name: cannot be combined"
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn container_commands_usage_errors_exit_2() {
    for args in [
        &["containers", "-o", "xml"][..],
        &["containers", "extra"][..],
        &["oci-hook", "extra"][..],
        &["oci-hook", "--stage"][..],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stdout(&out));
    }
    // No agent: `containers` says so and fails (1).
    let out = run(&["--socket", "/nonexistent/knoxctl.sock", "containers"]);
    assert_eq!(out.status.code(), Some(1));
}

/// Raw AppArmor rules are valid for the CRD, and only the AppArmor enforcer loads them:
/// the user is told so at the field, never left to believe every enforcer does. Rules
/// that would close knoxctl's profile are an error.
#[test]
fn raw_apparmor_rules_are_valid_and_warned_as_apparmor_only() {
    let s = Scratch::new("validate-apparmor");
    let doc = |raw: &str| {
        format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nmetadata:\n  name: aa\n  namespace: container_namespace\nspec:\n  selector:\n    matchLabels: {{app: web}}\n  apparmor: |\n{raw}"
        )
    };
    let p = s.write("aa.yaml", doc("    deny /etc/{shadow,gshadow} r,\n"));
    let out = run(&["policy", "validate", p.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "{}:9:3: warning: spec.apparmor: raw AppArmor rules are enforced only by the AppArmor enforcer, which puts them into the profile of each target the policy selects; BPF-LSM and fanotify do not load them, and there this part of the policy does nothing",
            p.display()
        )),
        "{text}"
    );
    let p = s.write(
        "escape.yaml",
        doc("    deny /etc/x r,\n    }\n    profile other /** {\n"),
    );
    let out = run(&["policy", "validate", p.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("error: spec.apparmor: line 2: this } closes a block the rules did not open"),
        "{text}"
    );
}

/// `policy apply` says it at the field when the agent's enforcer (fanotify here) does not
/// load raw AppArmor rules: "not enforced here", naming the enforcer, not the general rule.
#[test]
fn apply_says_raw_apparmor_rules_are_not_enforced_by_the_agents_enforcer() {
    let root = unsafe { libc::geteuid() } == 0;
    if !common::prerequisite(root, "policy apply needs an agent, which needs root") {
        return;
    }
    let agent = common::Agent::start("raw-apparmor", "fanotify");
    let p = agent.write(
        "raw.yaml",
        "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: raw\nspec:\n  nodeSelector:\n    matchLabels: {kubearmor.io/hostname: '*'}\n  apparmor: |\n    deny /etc/knox-raw/** r,\n",
    );
    let out = agent.cli(&["policy", "apply", "-f", p.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{}{err}", stdout(&out));
    assert!(
        err.contains(&format!(
            "{}:8:3: warning: spec.apparmor: not enforced here: the agent enforces with fanotify, which does not load raw AppArmor rules (only the AppArmor enforcer does): this part of the policy does nothing",
            p.display()
        )),
        "{err}"
    );
    assert!(
        !err.contains("enforced only by the AppArmor enforcer"),
        "{err}"
    );
    // Nor does the policy's effect call it enforced: raw rules are all it has.
    let out_text = stdout(&out);
    assert!(
        out_text.contains("kubearmorhostpolicy/raw created: not enforced on this host: its only rules are spec.apparmor raw AppArmor rules, which the agent's enforcer (fanotify) does not load"),
        "{out_text}"
    );
    assert!(
        !out_text.contains("enforced on this host (fanotify)"),
        "{out_text}"
    );
    // With a rule fanotify enforces, the policy is enforced, all but its raw rules.
    let mixed = agent.write(
        "mixed.yaml",
        "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: mixed\nspec:\n  nodeSelector:\n    matchLabels: {kubearmor.io/hostname: '*'}\n  file:\n    matchPaths:\n    - path: /etc/knox-raw-mixed\n  action: Block\n  apparmor: |\n    deny /etc/knox-raw/** r,\n",
    );
    let out = agent.cli(&["policy", "apply", "-f", mixed.to_str().unwrap()]);
    let out_text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{out_text}{}", stderr(&out));
    assert!(
        out_text.contains("kubearmorhostpolicy/mixed created: enforced on this host (fanotify); its spec.apparmor raw AppArmor rules are not enforced here (fanotify does not load them)"),
        "{out_text}"
    );
}
