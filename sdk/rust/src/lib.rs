//! SDK for writing Capstan post-render transforms in Rust
