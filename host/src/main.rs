//! The `capstan` command: parse arguments, run, map errors to exit codes.

fn main() -> std::process::ExitCode {
    capstan::cli::main()
}
