//! The VM scenarios (tests/vm/scenarios/*.sh) as a test target: boots Debian's stock kernel
//! under qemu once (scripts/vm/run.sh, with the knoxctl cargo just built) and reports each
//! scenario as a libtest-style result. `harness = false`: one boot runs the whole batch, so
//! there is nothing for libtest to parallelize, and a VM must not share the two cores with
//! another one.
//!
//! `cargo test --release --test vm [SUBSTRING]` runs the scenarios whose name contains
//! SUBSTRING. KNOXCTL_SKIP_VM=1 skips the VM (loudly) where qemu cannot run.
//!
//! Two boots: tests/vm/scenarios with run.sh's default LSMs (BPF-LSM and AppArmor), and
//! tests/vm/apparmor (tests named `vm::apparmor::...`) with `lsm=landlock,lockdown,yama,
//! apparmor` (no bpf) and the host's apparmor_parser copied in. A boot none of whose
//! scenarios is selected does not run.
//!
//! KubeArmor's own test corpus (read at test time from `$KNOXCTL_CONFORMANCE_DIR` or
//! `../shared/conformance`, never copied into the repo) goes into the VM at the same path
//! (`run.sh --add`), and the scenarios find it through the kernel command line
//! (`knox_conformance=DIR`, which the kernel hands to init as an environment variable);
//! without it those scenarios skip, loudly. Their `kubearmor ... passed` count lines are
//! repeated after the per-scenario results, so CI logs show how much of the corpus passes.

#[path = "vm/libtest.rs"]
mod libtest;

use libtest::{Args, on_path, parse_args, summary};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// One boot of the VM: its scenario directory, the prefix of its test names, and what
/// run.sh gets besides the common arguments.
struct Boot {
    dir: &'static str,
    prefix: &'static str,
    /// Where run.sh writes (next to the BPF-LSM boot's `vm`).
    vm_subdir: &'static str,
}

/// The BPF-LSM boot (lsm=...,apparmor,bpf, run.sh's default) and the AppArmor boot
/// (lsm=landlock,lockdown,yama,apparmor: no bpf, so `auto` and the scenarios get AppArmor).
const BOOTS: [Boot; 2] = [
    Boot {
        dir: "tests/vm/scenarios",
        prefix: "vm::",
        vm_subdir: "vm",
    },
    Boot {
        dir: "tests/vm/apparmor",
        prefix: "vm::apparmor::",
        vm_subdir: "vm-apparmor",
    },
];

fn test_name(boot: &Boot, scenario: &str) -> String {
    format!("{}{scenario}", boot.prefix)
}

fn selected(args: &Args, boot: &Boot, scenario: &str) -> bool {
    args.selects(&test_name(boot, scenario), scenario)
}

fn scenarios(repo: &Path, dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo.join(dir))
        .expect("the VM scenario directory")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".sh").map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

/// The parts of KubeArmor's repository (under the conformance dir) the VM scenarios read:
/// the host scenario corpus, the non-k8s host policy suite, and the examples the corpus's
/// broken symlinks were meant to point to.
const CONFORMANCE_SUBTREES: &[&str] = &[
    "kubearmor/tests/k8s_env/host_scenarios",
    "kubearmor/tests/nonk8s_env/host_policy",
    "kubearmor/policies/examples/host-security-policies",
];

/// `run.sh` arguments that put the conformance corpus into the VM and tell the scenarios
/// where it is, or why not (a loud line; the scenarios then skip).
fn conformance_args(repo: &Path) -> Result<Vec<String>, String> {
    let dir = std::env::var_os("KNOXCTL_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("../shared/conformance"));
    if !dir.join("kubearmor/tests").is_dir() {
        return Err(format!(
            "KubeArmor's conformance corpus not found at {} (set KNOXCTL_CONFORMANCE_DIR)",
            dir.display()
        ));
    }
    let dir = std::fs::canonicalize(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let text = dir.to_str().unwrap_or_default();
    // A kernel command-line value: no blanks, quotes or control characters.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_graphic() && b != b'"') {
        return Err(format!(
            "the conformance dir {} cannot be passed on the kernel command line (blanks, quotes or non-ASCII in its path)",
            dir.display()
        ));
    }
    let mut args = Vec::new();
    for sub in CONFORMANCE_SUBTREES {
        let p = dir.join(sub);
        if p.is_dir() {
            args.push("--add".to_string());
            args.push(p.display().to_string());
        }
    }
    args.push("--append".to_string());
    args.push(format!("knox_conformance={text}"));
    Ok(args)
}

/// Builds tests/vm/execveat.rs (a program run from a file descriptor: execveat, fexecve)
/// into `dir` with plain rustc (it uses no crates), for the bypass scenario; returns the
/// `run.sh` arguments that copy it into the VM and name it to the scenarios
/// (`knox_execveat=PATH` on the kernel command line), or why not.
fn execveat_helper_args(repo: &Path, dir: &Path) -> Result<Vec<String>, String> {
    let src = repo.join("tests/vm/execveat.rs");
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = dir.join("knox-execveat");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let status = Command::new(&rustc)
        .args(["--edition", "2024", "-O", "--crate-name", "knox_execveat"])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", rustc.to_string_lossy()))?;
    if !status.success() {
        return Err(format!("rustc {} failed ({status})", src.display()));
    }
    let text = out.to_str().unwrap_or_default();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_graphic() && b != b'"') {
        return Err(format!(
            "{} cannot be passed on the kernel command line",
            out.display()
        ));
    }
    Ok(vec![
        "--add".to_string(),
        text.to_string(),
        "--append".to_string(),
        format!("knox_execveat={text}"),
    ])
}

