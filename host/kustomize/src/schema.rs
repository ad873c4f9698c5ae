//! JSON schema fragments for fields whose content is free-form, so the generated CRD stays a
//! valid structural schema (`x-kubernetes-preserve-unknown-fields`).

use schemars::{Schema, SchemaGenerator, json_schema};

/// Any JSON value (kept as is by the API server).
pub(crate) fn preserve_unknown_any(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
}

/// A list of free-form objects.
pub(crate) fn preserve_unknown_object_list(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
    })
}
