//! First-party Capstan transform: policy-patch
