//! Where charts and Wasm modules come from.
