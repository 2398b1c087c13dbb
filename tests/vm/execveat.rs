//! A program run from a file descriptor, for the VM bypass scenarios (the VM has no perl
//! or python to make these calls): tests/vm.rs builds this file with plain `rustc` (no
//! crates) and copies the result into the VM (`run.sh --add`), whose path reaches the
//! scenarios as `$knox_execveat`.
//!
//! Usage: knox-execveat MODE PROGRAM [ARGS...]   (argv[0] is PROGRAM)
//!   empty-path  open PROGRAM with O_PATH, execveat(fd, "", argv, envp, AT_EMPTY_PATH)
//!   fexecve     open PROGRAM with O_RDONLY, fexecve(fd, argv, envp) (glibc: execveat too)
//!   dirfd       open PROGRAM's directory with O_PATH, execveat(dirfd, basename, ...)
//! Prints `knox-execveat: MODE: ERROR` and exits 126 when the exec fails.

use std::ffi::{CString, c_char, c_int};
use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::exit;

const O_PATH: c_int = 0o10000000;
const O_DIRECTORY: c_int = 0o200000;
const AT_EMPTY_PATH: c_int = 0x1000;

unsafe extern "C" {
    static environ: *const *const c_char;
    fn execveat(
        dirfd: c_int,
        pathname: *const c_char,
        argv: *const *const c_char,
        envp: *const *const c_char,
        flags: c_int,
    ) -> c_int;
    fn fexecve(fd: c_int, argv: *const *const c_char, envp: *const *const c_char) -> c_int;
}

fn die(what: &str, e: std::io::Error) -> ! {
    eprintln!("knox-execveat: {what}: {e}");
    exit(126)
}

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: knox-execveat empty-path|fexecve|dirfd PROGRAM [ARGS...]");
        exit(2);
    }
    let mode = args[0].to_string_lossy().into_owned();
    let prog = Path::new(&args[1]);
    let argv_c: Vec<CString> = args[1..]
        .iter()
        .map(|a| CString::new(a.as_bytes()).expect("no NUL in arguments"))
        .collect();
    let mut argv: Vec<*const c_char> = argv_c.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let open = |path: &Path, flags: c_int| {
        OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(path)
            .unwrap_or_else(|e| die(&format!("open {}", path.display()), e))
    };
    let empty = c"";
    // SAFETY: every pointer is a NUL-terminated string or a NULL-terminated array of them,
    // alive until the call (which only returns on failure); environ is libc's.
    unsafe {
        match mode.as_str() {
            "empty-path" => {
                let f = open(prog, O_PATH);
                execveat(f.as_raw_fd(), empty.as_ptr(), argv.as_ptr(), environ, AT_EMPTY_PATH);
            }
            "fexecve" => {
                let f = open(prog, 0);
                fexecve(f.as_raw_fd(), argv.as_ptr(), environ);
            }
            "dirfd" => {
                let dir = prog.parent().unwrap_or(Path::new("."));
                let name = CString::new(prog.file_name().unwrap_or_default().as_bytes())
                    .expect("no NUL in the name");
                let d = open(dir, O_PATH | O_DIRECTORY);
                execveat(d.as_raw_fd(), name.as_ptr(), argv.as_ptr(), environ, 0);
            }
            _ => {
                eprintln!("knox-execveat: unknown mode {mode}");
                exit(2);
            }
        }
    }
    die(&mode, std::io::Error::last_os_error())
}
