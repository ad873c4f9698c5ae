//! What a guest sees of the world: nothing. The per-call store state holds a WASI context with no
//! preopened directories, no environment, no arguments, no network, stdin closed, stdout
//! discarded, stderr captured (bounded) for panic messages, a wall clock fixed at the Unix epoch, a
//! monotonic clock that never moves and a fixed byte cycle for "randomness". The memory limiter
//! records when a guest hit its cap, so the resulting trap is reported as a memory-limit error.

use std::time::Duration;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::{ClosedInputStream, MemoryOutputPipe, SinkOutputStream};
use wasmtime_wasi::{
    Deterministic, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView,
    WasiView,
};

/// Most bytes of guest stderr kept (panic messages are short).
const STDERR_CAPACITY: usize = 16 << 10;

/// The bytes every guest gets from `wasi:random` (secure and insecure alike), cycled.
const FIXED_RANDOM: &[u8] = b"capstan: deterministic by design";

/// Per-call store data.
pub(crate) struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) stderr: MemoryOutputPipe,
}

impl StoreState {
    pub(crate) fn new(memory_limit: u64) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtxBuilder::new()
            .stdin(ClosedInputStream)
            .stdout(SinkOutputStream)
            .stderr(stderr.clone())
            .wall_clock(FixedWallClock)
            .monotonic_clock(FrozenMonotonicClock)
            .secure_random(Deterministic::new(FIXED_RANDOM.to_vec()))
            .insecure_random(Deterministic::new(FIXED_RANDOM.to_vec()))
            .insecure_random_seed(0)
            .allow_ip_name_lookup(false)
            .build();
        StoreState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                limit: usize::try_from(memory_limit).unwrap_or(usize::MAX),
                hit: false,
            },
            stderr,
        }
    }

    /// The guest's stderr, as text.
    pub(crate) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_owned()
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps linear memory and remembers whether the cap was hit.
pub(crate) struct MemoryLimiter {
    limit: usize,
    pub(crate) hit: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }

    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        16
    }
}

/// Always 1970-01-01T00:00:00Z.
struct FixedWallClock;

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

/// Never advances.
struct FrozenMonotonicClock;

impl HostMonotonicClock for FrozenMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}
