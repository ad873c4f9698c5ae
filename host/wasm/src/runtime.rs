//! The process-wide engine: configuration, the epoch ticker that enforces timeouts, the WASI-less
//! linker, and the compile-once module table keyed by sha256.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::cache::DiskCache;
use crate::plugin::{PluginId, Pre, Prepared, WasmPlugin};
use crate::sandbox::StoreState;
use crate::{Error, Limits, Result};

/// How often the epoch advances; timeouts are accurate to about this.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Configures a [`Runtime`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeBuilder {
    cache_dir: Option<PathBuf>,
    max_concurrent_calls: Option<u32>,
    perf_map: bool,
}

impl RuntimeBuilder {
    /// Keep precompiled modules in `dir` (created if missing, mode 0700).
    #[must_use]
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// How many plugin calls may run at once (pool slots); default 32. Half as many again are
    /// kept for the parts of per-object transforms that run on extra cores (see
    /// [`WasmPlugin::transform_text`]), so parts never take a slot a call needs.
    #[must_use]
    pub fn max_concurrent_calls(mut self, n: u32) -> Self {
        self.max_concurrent_calls = Some(n);
        self
    }

    /// Write `/tmp/perf-<pid>.map` so that `perf report` names the guests' compiled functions
    /// (for profiling; off by default).
    #[must_use]
    pub fn perf_map(mut self, on: bool) -> Self {
        self.perf_map = on;
        self
    }

    /// Creates the engine and starts its epoch ticker.
    pub fn build(self) -> Result<Runtime> {
        let calls = self.max_concurrent_calls.unwrap_or(32).max(1);
        let part_slots = calls.div_ceil(2);
        let slots = calls + part_slots;
        let pagemap_scan = kernel_has_pagemap_scan();
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(slots)
            .total_core_instances(slots * 8)
            .total_memories(slots * 2)
            .total_tables(slots * 8)
            .total_stacks(slots)
            .max_memory_size(usize::try_from(Limits::MAX_MEMORY).unwrap_or(usize::MAX))
            .max_memories_per_component(4)
            .max_tables_per_component(16)
            // A fresh instance's memory is reset when its call ends. With the kernel's
            // PAGEMAP_SCAN (Linux 6.7+) only the pages the call wrote are reset, by memset, up
            // to `KEEP_RESIDENT` bytes, and they stay mapped: the next call in that slot takes
            // no page faults for them. Without it (older kernels, other systems) wasmtime would
            // memset the lowest `KEEP_RESIDENT` bytes whether a call used them or not, so there
            // only 256 KiB are kept.
            .pagemap_scan(if pagemap_scan {
                wasmtime::Enabled::Auto
            } else {
                wasmtime::Enabled::No
            })
            .linear_memory_keep_resident(if pagemap_scan {
                KEEP_RESIDENT
            } else {
                256 << 10
            })
            .table_keep_resident(64 << 10)
            // A new instance with no idle slot of its own module takes an idle slot another
            // module used (its written pages still mapped) before a never-used one.
            .max_unused_warm_slots(MAX_IDLE_WARM_SLOTS);
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .cranelift_opt_level(wasmtime::OptLevel::Speed)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .wasm_component_model(true);
        if self.perf_map {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(Error::CreateEngine)?;
        let mut linker = Linker::<StoreState>::new(&engine);
        crate::sandbox::add_to_linker(&mut linker).map_err(Error::CreateEngine)?;
        let cache = self
            .cache_dir
            .map(|dir| DiskCache::open(&dir, &engine))
            .transpose()?;
        let stop = Arc::new(AtomicBool::new(false));
        spawn_ticker(engine.clone(), stop.clone());
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                modules: Mutex::new(HashMap::new()),
                stop,
                stats: CacheCounters::default(),
                cores: std::thread::available_parallelism().map_or(1, usize::from),
                part_slots,
                parts_running: AtomicU32::new(0),
            }),
        })
    }
}

/// Most bytes of a linear memory kept mapped (and reset by memset) after a call, where the
/// kernel can tell which pages a call wrote: the default memory limit, so the next call of the
/// same plugin takes no page faults for memory an earlier call already used. Measured (issue #12,
/// `docs/benchmarks.md`): keeping any written pages cut the fixed cost per call ~3x; on the
/// 10,000-object stream, where each step's guest grows to ~50 MiB, 64 MiB instead of 8 MiB cut
/// an 8-second run of the 3-plugin chain from 442,000 to 187,000 page faults and its system time
/// from 1.13 s to 0.61 s (a fresh page costs a fault, a zeroing and, in a VM, the hypervisor's
/// own fault; a kept page costs a memset).
const KEEP_RESIDENT: usize = 64 << 20;

