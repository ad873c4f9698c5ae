//! One integration test binary with a module per area (keeps link times down on 2 cores).

mod build;
mod cli;
mod contract;
mod controller;
mod crds;
mod fuzz;
mod golden;
mod hostile;
mod sandbox;
mod template;
mod throughput;
mod values_typing;
