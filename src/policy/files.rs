//! Turning user-given paths (files, directories, `-`) into validated file reports.

use super::validate::{self, Diagnostic, FileReport, Options, Severity};
use crate::yaml::{LoadError, MAX_FILE_BYTES};
use std::io::Read;
use std::path::{Path, PathBuf};

fn io_failure(label: &str, msg: String) -> Box<FileReport> {
    Box::new(FileReport::failed(
        label,
        Diagnostic {
            severity: Severity::Error,
            line: 1,
            column: 1,
            field: String::new(),
            message: msg,
            hint: None,
        },
    ))
}

fn too_large(label: &str, size: u64) -> Box<FileReport> {
    let e = LoadError::TooLarge {
        size,
        limit: MAX_FILE_BYTES,
    };
    Box::new(FileReport::failed(
        label,
        validate::load_error_diagnostic(&e),
    ))
}

/// Reads at most the size limit, so a 50 MB (or endless) input costs nothing.
fn read_limited(mut r: impl Read, label: &str) -> Result<Vec<u8>, Box<FileReport>> {
    let mut buf = Vec::new();
    match r
        .by_ref()
        .take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut buf)
    {
        Ok(_) if buf.len() > MAX_FILE_BYTES => Err(too_large(label, buf.len() as u64)),
        Ok(_) => Ok(buf),
        Err(e) => Err(io_failure(label, format!("cannot read: {e}"))),
    }
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// `*.yaml`/`*.yml` below `dir`, sorted, without following symlinked directories (no loops)
/// and without hidden entries (`.git/`, editor backups), as ripgrep walks a tree; a hidden
/// file named on the command line is still read.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.retain(|e| !e.file_name().as_encoded_bytes().starts_with(b"."));
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let ty = e.file_type()?;
        let path = e.path();
        if ty.is_dir() {
            yaml_files(&path, out)?;
        } else if is_yaml(&path) && (ty.is_file() || path.is_file()) {
            out.push(path);
        }
    }
    Ok(())
}

/// One input as read: its label (path or `<stdin>`) and its bytes, or the report saying
/// why it could not be read.
pub struct Input {
    pub label: String,
    pub bytes: Result<Vec<u8>, Box<FileReport>>,
}

fn read_file(path: &Path) -> Input {
    let label = path.display().to_string();
    let bytes = match std::fs::metadata(path) {
        Ok(m) if m.len() > MAX_FILE_BYTES as u64 => Err(too_large(&label, m.len())),
        Ok(_) => std::fs::File::open(path)
            .map_err(|e| io_failure(&label, format!("cannot read: {e}")))
            .and_then(|f| read_limited(f, &label)),
        Err(e) => Err(io_failure(&label, format!("cannot read: {e}"))),
    };
    Input { label, bytes }
}

/// Reads every input: a file, a directory (its *.yaml/*.yml, recursively), or `-` for
/// standard input.
pub fn read_inputs(paths: &[PathBuf]) -> Vec<Input> {
    let mut inputs = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            let bytes = read_limited(std::io::stdin().lock(), "<stdin>");
            inputs.push(Input {
                label: "<stdin>".to_string(),
                bytes,
            });
            continue;
        }
        let label = p.display().to_string();
        if p.is_dir() {
            let mut files = Vec::new();
            match yaml_files(p, &mut files) {
                Err(e) => inputs.push(Input {
                    label: label.clone(),
                    bytes: Err(io_failure(&label, format!("cannot read directory: {e}"))),
                }),
                Ok(()) if files.is_empty() => inputs.push(Input {
                    label: label.clone(),
                    bytes: Err(io_failure(
                        &label,
                        "no *.yaml or *.yml files in this directory".to_string(),
                    )),
                }),
                Ok(()) => inputs.extend(files.iter().map(|f| read_file(f))),
            }
        } else {
            inputs.push(read_file(p));
        }
    }
    inputs
}

pub fn validate_input(input: &Input, opts: Options) -> FileReport {
    match &input.bytes {
        Ok(b) => validate::validate_bytes(&input.label, b, opts),
        Err(report) => (**report).clone(),
    }
}

/// Validates every input (see [`read_inputs`]), together: a policy defined twice across
/// them is an error.
pub fn validate_paths(paths: &[PathBuf], opts: Options) -> Vec<FileReport> {
    validate_inputs(&read_inputs(paths), opts)
}

/// Validates inputs already read, together (see [`validate_paths`]).
pub fn validate_inputs(inputs: &[Input], opts: Options) -> Vec<FileReport> {
    let mut reports: Vec<FileReport> = inputs.iter().map(|i| validate_input(i, opts)).collect();
    validate::check_duplicates(&mut reports);
    reports
}
