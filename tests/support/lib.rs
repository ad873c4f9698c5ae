//! Shared test support: building guest modules, golden-file comparison, servers.
