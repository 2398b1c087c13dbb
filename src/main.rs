fn main() -> std::process::ExitCode {
    // Die quietly on a closed pipe (`knoxctl ... | head`), like other Unix tools, instead
    // of panicking inside println!.
    // SAFETY: called before any other thread exists; SIG_DFL is always a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(code) = knoxctl::cmd::pending::karmor_habit(&args) {
        return code;
    }
    knoxctl::cmd::run()
}
