//! The `capstan` command: parse arguments, run, map errors to exit codes.

/// mimalloc rather than glibc's malloc (issue #12). Rendering, reading and writing streams and
/// the chain's host side allocate many small blocks on several threads at once; glibc grows
/// each thread's arena a page at a time (an `mprotect` per growth, ~1,500 in one 10,000-object
/// `capstan transform`) and frees across arenas under their locks. Measured as whole
/// processes (`docs/benchmarks.md`, session 13): `capstan template` of the platform chart
/// −21 % CPU, `capstan transform` of 10,000 objects −13 % with no plugins and −10 % with the
/// 3-plugin chain, page faults of the latter 10,600 → 3,300.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    capstan::cli::main()
}
