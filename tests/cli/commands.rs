//! The command tree: help, version, usage errors (exit 2), and the command whose capability
//! has not landed saying so (exit 1, nothing done).

use super::*;

#[test]
fn help_lists_the_whole_product() {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for cmd in [
        "onboard",
        "offboard",
        "probe",
        "policy",
        "harden",
        "alerts",
        "sysdump",
        "agent",
        "completion",
        "version",
    ] {
        assert!(
            text.contains(&format!("  {cmd} ")),
            "{cmd} missing from help:\n{text}"
        );
    }
    assert!(text.contains("Exit status: 0 success; 1 a check or operation failed"));
    let policy = stdout(&run(&["policy", "--help"]));
    for sub in ["validate", "explain", "apply", "list", "get", "delete"] {
        assert!(policy.contains(&format!("  {sub} ")), "{sub}");
    }
}

#[test]
fn version_text_and_json() {
    let out = run(&["version"]);
    assert_eq!(
        stdout(&out),
        format!(
            "knoxctl {} (policies: security.kubearmor.com/v1)\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    let v: serde_json::Value =
        serde_json::from_slice(&run(&["version", "-o", "json"]).stdout).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        stdout(&run(&["--version"])),
        format!("knoxctl {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["policy", "validate"],
        vec!["policy", "validate", "-o", "xml", "x.yaml"],
        vec!["no-such-command"],
        vec!["onboard", "vm", "--enforcer", "selinux"],
        vec!["policy", "apply"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("error:"), "{args:?}");
    }
}

#[test]
fn commands_not_yet_built_say_so_and_fail() {
    let out = run(&["harden", "recommend"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("'harden recommend' is not available"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty(), "printed output");
}

#[test]
fn no_color_when_piped_or_asked() {
    let out = bin()
        .args([
            "policy",
            "validate",
            "--strict",
            example("accuknox-block-pkg-mgmt-tools.yaml")
                .to_str()
                .unwrap(),
        ])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(
        !stdout(&out).contains('\x1b'),
        "escape codes in piped output"
    );
}
