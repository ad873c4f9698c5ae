//! Errors of parsing and executing templates. Messages are shaped exactly like Go's `text/template`
//! messages, because Helm post-processes and prints them verbatim.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failure to parse or execute a template.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The template source could not be parsed; `message` is Go's text, e.g.
    /// `template: x.yaml:3: unexpected "}" in operand`.
    #[error("{message}")]
    ParseTemplate {
        /// The Go-shaped message.
        message: String,
    },
    /// Execution failed; `message` is Go's text, e.g. `template: x.yaml:1:3: executing "x.yaml" at
    /// <.Values.x.y>: nil pointer evaluating interface {}.y`.
    #[error("{message}")]
    ExecuteTemplate {
        /// The Go-shaped message (already contains the cause's text, as Go's `%w` does).
        message: String,
        /// The function error that caused it, when a function call failed.
        #[source]
        source: Option<Box<FuncError>>,
    },
}

impl Error {
    /// The Go-shaped message of this error.
    pub fn message(&self) -> &str {
        match self {
            Error::ParseTemplate { message } | Error::ExecuteTemplate { message, .. } => message,
        }
    }
}

/// An error returned by a template function (Go's `(T, error)` second result, or a recovered panic).
///
/// Its text is what Go's `err.Error()` would print; the cause, if any, is kept as the source (for
/// example the nested template error of an `include`).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct FuncError {
    message: String,
    #[source]
    source: Option<Box<Error>>,
}

impl FuncError {
    /// An error with this exact message.
    pub fn new(message: impl Into<String>) -> Self {
        FuncError {
            message: message.into(),
            source: None,
        }
    }

    /// An error caused by a nested template error, printed as Go prints a wrapped error:
    /// `"{prefix}: {cause}"`, or just the cause when `prefix` is empty.
    pub fn wrap(prefix: &str, cause: Error) -> Self {
        let message = if prefix.is_empty() {
            cause.message().to_owned()
        } else {
            format!("{prefix}: {}", cause.message())
        };
        FuncError {
            message,
            source: Some(Box::new(cause)),
        }
    }

    /// The message (Go's `err.Error()`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The nested template error, if this error wraps one.
    pub fn template_error(&self) -> Option<&Error> {
        self.source.as_deref()
    }
}

impl From<String> for FuncError {
    fn from(message: String) -> Self {
        FuncError::new(message)
    }
}

impl From<&str> for FuncError {
    fn from(message: &str) -> Self {
        FuncError::new(message)
    }
}
