//! KRM-function style findings. A transform reports problems as data, not panics, so the host can
//! name the object and field in its error and deny the release before anything is applied.

use std::fmt;

use crate::Object;

/// How serious a [`Diagnostic`] is. [`Severity::Error`] denies the release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// For information only.
    Info,
    /// Worth a look; does not block.
    Warning,
    /// Denies the release: nothing is applied.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// Identifies one Kubernetes object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    /// `apiVersion`, e.g. `apps/v1`.
    pub api_version: String,
    /// `kind`, e.g. `Deployment`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, if set.
    pub namespace: Option<String>,
}

impl fmt::Display for ObjectRef {
    /// `Deployment/web` or `Deployment/prod/web` (with a namespace), the way `kubectl` names objects.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// A finding about the config or one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// How serious it is.
    pub severity: Severity,
    /// What was found, in words.
    pub message: String,
    /// The object it is about.
    pub object: Option<ObjectRef>,
    /// The field path inside that object (or the config), e.g. `spec.template.spec.containers[0].image`.
    pub field: Option<String>,
}

impl Diagnostic {
    /// A finding of the given severity.
    pub fn new(severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            message: message.into(),
            object: None,
            field: None,
        }
    }

    /// An `error` finding: denies the release.
    pub fn error(message: impl Into<String>) -> Self {
        Self::new(Severity::Error, message)
    }

    /// A `warning` finding.
    pub fn warning(message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, message)
    }

    /// An `info` finding.
    pub fn info(message: impl Into<String>) -> Self {
        Self::new(Severity::Info, message)
    }

    /// Attaches the object the finding is about.
    #[must_use]
    pub fn on(mut self, object: &Object) -> Self {
        self.object = Some(object.object_ref());
        self
    }

    /// Attaches an object reference.
    #[must_use]
    pub fn on_ref(mut self, object: ObjectRef) -> Self {
        self.object = Some(object);
        self
    }

    /// Attaches the field path the finding is about.
    #[must_use]
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// `error: Deployment/web: spec.template.spec.containers[0].image: uses the :latest tag`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.severity)?;
        if let Some(obj) = &self.object {
            write!(f, "{obj}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}
