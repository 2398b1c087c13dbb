//! The committed eBPF objects are exactly what their C sources compile to: rebuilds them
//! with scripts/build-bpf.sh into a temporary directory and compares bytes, so a source
//! edit without a rebuild (or a hand-patched object) fails CI.

use std::path::{Path, PathBuf};
use std::process::Command;

const INSTALL: &str = "install clang llvm libbpf-dev (apt-get install -y clang llvm libbpf-dev; \
                       scripts/test.sh does it)";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn objects(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".bpf.o"))
        .collect();
    v.sort();
    v
}

#[test]
fn committed_objects_match_their_sources() {
    match Command::new("clang").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "clang --version failed ({}): {}; {INSTALL}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("clang not found ({e}); {INSTALL}"),
    }

    let out_dir =
        TempDir(std::env::temp_dir().join(format!("knoxctl-bpf-objects-{}", std::process::id())));
    std::fs::create_dir_all(&out_dir.0).unwrap();
    let build = Command::new("bash")
        .arg(repo().join("scripts/build-bpf.sh"))
        .arg(&out_dir.0)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "scripts/build-bpf.sh failed ({}):\n{}{}",
        build.status,
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );

    // Every object next to its source: the monitor's and the BPF-LSM enforcer's.
    let mut committed = Vec::new();
    for dir in ["src/monitor/bpf", "src/enforce/bpf_lsm"] {
        let found = objects(&repo().join(dir));
        assert!(!found.is_empty(), "no *.bpf.o in {dir}");
        committed.extend(found);
    }
    committed.sort_by_key(|p| p.file_name().unwrap().to_owned());
    let rebuilt = objects(&out_dir.0);
    let names = |v: &[PathBuf]| -> Vec<String> {
        v.iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(
        names(&committed),
        names(&rebuilt),
        "objects built vs committed"
    );
    for (old, new) in committed.iter().zip(&rebuilt) {
        let (a, b) = (std::fs::read(old).unwrap(), std::fs::read(new).unwrap());
        assert!(
            a == b,
            "{} differs from what its source compiles to ({} vs {} bytes): run \
             scripts/build-bpf.sh and commit the object (clang: {})",
            old.display(),
            a.len(),
            b.len(),
            String::from_utf8_lossy(
                &Command::new("clang")
                    .arg("--version")
                    .output()
                    .unwrap()
                    .stdout
            )
            .lines()
            .next()
            .unwrap_or("")
        );
    }
}