/// The count lines conformance scenarios print (`kubearmor host scenarios: 30/34 passed`;
/// on AppArmor `kubearmor host scenarios (apparmor): outcome 30/34, alerts 12/34 passed`).
fn count_lines(log: &str) -> impl Iterator<Item = &str> {
    log.lines()
        .filter(|l| l.starts_with("kubearmor ") && l.ends_with(" passed"))
}

/// The table lines the scenarios log: bypass routes (`# bypass bpf-lsm chroot: blocked`,
/// `# bypass apparmor hard link: NOT STOPPED (...)`)
/// and container cases (`# container bpf-lsm unshare ...: still governed`).
fn bypass_lines(log: &str) -> impl Iterator<Item = &str> {
    log.lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| l.starts_with("bypass ") || l.starts_with("container "))
}

/// What one boot reported: (test name, PASS|SKIP|FAIL, reason, log file), and the count
/// and table lines of its logs.
struct Outcome {
    results: Vec<(String, String, String, PathBuf)>,
    counts: Vec<String>,
    console: PathBuf,
}

fn run_boot(
    repo: &Path,
    knoxctl: &Path,
    boot: &Boot,
    all: &[String],
    chosen: &[&String],
) -> Outcome {
    // Next to the binary's target directory, so CARGO_TARGET_DIR is honoured.
    let vm_dir = knoxctl
        .parent()
        .and_then(Path::parent)
        .map(|t| t.join(boot.vm_subdir))
        .unwrap_or_else(|| repo.join("target").join(boot.vm_subdir));
    let results_file = vm_dir.join("results.tsv");
    let _ = std::fs::remove_file(&results_file);
    let mut outcome = Outcome {
        results: Vec::new(),
        counts: Vec::new(),
        console: vm_dir.join("console.log"),
    };
    let mut cmd = Command::new("bash");
    cmd.arg(repo.join("scripts/vm/run.sh"))
        .arg("--knoxctl")
        .arg(knoxctl)
        .arg("--brief")
        // The whole batch, host side: KubeArmor's corpus (20-, 21-) made it longer than
        // run.sh's default 900 s allows on a busy machine.
        .args(["--timeout", "1800"])
        .env("KNOX_VM_DIR", &vm_dir);
    // A libtest filter becomes a batch of exactly the chosen scenarios.
    if chosen.len() < all.len() {
        let dir = vm_dir.join("selected");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the selected-scenarios dir");
        for s in chosen {
            let name = format!("{s}.sh");
            std::fs::copy(repo.join(boot.dir).join(&name), dir.join(&name))
                .expect("copy a scenario");
        }
        cmd.arg("--scenarios").arg(&dir);
    } else {
        cmd.arg("--scenarios").arg(repo.join(boot.dir));
    }
    if boot.vm_subdir == "vm-apparmor" {
        // The last lsm= wins: AppArmor without BPF-LSM. The parser is the host's.
        cmd.args(["--append", "lsm=landlock,lockdown,yama,apparmor"]);
        match knoxctl::enforce::apparmor::parser() {
            Some(p) => {
                cmd.arg("--add").arg(p);
            }
            None => {
                for s in chosen {
                    outcome.results.push((
                        test_name(boot, s),
                        "FAIL".into(),
                        "apparmor_parser is not installed here (Debian package apparmor; scripts/test.sh installs it)".into(),
                        PathBuf::new(),
                    ));
                }
                return outcome;
            }
        }
    }
    // Both boots run KubeArmor's corpus and the bypass routes.
    match conformance_args(repo) {
        Ok(args) => {
            cmd.args(args);
        }
        Err(why) => println!("*** {why}: the kubearmor-* VM scenarios will SKIP ***"),
    }
    match execveat_helper_args(repo, &vm_dir.join("helpers")) {
        Ok(args) => {
            cmd.args(args);
        }
        Err(why) => println!("*** {why}: the execveat/fexecve VM routes will SKIP ***"),
    }
    let (ok, status) = match cmd.status() {
        Ok(s) => (s.success(), s.to_string()),
        Err(e) => (false, format!("cannot run scripts/vm/run.sh: {e}")),
    };

    let text = std::fs::read_to_string(&results_file).unwrap_or_default();
    for line in text.lines() {
        let mut f = line.splitn(3, '\t');
        let (Some(name), Some(st)) = (f.next(), f.next()) else {
            continue;
        };
        let log = vm_dir.join("out").join(format!("{name}.log"));
        if let Ok(l) = std::fs::read_to_string(&log) {
            // How much of KubeArmor's own corpus passed, whatever the scenarios'
            // verdicts, and the bypass routes (scripts/test.sh gathers them into one
            // table per backend).
            outcome
                .counts
                .extend(count_lines(&l).map(|c| format!("{}: {c}", test_name(boot, name))));
            outcome.counts.extend(bypass_lines(&l).map(str::to_string));
        }
        outcome.results.push((
            test_name(boot, name),
            st.to_string(),
            f.next().unwrap_or("").to_string(),
            log,
        ));
    }
    let failed = outcome
        .results
        .iter()
        .any(|r| r.1 != "PASS" && r.1 != "SKIP");
    if outcome.results.is_empty() {
        outcome.results.push((
            format!("{}_vm", boot.prefix),
            "FAIL".into(),
            format!("scripts/vm/run.sh ({status}) wrote no results: the VM did not run"),
            PathBuf::new(),
        ));
    } else if !ok && !failed {
        outcome.results.push((
            format!("{}_vm", boot.prefix),
            "FAIL".into(),
            format!("scripts/vm/run.sh exited with {status}"),
            PathBuf::new(),
        ));
    }
    outcome
}

