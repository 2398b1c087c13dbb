//! Policy identity on the command line without an agent: duplicates that validate and apply
//! refuse alike, the verbs of refusals, exit statuses of `diff`, the global `--socket` and
//! empty environment variables. (The agent side is in tests/agent.rs.)

use super::*;

const HOST: &str = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: dup\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n  process: {matchPaths: [{path: /bin/x}]}\n";
const CLUSTER: &str = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorClusterPolicy\nmetadata:\n  name: dup\nspec:\n  process: {matchPaths: [{path: /bin/x}]}\n";
const KSP_NO_NS: &str = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nmetadata:\n  name: dup\nspec:\n  selector: {matchLabels: {app: a}}\n  process: {matchPaths: [{path: /bin/x}]}\n";
const KSP_DEFAULT: &str = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nmetadata:\n  name: dup\n  namespace: default\nspec:\n  selector: {matchLabels: {app: b}}\n  process: {matchPaths: [{path: /bin/x}]}\n";
const NO_AGENT: &str = "/nonexistent/knoxctl-test.sock";

#[test]
fn validate_refuses_a_policy_defined_twice_with_both_places() {
    let s = Scratch::new("dup-one-file");
    let f = s.write("dup.yaml", format!("{HOST}---\n{HOST}"));
    let f = f.to_str().unwrap();
    let o = run(&["policy", "validate", "--strict", f]);
    assert_output(
        &o,
        1,
        &format!(
            "{f}:12:9: error: metadata.name: kubearmorhostpolicy/dup is defined twice (first at {f}:4:9) (each kind, namespace and name may appear once; rename one or remove it)\n\
             2 documents in 1 file: 1 valid, 1 invalid (1 error, 0 warnings)\n"
        ),
        "",
    );
}

#[test]
fn validate_refuses_duplicates_across_files_and_namespace_defaults() {
    let s = Scratch::new("dup-two-files");
    let a = s.write("a.yaml", KSP_NO_NS);
    let b = s.write("b.yaml", KSP_DEFAULT);
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let o = run(&["policy", "validate", a, b]);
    assert_output(
        &o,
        1,
        &format!(
            "{b}:4:9: error: metadata.name: kubearmorpolicy/default/dup is defined twice (first at {a}:4:9) (each kind, namespace and name may appear once; rename one or remove it)\n\
             2 documents in 2 files: 1 valid, 1 invalid (1 error, 0 warnings)\n"
        ),
        "",
    );
    // apply refuses the same set in the same words, before it needs an agent.
    let o = run(&["policy", "apply", "--socket", NO_AGENT, "-f", a, "-f", b]);
    assert_output(
        &o,
        1,
        "",
        &format!(
            "{b}:4:9: error: metadata.name: kubearmorpolicy/default/dup is defined twice (first at {a}:4:9) (each kind, namespace and name may appear once; rename one or remove it)\n\
             knoxctl: error: invalid policies; nothing was applied\n"
        ),
    );
}

#[test]
fn one_name_in_each_kind_is_not_a_duplicate() {
    let s = Scratch::new("dup-kinds");
    let f = s.write(
        "kinds.yaml",
        format!("{HOST}---\n{CLUSTER}---\n{KSP_NO_NS}"),
    );
    let o = run(&["policy", "validate", f.to_str().unwrap()]);
    assert_output(
        &o,
        0,
        "3 documents in 1 file: 3 valid, 0 invalid (0 errors, 0 warnings)\n",
        "",
    );
}

#[test]
fn refusals_use_the_commands_verb() {
    let s = Scratch::new("verbs");
    let bad = s.write(
        "bad.yaml",
        "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: x}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n  process:\n    matchPaths: [{path: relative/path}]\n",
    );
    let bad = bad.to_str().unwrap();
    let diag = format!(
        "{bad}:7:25: error: spec.process.matchPaths[0].path: 'relative/path' is not an absolute file path (paths are absolute: start with '/')\n"
    );
    let o = run(&["policy", "delete", "--socket", NO_AGENT, "-f", bad]);
    assert_output(
        &o,
        1,
        "",
        &format!("{diag}knoxctl: error: invalid policies; nothing was deleted\n"),
    );

    // diff cannot compare: exit status 2, as kubectl diff.
    let o = run(&["policy", "diff", "--socket", NO_AGENT, "-f", bad]);
    assert_output(
        &o,
        2,
        "",
        &format!("{diag}knoxctl: error: invalid policies; nothing to compare\n"),
    );
}

