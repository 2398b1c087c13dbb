fn main() -> std::process::ExitCode {
    knoxctl::cmd::run()
}
