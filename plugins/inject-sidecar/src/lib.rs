//! First-party Capstan transform: inject-sidecar
