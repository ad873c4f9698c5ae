//! `helm template` work-alike on top of `capstan-helm`, for comparing output and timing against
//! the real binary: `cargo run -p capstan-helm --example helm-template -- [NAME] CHART [flags]`.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match capstan_helm::parse_template_args(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match capstan_helm::template(&opts) {
        Ok(out) => {
            let _ = std::io::stdout().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprint!("{}", e.helm_output());
            ExitCode::FAILURE
        }
    }
}
