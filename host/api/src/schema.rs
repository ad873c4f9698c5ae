//! JSON schema fragments for free-form fields, so the generated CRDs are structural schemas
//! (`x-kubernetes-preserve-unknown-fields` where users put arbitrary data).

use schemars::{Schema, SchemaGenerator, json_schema};

/// A free-form object (`values`, plugin `config`).
pub(crate) fn preserve_unknown_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

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
