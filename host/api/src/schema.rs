//! JSON schema fragments for free-form fields, so the generated CRDs are structural schemas
//! (`x-kubernetes-preserve-unknown-fields` where users put arbitrary data).

use schemars::{Schema, SchemaGenerator, json_schema};

/// A free-form object (`values`, plugin `config`).
pub(crate) fn preserve_unknown_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}
