//! First-party Capstan transform: image-rewrite
