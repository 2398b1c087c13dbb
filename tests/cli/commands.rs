//! The command tree: help, version, usage errors (exit 2), and help saying what this build
//! cannot do.

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
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "knoxctl {} (policies: security.kubearmor.com/v1)",
            env!("CARGO_PKG_VERSION")
        )
    );
    let v: serde_json::Value =
        serde_json::from_slice(&run(&["version", "-o", "json"]).stdout).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["policyApiVersion"], "security.kubearmor.com/v1");

    // The commit: this checkout's HEAD when git can say, else "unknown".
    let commit = v["gitCommit"].as_str().unwrap();
    let head = Command::new("git")
        .arg("-C")
        .arg(repo())
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| stdout(&o).trim().to_string());
    match &head {
        Some(head) => assert_eq!(commit, head, "built from HEAD"),
        None => assert_eq!(commit, "unknown"),
    }
    assert!(
        v["gitDirty"].is_boolean() || (v["gitDirty"].is_null() && commit == "unknown"),
        "{v}"
    );
    let date = v["buildDate"].as_str().unwrap();
    let shape: String = date
        .chars()
        .map(|c| if c.is_ascii_digit() { 'N' } else { c })
        .collect();
    assert_eq!(shape, "NNNN-NN-NNTNN:NN:NNZ", "{date}");
    let target = v["target"].as_str().unwrap();
    assert!(
        target.starts_with(std::env::consts::ARCH) && target.contains("-linux"),
        "{target}"
    );
    let rustc = v["rustc"].as_str().unwrap();
    assert!(
        rustc.starts_with("rustc 1.") || rustc == "unknown",
        "{rustc}"
    );

    // The text says the same.
    let dirty = match v["gitDirty"].as_bool() {
        Some(true) => " (uncommitted changes)",
        Some(false) => "",
        None => " (tree state unknown)",
    };
    assert_eq!(lines[1], format!("commit:  {commit}{dirty}"));
    assert_eq!(lines[2], format!("built:   {date}"));
    assert_eq!(lines[3], format!("target:  {target}"));
    assert_eq!(lines[4], format!("rustc:   {rustc}"));
    assert_eq!(
        stdout(&run(&["--version"])),
        format!("knoxctl {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// build.rs's date formatting, which honours SOURCE_DATE_EPOCH.
#[test]
fn build_dates_are_utc_calendar_dates() {
    assert_eq!(build_script::format_utc(0), "1970-01-01T00:00:00Z");
    assert_eq!(
        build_script::format_utc(951_827_696),
        "2000-02-29T12:34:56Z"
    );
    assert_eq!(
        build_script::format_utc(1_796_515_199),
        "2026-12-05T23:59:59Z"
    );
    assert_eq!(
        build_script::format_utc(4_107_542_400),
        "2100-03-01T00:00:00Z"
    );
}

#[test]
fn logs_is_the_telemetry_command() {
    // karmor's `logs --json` is not knoxctl's: a usage error that names the flag.
    let out = run(&["logs", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("'--json'"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    let help = stdout(&run(&["--help"]));
    assert!(help.contains("logs"), "{help}");
    let help = stdout(&run(&["logs", "--help"]));
    assert!(
        help.contains("visibility") && help.contains("HostLog"),
        "{help}"
    );
    // A policy named logs is a policy.
    let out = run(&[
        "policy",
        "get",
        "logs",
        "--socket",
        "/nonexistent/agent.sock",
    ]);
    assert!(!stderr(&out).contains("did you mean"), "{}", stderr(&out));

    let out = run(&["completion", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("no completion script for shell 'tcsh'")
            && err.contains("the supported shells are bash, zsh, fish, powershell, elvish"),
        "{err}"
    );
    assert!(!err.contains("similar"), "tcsh is not zsh: {err}");
    assert_eq!(run(&["completion", "ZSH"]).status.code(), Some(0));
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
fn help_says_what_this_build_cannot_do() {
    let long = stdout(&run(&["--help"])).replace('\n', " ");
    assert!(
        long.contains("BPF-LSM, else AppArmor, else fanotify: the strongest this kernel allows"),
        "{long}"
    );
    assert!(!long.contains("raise no alerts yet"), "{long}");
    let short = stdout(&run(&["-h"]));
    let harden = short
        .lines()
        .find(|l| l.trim_start().starts_with("harden "))
        .unwrap_or_else(|| panic!("{short}"));
    assert!(!harden.contains("not yet available"), "{harden}");
    let page = std::fs::read_to_string(repo().join("man/knoxctl.1")).unwrap();
    assert!(page.contains("else AppArmor, else fanotify"), "{page}");
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

/// One error reporter and one exit path: `cmd::error` (src/cmd/exit.rs) is the only place
/// that writes the `knoxctl: error:` prefix, so every error line looks the same (a new one
/// elsewhere would drift), and exit codes are made only from `ExitStatus` there.
#[test]
fn only_the_exit_module_prints_errors_and_makes_exit_codes() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&repo().join("src"), &mut files);
    let offenders: Vec<String> = files
        .iter()
        .filter(|p| !p.ends_with("src/cmd/exit.rs"))
        .flat_map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            text.lines()
                .enumerate()
                .filter(|(_, l)| {
                    (l.contains("\"knoxctl: error")
                        || l.contains("ExitCode::from(")
                        || l.contains("ExitCode::SUCCESS")
                        || l.contains("ExitCode::FAILURE"))
                        && !l.trim_start().starts_with("//")
                })
                .map(|(i, l)| format!("{}:{}: {}", p.display(), i + 1, l.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "use cmd::error / cmd::ExitStatus instead:\n{}",
        offenders.join("\n")
    );
}

/// The common commands a user runs without an agent, each with exit status, stdout and
/// stderr checked together: data on stdout, every error line on stderr under the one
/// `knoxctl: error:` prefix (clap's usage errors too), and the documented statuses.
#[test]
fn common_commands_answer_with_status_stdout_and_stderr_together() {
    let s = Scratch::new("transcripts");
    let good = example("host-process-block-path.yaml");
    let good = good.to_str().unwrap();
    let bad = s.write(
        "bad.yaml",
        "kind: KubeArmorHostPolicy\nspec:\n  process:\n    matchPaths:\n    - path: /bin/x\n   action: Block\n",
    );
    let bad = bad.to_str().unwrap();
    assert_output(
        &run(&["policy", "validate", good]),
        0,
        "1 document in 1 file: 1 valid, 0 invalid (0 errors, 0 warnings)\n",
        "",
    );
    assert_output(
        &run(&["policy", "validate", bad]),
        1,
        &format!(
            "{bad}:6:4: error: YAML syntax error: while parsing a block mapping, did not find expected key\n\
             0 documents in 1 file: 0 valid, 0 invalid, 1 file not readable as policies (1 error, 0 warnings)\n"
        ),
        "",
    );
    assert_output(
        &run(&["policy", "list", "--socket", "/nonexistent/k.sock"]),
        1,
        "",
        "knoxctl: error: cannot reach the knoxctl agent at /nonexistent/k.sock: No such file or \
         directory (os error 2) (is it running? start it with `knoxctl agent` or `knoxctl onboard \
         vm`, or point --socket/KNOXCTL_SOCKET at it)\n",
    );
    assert_output(
        &run(&["alerts", "--from", "/dev/null", "--filter", "Actio=Block"]),
        2,
        "",
        "knoxctl: error: --filter: invalid filter 'Actio=Block': unknown field 'Actio' (did you \
         mean 'Action'?)\nFor more information, try 'knoxctl alerts --help'.\n",
    );
    assert_output(
        &run(&["alerts", "--from", "/dev/null"]),
        0,
        "",
        "No alerts match.\n",
    );
    assert_output(
        &run(&["harden", "list", "--framework", "pci-dds"]),
        2,
        "",
        "knoxctl: error: unknown framework 'pci-dds' (did you mean 'pci-dss'?); known: \
         mitre-attack, nist-800-53, nist-800-190, cis-debian12, cis-controls, cis-docker, \
         stig-ubuntu2204, stig-rhel9, pci-dss\nFor more information, try 'knoxctl harden list --help'.\n",
    );
    assert_output(
        &run(&["policy", "get"]),
        2,
        "",
        "knoxctl: error: the following required arguments were not provided:\n  <POLICY>\n\n\
         Usage: knoxctl policy get <POLICY>\n\nFor more information, try '--help'.\n",
    );
    // Help is an answer, not an error: stdout, status 0.
    let o = run(&["policy", "--help"]);
    assert_eq!((o.status.code(), stderr(&o).as_str()), (Some(0), ""));
    assert!(
        stdout(&o).starts_with("Validate, apply, list"),
        "{}",
        stdout(&o)
    );
}
