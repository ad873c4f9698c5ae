//! `capstan-testapi [--port N] [--kubeconfig PATH] [--no-simulator]`: serves the test API server
//! for manual runs (`kubectl --kubeconfig PATH get ns`), until interrupted.

use anyhow::{Context as _, bail};
use capstan_testapi::{Options, TestApiServer};
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut options = Options {
        kubeconfig: Some(PathBuf::from("capstan-testapi.kubeconfig")),
        ..Options::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => {
                options.port = args
                    .next()
                    .context("--port needs a value")?
                    .parse()
                    .context("--port")?
            }
            "--kubeconfig" => {
                options.kubeconfig = Some(args.next().context("--kubeconfig needs a value")?.into())
            }
            "--no-simulator" => options.simulate = false,
            other => bail!(
                "unknown argument {other:?}; usage: capstan-testapi [--port N] [--kubeconfig PATH] [--no-simulator]"
            ),
        }
    }
    let server = TestApiServer::start_with(options)?;
    eprintln!(
        "serving {} (kubeconfig {})",
        server.url(),
        server.kubeconfig().display()
    );
    server.wait();
    Ok(())
}
