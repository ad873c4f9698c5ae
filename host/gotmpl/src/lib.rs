//! A Go `text/template` engine with Go's value model, so Helm charts render byte-for-byte as Helm
//! renders them without a Go toolchain.
