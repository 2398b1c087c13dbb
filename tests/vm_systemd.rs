//! `knoxctl onboard vm` in systemd mode under a real systemd as PID 1, as a test target:
//! scripts/vm/systemd.sh boots a Debian 12 root filesystem (mmdebstrap, cached) with the
//! knoxctl cargo just built and runs tests/vm/systemd/scenario.sh in it; each of its checks
//! becomes a libtest-style result, `test vm_systemd::NAME ... ok|FAILED`. `harness =
//! false` for the reasons tests/vm.rs gives: one boot, one VM at a time on two cores.
//!
//! The checks of one enforcer build on each other (onboard, enforce, restart...), so a
//! libtest filter only chooses which results are reported: the VM always runs them all.
//! KNOXCTL_SKIP_VM=1 skips the VM, loudly. The restart gaps the scenario measured
//! (`TIMING` lines) are repeated after the results.

#[path = "vm/libtest.rs"]
mod libtest;

use libtest::{Args, on_path, parse_args, summary};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn test_name(check: &str) -> String {
    format!("vm_systemd::{check}")
}

fn selected(args: &Args, check: &str) -> bool {
    args.selects(&test_name(check), check)
}

/// The check names, from the scenario itself (`scenario.sh --list`), so that a check the
/// VM never reported is a failure rather than missing.
fn checks(repo: &Path) -> Result<Vec<String>, String> {
    let out = Command::new("sh")
        .arg(repo.join("tests/vm/systemd/scenario.sh"))
        .arg("--list")
        .output()
        .map_err(|e| format!("sh tests/vm/systemd/scenario.sh --list: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "tests/vm/systemd/scenario.sh --list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

fn main() -> ExitCode {
    let args = parse_args();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let knoxctl = PathBuf::from(env!("CARGO_BIN_EXE_knoxctl"));
    let all = match checks(repo) {
        Ok(all) => all,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let chosen: Vec<&String> = all.iter().filter(|c| selected(&args, c)).collect();
    let filtered = all.len() - chosen.len();

    if args.list {
        for c in &chosen {
            println!("{}: test", test_name(c));
        }
        return ExitCode::SUCCESS;
    }
    if args.bench || chosen.is_empty() {
        println!("\nrunning 0 tests\n\n{}\n", summary(0, 0, 0, filtered));
        return ExitCode::SUCCESS;
    }
    if std::env::var("KNOXCTL_SKIP_VM").is_ok_and(|v| v == "1") {
        println!("\nrunning {} tests", chosen.len());
        println!(
            "*** SKIPPED: KNOXCTL_SKIP_VM=1: systemd mode under a real systemd (onboard, restart, offboard) did NOT run ***"
        );
        for c in &chosen {
            println!("test {} ... ignored", test_name(c));
        }
        println!("\n{}\n", summary(0, 0, chosen.len(), filtered));
        return ExitCode::SUCCESS;
    }
    // systemd.sh installs what is missing when it runs as root; otherwise say what to do
    // rather than fail deep inside it.
    // SAFETY: geteuid has no failure mode.
    let root = unsafe { libc::geteuid() } == 0;
    let tools = on_path("qemu-system-x86_64") && on_path("mmdebstrap");
    if !(root || tools) {
        eprintln!(
            "error: qemu-system-x86_64 or mmdebstrap is not installed, so the systemd VM test cannot run.\n\
             Install them (Debian, as root): apt-get install -y qemu-system-x86 mmdebstrap cpio\n\
             or set KNOXCTL_SKIP_VM=1 to skip these tests."
        );
        return ExitCode::FAILURE;
    }

    // Next to the binary's target directory, so CARGO_TARGET_DIR is honoured.
    let vm_dir = knoxctl
        .parent()
        .and_then(Path::parent)
        .map(|t| t.join("vm"))
        .unwrap_or_else(|| repo.join("target/vm"));
    let dir = vm_dir.join("systemd");
    let results_file = dir.join("results.tsv");
    let _ = std::fs::remove_file(&results_file);

    println!(
        "\nrunning {} tests (one VM boot, systemd as PID 1)",
        chosen.len()
    );
    let status = match Command::new("bash")
        .arg(repo.join("scripts/vm/systemd.sh"))
        .arg("--knoxctl")
        .arg(&knoxctl)
        .arg("--brief")
        .env("KNOX_VM_DIR", &vm_dir)
        .status()
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot run scripts/vm/systemd.sh: {e}");
            return ExitCode::FAILURE;
        }
    };

    let text = std::fs::read_to_string(&results_file).unwrap_or_default();
    let mut results: BTreeMap<String, (String, String)> = BTreeMap::new();
    for line in text.lines() {
        let mut f = line.splitn(3, '\t');
        if let (Some(name), Some(st)) = (f.next(), f.next()) {
            results.insert(
                name.to_string(),
                (st.to_string(), f.next().unwrap_or("").to_string()),
            );
        }
    }

    println!();
    let (mut passed, mut failed) = (0, 0);
    let mut failures = Vec::new();
    for c in &chosen {
        match results.get(c.as_str()) {
            Some((st, _)) if st == "PASS" => {
                passed += 1;
                println!("test {} ... ok", test_name(c));
            }
            other => {
                failed += 1;
                println!("test {} ... FAILED", test_name(c));
                let reason = other.map_or_else(
                    || format!("no result: scripts/vm/systemd.sh exited with {status}"),
                    |(_, r)| r.clone(),
                );
                failures.push((c.to_string(), reason));
            }
        }
    }
    // The scenario's own verdict on the boot (no KNOX-DONE), whatever was chosen.
    if let Some((_, reason)) = results.get("_vm") {
        failed += 1;
        println!("test vm_systemd::_vm ... FAILED");
        failures.push(("_vm".to_string(), reason.clone()));
    } else if results.is_empty() {
        failed += 1;
        println!("test vm_systemd::_vm ... FAILED");
        failures.push((
            "_vm".to_string(),
            format!("scripts/vm/systemd.sh ({status}) wrote no results: the VM did not run"),
        ));
    }

    if let Ok(t) = std::fs::read_to_string(dir.join("timings.txt"))
        && !t.is_empty()
    {
        println!();
        for l in t.lines() {
            println!("vm_systemd: restart {l}");
        }
    }

    if !failures.is_empty() {
        println!("\nfailures:\n");
        for (name, reason) in &failures {
            println!("---- {} ----", test_name(name));
            println!("{reason}");
            if let Ok(out) = std::fs::read_to_string(dir.join("out").join(format!("{name}.log"))) {
                print!("{out}");
            }
            println!();
        }
        println!("console: {}", dir.join("console.log").display());
        println!("\nfailures:");
        for (name, _) in &failures {
            println!("    {}", test_name(name));
        }
    }
    println!("\n{}\n", summary(passed, failed, 0, filtered));
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
