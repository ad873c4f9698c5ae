//! # capstan-api
//!
//! Capstan's API types and the pure decisions around them.

mod helmrelease;
mod schema;
mod wasmplugin;

pub use helmrelease::*;
pub use wasmplugin::*;
mod crd;
pub use crd::{crd_yaml, crds};