#[test]
fn diff_without_an_agent_is_an_error_not_a_difference() {
    let s = Scratch::new("diff-noagent");
    let f = s.write("host.yaml", HOST);
    let o = run(&[
        "policy",
        "diff",
        "-f",
        f.to_str().unwrap(),
        "--socket",
        NO_AGENT,
    ]);
    assert_output(
        &o,
        2,
        "",
        &format!(
            "knoxctl: error: cannot reach the knoxctl agent at {NO_AGENT}: No such file or directory (os error 2) (is it running? start it with `knoxctl agent` or `knoxctl onboard vm`, or point --socket/KNOXCTL_SOCKET at it)\n"
        ),
    );
}

#[test]
fn socket_is_a_global_flag_before_or_after_the_subcommand() {
    let expected = format!(
        "knoxctl: error: cannot reach the knoxctl agent at {NO_AGENT}: No such file or directory (os error 2) (is it running? start it with `knoxctl agent` or `knoxctl onboard vm`, or point --socket/KNOXCTL_SOCKET at it)\n"
    );
    for args in [
        vec!["--socket", NO_AGENT, "policy", "list"],
        vec!["policy", "--socket", NO_AGENT, "list"],
        vec!["policy", "list", "--socket", NO_AGENT],
        vec!["--socket", NO_AGENT, "policy", "get", "hsp/x"],
        vec!["--socket", NO_AGENT, "policy", "delete", "--all"],
    ] {
        let o = run(&args);
        assert_output(&o, 1, "", &expected);
    }
    let o = bin()
        .args(["policy", "list"])
        .env("KNOXCTL_SOCKET", NO_AGENT)
        .output()
        .unwrap();
    assert_output(&o, 1, "", &expected);
    let help = stdout(&run(&["policy", "list", "--help"]));
    assert!(help.contains("--socket <PATH>"), "{help}");
    assert!(help.contains("[env: KNOXCTL_SOCKET=]"), "{help}");
}

#[test]
fn empty_environment_variables_count_as_unset() {
    let s = Scratch::new("empty-env");
    let bad = s.write("bad.yaml", "kind: x\n");
    // Without the fix, clap refused the empty value before anything ran.
    let o = bin()
        .args(["policy", "apply", "-f", bad.to_str().unwrap()])
        .env("KNOXCTL_SOCKET", "")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).ends_with("knoxctl: error: invalid policies; nothing was applied\n"),
        "{}",
        stderr(&o)
    );
    let empty = s.write("none.jsonl", "");
    let o = bin()
        .args(["alerts", "--from", empty.to_str().unwrap()])
        .env("KNOXCTL_STATE_DIR", "")
        .env("KNOXCTL_SOCKET", "")
        .output()
        .unwrap();
    assert_output(&o, 0, "", "No alerts match.\n");
}

#[test]
fn delete_arguments_are_checked_before_anything_is_sent() {
    let o = run(&["policy", "delete", "--socket", NO_AGENT]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).starts_with(
            "knoxctl: error: the following required arguments were not provided:\n  <POLICY>...\n"
        ),
        "{}",
        stderr(&o)
    );
    let o = run(&["policy", "delete", "--all", "x", "--socket", NO_AGENT]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).starts_with("knoxctl: error: the argument '--all' cannot be used with"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn get_and_delete_help_document_the_policy_names() {
    for cmd in ["get", "delete"] {
        let o = run(&["policy", cmd, "--help"]);
        assert_eq!(o.status.code(), Some(0));
        let help = stdout(&o).split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            help.contains("KIND/NAME for host and cluster policies (kubearmorhostpolicy/NAME), KIND/NAMESPACE/NAME for KubeArmorPolicy"),
            "{help}"
        );
        assert!(
            help.contains("hsp or hostpolicy (kubearmorhostpolicy)"),
            "{help}"
        );
    }
}
