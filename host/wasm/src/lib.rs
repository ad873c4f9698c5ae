//! The sandboxed WebAssembly transform runtime (wasmtime)
