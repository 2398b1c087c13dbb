//! CLI tests: run the built `knoxctl` binary as users do and check what they see.

#[path = "../common/mod.rs"]
mod common;

// build.rs, for its date formatting; its `main` only runs as the build script.
#[path = "../../build.rs"]
#[allow(dead_code)]
mod build_script;

mod alerts;
mod assets;
mod commands;
mod examples;
mod explain;
mod harden;
mod hostile;
mod identity;
mod learn;
mod onboard;
mod validate;

pub use common::assert_output;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_knoxctl"));
    c.env_remove("KNOXCTL_SOCKET")
        .env_remove("KNOXCTL_STATE_DIR")
        .env("NO_COLOR", "1");
    c
}

pub fn run(args: &[&str]) -> Output {
    bin()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run knoxctl")
}

pub fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn knoxctl");
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    // Write from a thread: knoxctl may stop reading early (size limit) and close the pipe.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait knoxctl");
    let _ = writer.join();
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Whether a table row of `text` (columns separated by 3 or more spaces) has these cells,
/// in this order, side by side; `""` stands for an empty cell (`-`).
pub fn has_row(text: &str, cells: &[&str]) -> bool {
    let want: Vec<&str> = cells
        .iter()
        .map(|c| if c.is_empty() { "-" } else { *c })
        .collect();
    text.lines().any(|l| {
        let got = table_cells(l);
        got.windows(want.len()).any(|w| w == want.as_slice())
    })
}

/// The cells of one table line.
pub fn table_cells(line: &str) -> Vec<&str> {
    let mut cells = Vec::new();
    let mut rest = line.trim_end();
    while let Some(i) = rest.find("   ") {
        cells.push(rest[..i].trim());
        rest = rest[i..].trim_start();
    }
    if !rest.is_empty() {
        cells.push(rest);
    }
    cells
}

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn example(name: &str) -> PathBuf {
    repo().join("examples/policies").join(name)
}

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("knoxctl-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
