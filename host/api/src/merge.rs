//! Flux's `MergeMaps`, the one merge rule of HelmRelease values and plugin configs: maps merge
//! deeply, anything else (lists included) is replaced by the later value.

use serde_json::Value;

// Also compiled into capstan-helm (see its module docs).
mod maps;

pub use maps::merge_maps;

/// [`merge_maps`] on values: two maps merge, otherwise `over` replaces `base`.
pub fn merge_values(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => Value::Object(merge_maps(b, o)),
        _ => over.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn maps_merge_deeply_and_lists_are_replaced() {
        assert_eq!(
            merge_values(
                &json!({"a": {"b": 1, "c": [1, 2]}, "d": 1}),
                &json!({"a": {"c": [3], "e": 2}, "d": null})
            ),
            json!({"a": {"b": 1, "c": [3], "e": 2}, "d": null})
        );
        assert_eq!(merge_values(&json!({"a": 1}), &json!("x")), json!("x"));
    }
}