/// Idle slots kept for their own module before another module's instance may take them: none.
/// A slot's written memory stays mapped (see [`KEEP_RESIDENT`]) whichever module used it, and
/// taking such a slot costs a remap of the new module's data image (tens of KiB), while a
/// never-used slot costs a page fault for every page the call touches. In a one-shot
/// `capstan transform` with three plugins, steps two and three then run in the memory step one
/// already faulted in: 188 → 171 ms for the process on 1,000 objects (`docs/benchmarks.md`).
/// Idle guest memory is bounded by the slots calls used at once, up to `KEEP_RESIDENT` each.
const MAX_IDLE_WARM_SLOTS: u32 = 0;

/// True on Linux 6.7 and later, where `PAGEMAP_SCAN` exists (wasmtime still probes for it and
/// goes without if the probe fails).
fn kernel_has_pagemap_scan() -> bool {
    let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return false;
    };
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= (6, 7)
}

fn spawn_ticker(engine: Engine, stop: Arc<AtomicBool>) {
    let spawned = thread::Builder::new()
        .name("capstan-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        });
    // Without a ticker timeouts would never fire; a thread that cannot be spawned means the
    // process is out of resources anyway.
    if let Err(err) = spawned {
        panic!("cannot start the epoch ticker thread: {err}");
    }
}

/// The Wasm runtime: one per process. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<StoreState>,
    cache: Option<DiskCache>,
    modules: Mutex<HashMap<[u8; 32], Arc<Prepared>>>,
    stop: Arc<AtomicBool>,
    stats: CacheCounters,
    /// Cores this process may use.
    cores: usize,
    /// Pool slots kept for parts run on extra threads.
    part_slots: u32,
    /// Of those, how many are running now.
    parts_running: AtomicU32,
}

/// Extra threads a call may run parts on, held until dropped.
pub(crate) struct PartThreads<'a> {
    runtime: &'a Runtime,
    count: u32,
}

impl PartThreads<'_> {
    /// How many extra threads (besides the caller's) may run parts.
    pub(crate) fn count(&self) -> usize {
        self.count as usize
    }
}

impl Drop for PartThreads<'_> {
    fn drop(&mut self) {
        self.runtime
            .inner
            .parts_running
            .fetch_sub(self.count, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct CacheCounters {
    memory: std::sync::atomic::AtomicU64,
    disk: std::sync::atomic::AtomicU64,
    compiled: std::sync::atomic::AtomicU64,
}

/// Where [`Runtime::load`] found its modules since the runtime was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Already compiled and linked in this process.
    pub memory_hits: u64,
    /// Loaded from the signed on-disk cache of compiled modules.
    pub disk_hits: u64,
    /// Compiled from the module's bytes.
    pub compiled: u64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache", &self.inner.cache.as_ref().map(DiskCache::dir))
            .finish()
    }
}

impl Runtime {
    /// A runtime with default settings and no disk cache.
    pub fn new() -> Result<Self> {
        RuntimeBuilder::default().build()
    }

