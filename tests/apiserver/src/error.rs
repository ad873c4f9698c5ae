//! API errors as `metav1.Status` objects (API conventions, "Response Status Kind"): HTTP code,
//! `reason` (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, `Forbidden`, `Gone`, …), the
//! message texts of the real API server, and `details` {name, group, kind} where `kind` is the
//! resource (plural), as `k8s.io/apimachinery/pkg/api/errors` fills it.

use crate::registry::ResourceType;
use serde_json::{Value, json};

/// A failed API request.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
    pub(crate) details: Value,
}

impl ApiError {
    pub(crate) fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: Value::Null,
        }
    }

    fn with_details(mut self, rt: &ResourceType, name: &str) -> ApiError {
        let mut d = json!({"kind": rt.plural});
        if !name.is_empty() {
            d["name"] = json!(name);
        }
        if !rt.group.is_empty() {
            d["group"] = json!(rt.group);
        }
        self.details = d;
        self
    }

    pub(crate) fn not_found(rt: &ResourceType, name: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("{} {name:?} not found", rt.qualified()),
        )
        .with_details(rt, name)
    }

    pub(crate) fn already_exists(rt: &ResourceType, name: &str) -> ApiError {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} {name:?} already exists", rt.qualified()),
        )
        .with_details(rt, name)
    }

    /// Optimistic concurrency failure (stale `metadata.resourceVersion`).
    pub(crate) fn conflict(rt: &ResourceType, name: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} {name:?}: the object has been modified; please apply your changes to the latest version and try again",
                rt.qualified()
            ),
        )
        .with_details(rt, name)
    }

    pub(crate) fn invalid(rt: &ResourceType, name: &str, field_message: &str) -> ApiError {
        let mut e = ApiError::new(
            422,
            "Invalid",
            format!("{} {name:?} is invalid: {field_message}", rt.kind),
        )
        .with_details(rt, name);
        e.details["kind"] = json!(rt.kind);
        e
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    pub(crate) fn forbidden(rt: &ResourceType, name: &str, why: &str) -> ApiError {
        let message = if name.is_empty() {
            format!("{} is forbidden: {why}", rt.qualified())
        } else {
            format!("{} {name:?} is forbidden: {why}", rt.qualified())
        };
        ApiError::new(403, "Forbidden", message).with_details(rt, name)
    }

    pub(crate) fn gone(message: impl Into<String>) -> ApiError {
        ApiError::new(410, "Expired", message)
    }

    /// The `Status` object.
    pub(crate) fn status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if !self.details.is_null() {
            s["details"] = self.details.clone();
        }
        s
    }
}
