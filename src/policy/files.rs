//! Turning user-given paths (files, directories, `-`) into validated file reports.

use super::validate::{self, Diagnostic, FileReport, Options, Severity};
use crate::yaml::{LoadError, MAX_FILE_BYTES};
use std::io::Read;
use std::path::{Path, PathBuf};

fn io_failure(label: &str, msg: String) -> FileReport {
    FileReport::failed(
        label,
        Diagnostic {
            severity: Severity::Error,
            line: 1,
            column: 1,
            field: String::new(),
            message: msg,
            hint: None,
        },
    )
}

fn too_large(label: &str, size: u64) -> FileReport {
    let e = LoadError::TooLarge {
        size,
        limit: MAX_FILE_BYTES,
    };
    FileReport::failed(label, validate::load_error_diagnostic(&e))
}

/// Reads at most the size limit, so a 50 MB (or endless) input costs nothing.
fn read_limited(mut r: impl Read, label: &str, opts: Options) -> FileReport {
    let mut buf = Vec::new();
    match r
        .by_ref()
        .take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut buf)
    {
        Ok(_) if buf.len() > MAX_FILE_BYTES => too_large(label, buf.len() as u64),
        Ok(_) => validate::validate_bytes(label, &buf, opts),
        Err(e) => io_failure(label, format!("cannot read: {e}")),
    }
}

fn validate_file(path: &Path, opts: Options) -> FileReport {
    let label = path.display().to_string();
    match std::fs::metadata(path) {
        Ok(m) if m.len() > MAX_FILE_BYTES as u64 => return too_large(&label, m.len()),
        Ok(_) => {}
        Err(e) => return io_failure(&label, format!("cannot read: {e}")),
    }
    match std::fs::File::open(path) {
        Ok(f) => read_limited(f, &label, opts),
        Err(e) => io_failure(&label, format!("cannot read: {e}")),
    }
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// `*.yaml`/`*.yml` below `dir`, sorted, without following symlinked directories (no loops).
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
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

/// Validates every input: a file, a directory (recursively), or `-` for standard input.
pub fn validate_paths(paths: &[PathBuf], opts: Options) -> Vec<FileReport> {
    let mut reports = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            reports.push(read_limited(std::io::stdin().lock(), "<stdin>", opts));
            continue;
        }
        if p.is_dir() {
            let mut files = Vec::new();
            match yaml_files(p, &mut files) {
                Err(e) => reports.push(io_failure(
                    &p.display().to_string(),
                    format!("cannot read directory: {e}"),
                )),
                Ok(()) if files.is_empty() => reports.push(io_failure(
                    &p.display().to_string(),
                    "no *.yaml or *.yml files in this directory".to_string(),
                )),
                Ok(()) => reports.extend(files.iter().map(|f| validate_file(f, opts))),
            }
        } else {
            reports.push(validate_file(p, opts));
        }
    }
    reports
}