    /// Configure a runtime.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Up to `want` extra threads for a call's parts: no more than the cores besides the
    /// caller's, and no more than the part slots left free by other calls (possibly none).
    pub(crate) fn part_threads(&self, want: usize) -> PartThreads<'_> {
        let want = u32::try_from(want.min(self.inner.cores.saturating_sub(1))).unwrap_or(0);
        let running = &self.inner.parts_running;
        let mut now = running.load(Ordering::Relaxed);
        loop {
            let count = want.min(self.inner.part_slots.saturating_sub(now));
            match running.compare_exchange_weak(
                now,
                now + count,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return PartThreads {
                        runtime: self,
                        count,
                    };
                }
                Err(actual) => now = actual,
            }
        }
    }

    /// Loads a plugin from a `.wasm` (or `.wat`) file.
    pub fn load_file(&self, name: &str, path: &Path, limits: Limits) -> Result<WasmPlugin> {
        let bytes = std::fs::read(path).map_err(|source| Error::ReadModule {
            name: name.to_owned(),
            path: path.to_owned(),
            source,
        })?;
        self.load(name, &bytes, limits)
    }

    /// Loads a plugin from its bytes (binary component or WAT text). Compiles it once per sha256
    /// (or loads it from the disk cache) and links it against the sandbox.
    pub fn load(&self, name: &str, bytes: &[u8], limits: Limits) -> Result<WasmPlugin> {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        let id = PluginId::new(name, digest);
        if limits.memory_bytes > Limits::MAX_MEMORY || limits.memory_bytes == 0 {
            return Err(Error::InvalidLimits {
                plugin: id,
                detail: format!(
                    "memory must be between 1 and {} bytes, got {}",
                    Limits::MAX_MEMORY,
                    limits.memory_bytes
                ),
            });
        }
        if limits.timeout.is_zero() {
            return Err(Error::InvalidLimits {
                plugin: id,
                detail: "timeout must be positive".into(),
            });
        }
        let cached = self.lock_modules().get(&digest).cloned();
        let pre = match cached {
            Some(pre) => {
                self.inner.stats.memory.fetch_add(1, Ordering::Relaxed);
                pre
            }
            None => {
                let pre = Arc::new(self.prepare(&id, bytes)?);
                self.lock_modules().entry(digest).or_insert(pre).clone()
            }
        };
        Ok(WasmPlugin::new(self.clone(), id, limits, pre))
    }

    fn lock_modules(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Arc<Prepared>>> {
        // A panic while holding this lock leaves only fully inserted entries behind.
        self.inner
            .modules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn prepare(&self, id: &PluginId, bytes: &[u8]) -> Result<Prepared> {
        let binary = if bytes.starts_with(b"\0asm") {
            std::borrow::Cow::Borrowed(bytes)
        } else {
            std::borrow::Cow::Owned(
                wat::parse_bytes(bytes)
                    .map_err(|e| Error::CompileModule {
                        plugin: id.clone(),
                        source: wasmtime::Error::new(e),
                    })?
                    .into_owned(),
            )
        };
        if binary.len() >= 8 && binary[4..8] == [1, 0, 0, 0] {
            return Err(Error::NotAComponent { plugin: id.clone() });
        }
        let component = self.compile(id, &binary)?;
        let instance_pre =
            self.inner
                .linker
                .instantiate_pre(&component)
                .map_err(|e| Error::WrongInterface {
                    plugin: id.clone(),
                    detail: format!("{e:#}"),
                })?;
        let pre = Pre::new(instance_pre).map_err(|e| Error::WrongInterface {
            plugin: id.clone(),
            detail: format!("{e:#}"),
        })?;
        Ok(Prepared::new(pre))
    }

    fn compile(&self, id: &PluginId, binary: &[u8]) -> Result<Component> {
        let engine = &self.inner.engine;
        if let Some(cache) = &self.inner.cache {
            if let Some(component) = cache.load(engine, id.digest()) {
                self.inner.stats.disk.fetch_add(1, Ordering::Relaxed);
                return Ok(component);
            }
            self.inner.stats.compiled.fetch_add(1, Ordering::Relaxed);
            let artifact =
                engine
                    .precompile_component(binary)
                    .map_err(|source| Error::CompileModule {
                        plugin: id.clone(),
                        source,
                    })?;
            cache.store(id.digest(), &artifact)?;
            if let Some(component) = cache.load(engine, id.digest()) {
                return Ok(component);
            }
        }
        if self.inner.cache.is_none() {
            self.inner.stats.compiled.fetch_add(1, Ordering::Relaxed);
        }
        Component::new(engine, binary).map_err(|source| Error::CompileModule {
            plugin: id.clone(),
            source,
        })
    }

    /// Where modules were found since this runtime was created (for metrics).
    pub fn cache_stats(&self) -> CacheStats {
        let s = &self.inner.stats;
        CacheStats {
            memory_hits: s.memory.load(Ordering::Relaxed),
            disk_hits: s.disk.load(Ordering::Relaxed),
            compiled: s.compiled.load(Ordering::Relaxed),
        }
    }

    /// Compiles a module and writes it to the disk cache without keeping it in memory (for
    /// measuring first-compile cost, and for warming a cache ahead of time).
    pub fn precompile(&self, bytes: &[u8]) -> Result<usize> {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        let id = PluginId::new("precompile", digest);
        let artifact = self
            .inner
            .engine
            .precompile_component(bytes)
            .map_err(|source| Error::CompileModule {
                plugin: id.clone(),
                source,
            })?;
        if let Some(cache) = &self.inner.cache {
            cache.store(&digest, &artifact)?;
        }
        Ok(artifact.len())
    }

    /// True if the disk cache holds a trusted, loadable artifact for these module bytes (this
    /// deserializes it, so it also measures a cache load).
    pub fn is_cached(&self, bytes: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        self.inner
            .cache
            .as_ref()
            .is_some_and(|cache| cache.load(&self.inner.engine, &digest).is_some())
    }
}
