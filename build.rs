//! Build information for `knoxctl version`: the git commit and whether the tree differed from
//! it, the build date, the target and the compiler. Everything degrades to "unknown": a
//! build needs only the Rust toolchain, not git, and not a git checkout (a source tarball).
//!
//! Cargo reruns this script only when something it reads changes: HEAD and the branch it
//! points to (a commit or checkout), the sources (an edit makes the tree dirty, and
//! rebuilds the crate anyway) and SOURCE_DATE_EPOCH. So a `cargo build` with nothing changed
//! does not rebuild, and the date is that of the last build that compiled knoxctl.
//!
//! It also compiles KubeArmor's gRPC interface (`proto/*.proto`) to Rust with protox, a
//! protobuf compiler written in Rust, and tonic's code generator fed protox's file
//! descriptors: no `protoc` on the build machine, and generated code that cannot go stale
//! (see Cargo.toml's build-dependencies).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    #[cfg(not(test))]
    compile_protos();
    for path in ["build.rs", "Cargo.toml", "Cargo.lock", "src", "proto"] {
        println!("cargo:rerun-if-changed={path}");
    }
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");

    let (commit, dirty) = match git_info(&manifest_dir) {
        Some((commit, dirty)) => (commit, dirty.to_string()),
        None => ("unknown".to_string(), "unknown".to_string()),
    };
    println!("cargo:rustc-env=KNOXCTL_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=KNOXCTL_GIT_DIRTY={dirty}");
    println!("cargo:rustc-env=KNOXCTL_BUILD_DATE={}", build_date());
    println!(
        "cargo:rustc-env=KNOXCTL_TARGET={}",
        std::env::var("TARGET").unwrap_or_else(|_| "unknown".into())
    );
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    println!(
        "cargo:rustc-env=KNOXCTL_RUSTC={}",
        output(Command::new(rustc).arg("--version")).unwrap_or_else(|| "unknown".into())
    );
}

/// `proto/kubearmor.proto` and `proto/policy.proto` to `$OUT_DIR/{feeder,policy}.rs` (server
/// side only: knoxctl serves KubeArmor's API and calls none). A proto error fails the
/// build with protox's message. Not in tests: tests/cli compiles this file as a module
/// (to test `format_utc`), without the build dependencies.
#[cfg(not(test))]
fn compile_protos() {
    let files = ["proto/kubearmor.proto", "proto/policy.proto"];
    let fds = match protox::compile(files, ["proto"]) {
        Ok(fds) => fds,
        Err(e) => panic!("compiling {files:?}: {e:?}"),
    };
    if let Err(e) = tonic_prost_build::configure()
        .build_client(false)
        .build_transport(false)
        .compile_fds(fds)
    {
        panic!("generating Rust for {files:?}: {e}");
    }
}

/// stdout of a command that succeeded, trimmed; None when it could not run or failed.
fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    // No optional locks: `git status` must not rewrite the index of a tree someone works in.
    output(
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_OPTIONAL_LOCKS", "0"),
    )
}

/// The short commit and whether tracked files differ from it, when this source tree is the
/// top of a git checkout (not merely inside some other repository) and git runs.
fn git_info(dir: &Path) -> Option<(String, bool)> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same(Path::new(&top), dir) {
        return None;
    }
    // HEAD, and the branch file it names; in a worktree both live outside `dir`/.git, so git
    // says where. A packed branch has no file of its own: packed-refs changes instead.
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watch.push(branch);
    }
    for name in watch {
        // A missing file would make Cargo rerun this script on every build.
        if let Some(path) = git(
            dir,
            &["rev-parse", "--path-format=absolute", "--git-path", &name],
        ) && Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let commit = git(dir, &["rev-parse", "--short", "HEAD"])?;
    // Empty output means clean, so this cannot go through `git()`, which treats it as None.
    let dirty = match Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["status", "--porcelain", "--untracked-files=no"])
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
    {
        Ok(o) if o.status.success() => !o.stdout.is_empty(),
        _ => return None,
    };
    Some((commit, dirty))
}

/// SOURCE_DATE_EPOCH when set (reproducible builds), else now.
fn build_date() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        });
    format_utc(secs)
}

/// `2026-12-06T13:04:05Z` for seconds since the epoch (tests/cli includes this file to
/// test it).
pub fn format_utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
