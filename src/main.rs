fn main() -> std::process::ExitCode {
    // Die quietly on a closed pipe (`knoxctl ... | head`), like other Unix tools, instead
    // of panicking inside println!.
    // SAFETY: called before any other thread exists; SIG_DFL is always a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    knoxctl::cmd::run()
}
