//! `knoxctl policy explain`: what the normalized rule set will do.

use super::*;

fn explain_json(files: &[&str]) -> serde_json::Value {
    let mut args = vec!["policy", "explain", "-o", "json"];
    let paths: Vec<String> = files
        .iter()
        .map(|f| example(f).display().to_string())
        .collect();
    for p in &paths {
        args.push("-f");
        args.push(p);
    }
    let out = run(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn package_manager_policy_blocks_each_path_with_inherited_info() {
    let v = explain_json(&["accuknox-block-pkg-mgmt-tools.yaml"]);
    let set = &v[0]["ruleSet"];
    assert_eq!(set["target"]["type"], "host");
    assert_eq!(
        set["target"]["nodeSelector"]["kubearmor.io/hostname"],
        "ubuntu-2gb-hel1-1"
    );
    let rules = set["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 30);
    let apt = &rules[0];
    assert_eq!(apt["matcher"]["path"], "/usr/bin/apt");
    assert_eq!(apt["action"], "Block");
    assert_eq!(apt["severity"], 10);
    assert_eq!(apt["message"], "apt was attempted to be executed");
    assert_eq!(apt["tags"][1], "NIST_800-53_CM-7(4)");
}

#[test]
fn table_output_shows_targets_effects_and_postures() {
    let files = [
        "accuknox-file-integrity-monitoring.yaml",
        "container-allowlist.yaml",
        "host-process-fromsource.yaml",
    ];
    let mut args = vec!["policy".to_string(), "explain".to_string()];
    for f in files {
        args.push("-f".into());
        args.push(example(f).display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&args);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(
            "Target: containers in container_namespace [kubearmor.io/container.name=ubuntu]"
        ),
        "{text}"
    );
    assert!(
        has_row(
            &text,
            &[
                "File",
                "/usr/bin/ (recursive)",
                "",
                "Block",
                "writes denied, reads permitted, alert",
                "readOnly"
            ]
        ),
        "{text}"
    );
    assert!(
        has_row(&text, &["/usr/bin/bash", "/usr/sbin/nginx", "Block"]),
        "{text}"
    );
    // The example has process and file Allow rules: each category is in allow-list mode
    // on its own line (allow-list mode is per category).
    assert!(text.contains("allow-list mode for process: anything not allowed is permitted with an Audit alert (PolicyName DefaultPosture)"), "{text}");
    assert!(text.contains("allow-list mode for file: anything not allowed is permitted with an Audit alert (PolicyName DefaultPosture)"), "{text}");
    let block = run(&[
        "policy",
        "explain",
        "--default-posture",
        "block",
        "-f",
        example("container-allowlist.yaml").to_str().unwrap(),
    ]);
    assert!(
        stdout(&block).contains("anything not allowed is denied with a Block alert"),
        "{}",
        stdout(&block)
    );
}

#[test]
fn allow_list_mode_is_per_category() {
    let s = Scratch::new("explain-allow-list");
    let head = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: p}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n  action: Allow\n";
    let explain = |name: &str, body: &str| {
        let f = s.write(name, format!("{head}{body}"));
        let out = run(&["policy", "explain", "-o", "json", "-f", f.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            v[0]["ruleSet"]["allowList"].clone(),
            v[0]["posture"].clone(),
        )
    };
    let (list, lines) = explain(
        "process.yaml",
        "  process:\n    matchPaths: [{path: /usr/sbin/nginx}]\n",
    );
    assert_eq!(
        list,
        serde_json::json!({"process": true, "file": false, "network": false, "capabilities": false})
    );
    assert_eq!(
        lines,
        serde_json::json!([
            "allow-list mode for process: anything not allowed is permitted with an Audit alert (PolicyName DefaultPosture)"
        ])
    );
    let (list, lines) = explain(
        "file.yaml",
        "  file:\n    matchPaths: [{path: /etc/hosts}]\n",
    );
    assert_eq!(list["process"], false);
    assert_eq!(list["file"], true);
    assert_eq!(lines.as_array().unwrap().len(), 1);
    assert!(
        lines[0]
            .as_str()
            .unwrap()
            .starts_with("allow-list mode for file:"),
        "{lines}"
    );
}

#[test]
fn conflicts_across_policies_resolve_to_block() {
    let s = Scratch::new("explain-conflict");
    let head = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n  process:\n    matchPaths: [{path: /usr/bin/curl}]\n";
    let a = s.write(
        "a.yaml",
        format!("{head}  action: Allow\nmetadata: {{name: allow-curl}}\n"),
    );
    let b = s.write(
        "b.yaml",
        format!("{head}  action: Block\nmetadata: {{name: block-curl}}\n"),
    );
    let out = run(&[
        "policy",
        "explain",
        "-f",
        a.to_str().unwrap(),
        "-f",
        b.to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert!(
        has_row(&text, &["Process", "/usr/bin/curl", "", "Block"]),
        "{text}"
    );
    assert!(
        !text.lines().any(|l| table_cells(l).contains(&"Allow")),
        "the Allow rule lost: {text}"
    );
    assert!(text.contains("conflict: block-curl spec.process.matchPaths[0] and allow-curl spec.process.matchPaths[0] match the same operations; Block wins"), "{text}");
}

#[test]
fn invalid_input_explains_nothing() {
    let out = run_stdin(
        &["policy", "explain", "-f", "-"],
        b"kind: KubeArmorPolicy\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    assert!(
        stderr(&out).contains("<stdin>:1:1: error: apiVersion: required field is missing"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("nothing to explain"));
}

/// spec.apparmor: the raw rules are shown per policy, said to be AppArmor-only, in the
/// table output and in the JSON rule set.
#[test]
fn raw_apparmor_rules_are_shown_as_apparmor_only() {
    let s = Scratch::new("explain-apparmor");
    let f = s.write(
        "raw.yaml",
        "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: raw}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n  apparmor: |\n    deny /etc/knox-raw/** r,\n\n    deny ptrace,\n",
    );
    let out = run(&["policy", "explain", "-f", f.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("raw AppArmor rules of raw (spec.apparmor), enforced only by the AppArmor enforcer:\n  deny /etc/knox-raw/** r,\n  deny ptrace,\n"),
        "{text}"
    );
    let out = run(&["policy", "explain", "-o", "json", "-f", f.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v[0]["ruleSet"]["apparmor"],
        serde_json::json!([{"policy": "raw", "lines": ["deny /etc/knox-raw/** r,", "deny ptrace,"]}])
    );
}