fn main() -> ExitCode {
    let args = parse_args();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let knoxctl = PathBuf::from(env!("CARGO_BIN_EXE_knoxctl"));
    let mut total = 0;
    let mut batches: Vec<(&Boot, Vec<String>, Vec<String>)> = Vec::new();
    for boot in &BOOTS {
        let all = scenarios(repo, boot.dir);
        let chosen: Vec<String> = all
            .iter()
            .filter(|s| selected(&args, boot, s))
            .cloned()
            .collect();
        total += all.len();
        batches.push((boot, all, chosen));
    }
    let n_chosen: usize = batches.iter().map(|b| b.2.len()).sum();
    let filtered = total - n_chosen;

    if args.list {
        for (boot, _, chosen) in &batches {
            for s in chosen {
                println!("{}: test", test_name(boot, s));
            }
        }
        return ExitCode::SUCCESS;
    }
    if args.bench || n_chosen == 0 {
        println!("\nrunning 0 tests\n\n{}\n", summary(0, 0, 0, filtered));
        return ExitCode::SUCCESS;
    }
    if std::env::var("KNOXCTL_SKIP_VM").is_ok_and(|v| v == "1") {
        println!("\nrunning {n_chosen} tests");
        println!(
            "*** SKIPPED: KNOXCTL_SKIP_VM=1: the VM scenarios (BPF-LSM, AppArmor) did NOT run ***"
        );
        for (boot, _, chosen) in &batches {
            for s in chosen {
                println!("test {} ... ignored", test_name(boot, s));
            }
        }
        println!("\n{}\n", summary(0, 0, n_chosen, filtered));
        return ExitCode::SUCCESS;
    }
    if !on_path("qemu-system-x86_64") {
        eprintln!(
            "error: qemu-system-x86_64 is not installed, so the VM tests cannot run.\n\
             Install it (Debian, as root): apt-get install -y qemu-system-x86 busybox-static cpio\n\
             (scripts/test.sh does this), or set KNOXCTL_SKIP_VM=1 to skip these tests."
        );
        return ExitCode::FAILURE;
    }

    let boots = batches.iter().filter(|b| !b.2.is_empty()).count();
    println!("\nrunning {n_chosen} tests ({boots} VM boot(s))");
    let mut outcomes = Vec::new();
    for (boot, all, chosen) in &batches {
        if chosen.is_empty() {
            continue;
        }
        let chosen: Vec<&String> = chosen.iter().collect();
        outcomes.push(run_boot(repo, &knoxctl, boot, all, &chosen));
    }

    println!();
    let (mut passed, mut failed, mut ignored) = (0, 0, 0);
    let mut failures = Vec::new();
    for o in &outcomes {
        for (name, st, reason, log) in &o.results {
            match st.as_str() {
                "PASS" => {
                    passed += 1;
                    println!("test {name} ... ok");
                }
                "SKIP" => {
                    ignored += 1;
                    println!("test {name} ... ignored, {reason}");
                }
                _ => {
                    failed += 1;
                    println!("test {name} ... FAILED");
                    failures.push((name.clone(), reason.clone(), log.clone(), o.console.clone()));
                }
            }
        }
    }

    let counts: Vec<&String> = outcomes.iter().flat_map(|o| o.counts.iter()).collect();
    if !counts.is_empty() {
        println!();
        for l in &counts {
            println!("{l}");
        }
    }

    if !failures.is_empty() {
        println!("\nfailures:\n");
        for (name, reason, log, console) in &failures {
            println!("---- {name} ----");
            println!("{reason}");
            if let Ok(out) = std::fs::read_to_string(log) {
                print!("{out}");
            }
            println!("console: {}", console.display());
            println!();
        }
        println!("\nfailures:");
        for (name, ..) in &failures {
            println!("    {name}");
        }
    }
    println!("\n{}\n", summary(passed, failed, ignored, filtered));
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
