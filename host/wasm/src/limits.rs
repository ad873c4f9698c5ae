//! Per-plugin resource limits. Every call runs under all of them; defaults suit ordinary
//! manifest transforms (a few MB of YAML) with a wide margin.

use std::time::Duration;

/// Resource limits for one plugin's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most linear memory the guest may grow to, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock budget for one call (instantiation included).
    pub timeout: Duration,
    /// Most bytes of JSON the guest may return (all objects together).
    pub max_output_bytes: u64,
    /// Most bytes of JSON handed to the guest (all objects plus config).
    pub max_input_bytes: u64,
}

impl Limits {
    /// 64 MiB of memory.
    pub const DEFAULT_MEMORY: u64 = 64 << 20;
    /// One second per call.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
    /// 32 MiB of output.
    pub const DEFAULT_MAX_OUTPUT: u64 = 32 << 20;
    /// 32 MiB of input.
    pub const DEFAULT_MAX_INPUT: u64 = 32 << 20;
    /// The largest memory limit a plugin may ask for (the pooling allocator reserves this much
    /// address space per slot).
    pub const MAX_MEMORY: u64 = 1 << 30;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: Self::DEFAULT_MEMORY,
            timeout: Self::DEFAULT_TIMEOUT,
            max_output_bytes: Self::DEFAULT_MAX_OUTPUT,
            max_input_bytes: Self::DEFAULT_MAX_INPUT,
        }
    }
}
