//! First-party Capstan transform: set-labels
