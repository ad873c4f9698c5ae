//! What a guest sees of the world: nothing. The per-call store state holds a WASI context with no
//! preopened directories, no environment, no arguments, no network, stdin closed, stdout
//! discarded, stderr captured (bounded) for panic messages, a wall clock fixed at the Unix epoch, a
//! monotonic clock that never moves and a fixed byte cycle for "randomness". The memory limiter
//! records when a guest hit its cap, so the resulting trap is reported as a memory-limit error.
//!
//! Time never passes for a guest, so sleeping must not take time either: the clock subscriptions
//! (`subscribe-duration`, `subscribe-instant`, which `std::thread::sleep` and `poll_oneoff` use)
//! are replaced by pollables that are ready at once. The epoch deadline only interrupts running
//! Wasm code, not a guest blocked inside a host call, so the only blocking host calls left
//! (`poll`, `pollable.block`) run under a wall-clock watchdog: at the call's deadline they trap,
//! and the trap is reported as a timeout.

use std::time::{Duration, Instant};

use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime::{ResourceLimiter, StoreContextMut};
use wasmtime_wasi::p2::bindings::io::poll::{Host as _, HostPollable as _};
use wasmtime_wasi::p2::pipe::{ClosedInputStream, MemoryOutputPipe, SinkOutputStream};
use wasmtime_wasi::p2::{DynPollable, Pollable};
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
    /// When the call must be over, by the wall clock (the watchdog's deadline).
    deadline: Instant,
    /// Set when the watchdog ended a blocking host call at the deadline.
    pub(crate) watchdog_fired: bool,
}

impl StoreState {
    pub(crate) fn new(memory_limit: u64, timeout: Duration) -> Self {
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
                peak: 0,
            },
            stderr,
            deadline: Instant::now()
                .checked_add(timeout)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365)),
            watchdog_fired: false,
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

/// The WASI version whose interfaces are shadowed below (the one wasmtime-wasi implements;
/// guests importing any older 0.2.x version are linked to it).
const WASI_VERSION: &str = "0.2.12";

/// Adds WASI to the linker, then replaces the clock subscriptions and the blocking poll calls
/// (see the module docs).
pub(crate) fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    linker.allow_shadowing(true);
    let mut clock = linker.instance(&format!("wasi:clocks/monotonic-clock@{WASI_VERSION}"))?;
    clock.func_wrap(
        "subscribe-duration",
        |mut store: StoreContextMut<'_, StoreState>, (_,): (u64,)| Ok((ready_now(&mut store)?,)),
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut store: StoreContextMut<'_, StoreState>, (_,): (u64,)| Ok((ready_now(&mut store)?,)),
    )?;
    let mut poll = linker.instance(&format!("wasi:io/poll@{WASI_VERSION}"))?;
    poll.func_wrap(
        "poll",
        |mut store: StoreContextMut<'_, StoreState>,
         (pollables,): (Vec<Resource<DynPollable>>,)| {
            let state = store.data_mut();
            let ready = watchdog(state.deadline, state.table.poll(pollables));
            Ok((state.fired(ready)?,))
        },
    )?;
    poll.func_wrap(
        "[method]pollable.block",
        |mut store: StoreContextMut<'_, StoreState>, (pollable,): (Resource<DynPollable>,)| {
            let state = store.data_mut();
            let ready = watchdog(state.deadline, state.table.block(pollable));
            state.fired(ready)
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

impl StoreState {
    /// Unwraps a watchdog result, remembering when it fired.
    fn fired<T>(&mut self, result: Option<wasmtime::Result<T>>) -> wasmtime::Result<T> {
        match result {
            Some(r) => r,
            None => {
                self.watchdog_fired = true;
                Err(wasmtime::Error::msg(
                    "the call's deadline passed while the guest was blocked in a host call",
                ))
            }
        }
    }
}

/// Runs a host future to completion, or gives up at `deadline` (`None`).
fn watchdog<F: Future>(deadline: Instant, fut: F) -> Option<F::Output> {
    wasmtime_wasi::runtime::in_tokio(async move {
        tokio::time::timeout_at(deadline.into(), fut).await.ok()
    })
}

/// A pollable that is ready at once: what a clock subscription becomes when time is frozen.
fn ready_now(
    store: &mut StoreContextMut<'_, StoreState>,
) -> wasmtime::Result<Resource<DynPollable>> {
    let table = &mut store.data_mut().table;
    let ready = table.push(Ready)?;
    wasmtime_wasi::p2::subscribe(table, ready)
}

/// See [`ready_now`].
struct Ready;

#[wasmtime_wasi::async_trait]
impl Pollable for Ready {
    async fn ready(&mut self) {}
}

/// Caps linear memory, remembers whether the cap was hit and the largest size granted.
pub(crate) struct MemoryLimiter {
    limit: usize,
    /// The last growth asked for was refused (a later one granted clears it).
    pub(crate) hit: bool,
    /// The largest linear memory granted in this store, in bytes.
    pub(crate) peak: usize,
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
        // A guest may ask for more than it needs and, refused, ask again for less (the SDK's
        // allocator grows in steps); only a refusal it did not get past is the limit's doing.
        self.hit = false;
        self.peak = self.peak.max(desired);
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::watchdog;

    #[test]
    fn watchdog_ends_a_host_call_that_never_returns() {
        let started = Instant::now();
        let deadline = started + Duration::from_millis(100);
        assert_eq!(watchdog(deadline, std::future::pending::<()>()), None);
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert_eq!(watchdog(deadline, async { 7 }), Some(7));
    }
}
