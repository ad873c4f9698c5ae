//! Helm's `mergeMaps` (values files and `--set` over each other) and Flux's `MergeMaps` (a
//! HelmRelease's values sources), which is a copy of it: maps merge deeply, anything else
//! (lists included) is replaced by the later value.
//!
//! The one copy of this rule. `capstan-api` (which may depend on no other capstan crate) and
//! `capstan-helm` (which must not depend on the Kubernetes API types) both need it, so this file
//! is compiled into both with `#[path]`: one implementation, no dependency edge.

use serde_json::{Map, Value};

/// `over`'s keys win; where both hold maps, they merge.
pub fn merge_maps(base: &Map<String, Value>, over: &Map<String, Value>) -> Map<String, Value> {
    let mut out = base.clone();
    for (k, v) in over {
        match (out.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => {
                let merged = merge_maps(b, o);
                *b = merged;
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}
