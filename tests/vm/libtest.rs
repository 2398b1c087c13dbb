//! What the VM test targets (tests/vm.rs, tests/vm_systemd.rs; `harness = false`) share to
//! behave like libtest for cargo: the arguments it passes, filtering, and the summary line
//! that CI and people read.

/// The libtest arguments cargo may pass; those that change nothing here are accepted and
/// ignored, so that `cargo test -- --nocapture` and friends work.
pub struct Args {
    pub filters: Vec<String>,
    pub skips: Vec<String>,
    pub exact: bool,
    pub list: bool,
    pub bench: bool,
}

pub fn parse_args() -> Args {
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

impl Args {
    /// Whether the test `name` (`vm::10-lsm-accuknox`), also known by its `short` name,
    /// passes the filters and skips, as libtest decides.
    pub fn selects(&self, name: &str, short: &str) -> bool {
        let hit = |f: &String| {
            if self.exact {
                name == f || short == f
            } else {
                name.contains(f.as_str())
            }
        };
        (self.filters.is_empty() || self.filters.iter().any(hit)) && !self.skips.iter().any(hit)
    }
}

pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

pub fn summary(passed: usize, failed: usize, ignored: usize, filtered: usize) -> String {
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    format!(
        "test result: {verdict}. {passed} passed; {failed} failed; {ignored} ignored; 0 measured; {filtered} filtered out"
    )
}
