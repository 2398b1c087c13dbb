//! The VM scenarios (tests/vm/scenarios/*.sh) as a test target: boots Debian's stock kernel
//! under qemu once (scripts/vm/run.sh, with the knoxctl cargo just built) and reports each
//! scenario as a libtest-style result. `harness = false`: one boot runs the whole batch, so
//! there is nothing for libtest to parallelize, and a VM must not share the two cores with
//! another one.
//!
//! `cargo test --release --test vm [SUBSTRING]` runs the scenarios whose name contains
//! SUBSTRING. KNOXCTL_SKIP_VM=1 skips the VM (loudly) where qemu cannot run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

struct Args {
    filters: Vec<String>,
    skips: Vec<String>,
    exact: bool,
    list: bool,
    bench: bool,
}

/// The libtest arguments cargo may pass; the ones that change nothing here are accepted and
/// ignored so that `cargo test -- --nocapture` and friends work.
fn parse_args() -> Args {
    let mut a = Args {
        filters: Vec::new(),
        skips: Vec::new(),
        exact: false,
        list: false,
        bench: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--list" => a.list = true,
            "--exact" => a.exact = true,
            "--bench" => a.bench = true,
            "--skip" => a.skips.extend(it.next()),
            "--test-threads" | "--color" | "--format" | "--logfile" | "--shuffle-seed" | "-Z" => {
                it.next();
            }
            s if s.starts_with("--skip=") => a.skips.push(s["--skip=".len()..].to_string()),
            s if s.starts_with('-') => {}
            s => a.filters.push(s.to_string()),
        }
    }
    a
}

fn test_name(scenario: &str) -> String {
    format!("vm::{scenario}")
}

fn selected(args: &Args, scenario: &str) -> bool {
    let name = test_name(scenario);
    let hit = |f: &String| {
        if args.exact {
            name == *f || scenario == f
        } else {
            name.contains(f.as_str())
        }
    };
    (args.filters.is_empty() || args.filters.iter().any(hit)) && !args.skips.iter().any(hit)
}

fn scenarios(repo: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo.join("tests/vm/scenarios"))
        .expect("tests/vm/scenarios")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".sh").map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

fn summary(passed: usize, failed: usize, ignored: usize, filtered: usize) -> String {
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    format!(
        "test result: {verdict}. {passed} passed; {failed} failed; {ignored} ignored; 0 measured; {filtered} filtered out"
    )
}

fn main() -> ExitCode {
    let args = parse_args();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let knoxctl = PathBuf::from(env!("CARGO_BIN_EXE_knoxctl"));
    let all = scenarios(repo);
    let chosen: Vec<&String> = all.iter().filter(|s| selected(&args, s)).collect();
    let filtered = all.len() - chosen.len();

    if args.list {
        for s in &chosen {
            println!("{}: test", test_name(s));
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
            "*** SKIPPED: KNOXCTL_SKIP_VM=1: the VM scenarios (BPF-LSM, AppArmor) did NOT run ***"
        );
        for s in &chosen {
            println!("test {} ... ignored", test_name(s));
        }
        println!("\n{}\n", summary(0, 0, chosen.len(), filtered));
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

    // Next to the binary's target directory, so CARGO_TARGET_DIR is honoured.
    let vm_dir = knoxctl
        .parent()
        .and_then(Path::parent)
        .map(|t| t.join("vm"))
        .unwrap_or_else(|| repo.join("target/vm"));
    let results_file = vm_dir.join("results.tsv");
    let _ = std::fs::remove_file(&results_file);

    println!("\nrunning {} tests (one VM boot)", chosen.len());
    let mut cmd = Command::new("bash");
    cmd.arg(repo.join("scripts/vm/run.sh"))
        .arg("--knoxctl")
        .arg(&knoxctl)
        .arg("--brief")
        .env("KNOX_VM_DIR", &vm_dir);
    // A libtest filter becomes a batch of exactly the chosen scenarios.
    if chosen.len() < all.len() {
        let dir = vm_dir.join("selected");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the selected-scenarios dir");
        for s in &chosen {
            let name = format!("{s}.sh");
            std::fs::copy(repo.join("tests/vm/scenarios").join(&name), dir.join(&name))
                .expect("copy a scenario");
        }
        cmd.arg("--scenarios").arg(&dir);
    }
    let status = match cmd.status() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot run scripts/vm/run.sh: {e}");
            return ExitCode::FAILURE;
        }
    };

    let text = std::fs::read_to_string(&results_file).unwrap_or_default();
    let mut results: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut order = Vec::new();
    for line in text.lines() {
        let mut f = line.splitn(3, '\t');
        let (Some(name), Some(st)) = (f.next(), f.next()) else {
            continue;
        };
        order.push(name.to_string());
        results.insert(
            name.to_string(),
            (st.to_string(), f.next().unwrap_or("").to_string()),
        );
    }

    println!();
    let (mut passed, mut failed, mut ignored) = (0, 0, 0);
    let mut failures = Vec::new();
    for name in &order {
        let (st, reason) = &results[name];
        match st.as_str() {
            "PASS" => {
                passed += 1;
                println!("test {} ... ok", test_name(name));
            }
            "SKIP" => {
                ignored += 1;
                println!("test {} ... ignored, {reason}", test_name(name));
            }
            _ => {
                failed += 1;
                println!("test {} ... FAILED", test_name(name));
                failures.push((name.clone(), reason.clone()));
            }
        }
    }
    if results.is_empty() {
        failed += 1;
        failures.push((
            "_vm".to_string(),
            format!("scripts/vm/run.sh ({status}) wrote no results: the VM did not run"),
        ));
        println!("test vm::_vm ... FAILED");
    } else if !status.success() && failures.is_empty() {
        failed += 1;
        failures.push((
            "_vm".to_string(),
            format!("scripts/vm/run.sh exited with {status}"),
        ));
        println!("test vm::_vm ... FAILED");
    }

    if !failures.is_empty() {
        println!("\nfailures:\n");
        for (name, reason) in &failures {
            println!("---- {} ----", test_name(name));
            println!("{reason}");
            let log = vm_dir.join("out").join(format!("{name}.log"));
            if let Ok(out) = std::fs::read_to_string(&log) {
                print!("{out}");
            }
            println!();
        }
        println!("console: {}", vm_dir.join("console.log").display());
        println!("\nfailures:");
        for (name, _) in &failures {
            println!("    {}", test_name(name));
        }
    }
    println!("\n{}\n", summary(passed, failed, ignored, filtered));
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
