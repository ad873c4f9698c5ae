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
    no_huge_pages();
    capstan::cli::main()
}

/// Transparent huge pages off for this process (issue #12). mimalloc asks for them
/// (`madvise(MADV_HUGEPAGE)`) on the memory it reserves unless built with `no_thp` (it is, for
/// what is allocated before `main`), and kernels in `always` mode give them unasked; either
/// way each 2 MiB region the process touches is faulted in whole and zeroed, however little
/// of it is used: `capstan template` of a chart with ~590 KB of CRDs peaked at 31 MiB instead
/// of 15 and spent a quarter of its CPU in the kernel's `clear_page`. Measured as whole
/// processes (`docs/benchmarks.md`, session 14): that render −31 % CPU, `capstan --version`
/// −0.6 ms, the platform render −3 %, `capstan transform` within ~2 % either way. The
/// controller keeps a heap of many small objects for hours; it gains nothing from 2 MiB pages
/// either, and its resident memory is what it uses. A refusal (old kernel, seccomp) changes
/// nothing else. Children inherit the flag: `capstan plugin build` clears it for cargo.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}
