//! CEL expressions in a HelmRelease (`spec.healthCheckExprs`, `spec.dependsOn[].readyExpr`),
//! compiled once when the spec is read — a syntax error is a spec error naming the field, so
//! the release is stalled until the spec changes instead of failing at every wait — and
//! evaluated over plain JSON. Evaluation is pure: no clock, no I/O, only the variables given.
//!
//! Flux evaluates health checks with the object's top-level fields as variables
//! (`status.conditions.filter(…)`, `metadata.generation`), and `readyExpr` with `dep` and
//! `self` (the two HelmReleases); [`Expr::eval_object`] and [`Expr::eval_with`] do the same.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// An expression could not be compiled.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{field}: invalid CEL expression `{source_text}`: {message}")]
pub struct CompileError {
    /// The spec field, e.g. `spec.healthCheckExprs[0].current`.
    pub field: String,
    /// The expression as written.
    pub source_text: String,
    /// What the parser said.
    pub message: String,
}

/// A compiled expression and where it was written.
#[derive(Clone)]
pub struct Expr {
    field: String,
    source: String,
    program: Arc<cel::Program>,
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}`", self.field, self.source)
    }
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.field == other.field && self.source == other.source
    }
}

/// The longest expression accepted (the API server's own CEL cost limits are far above
/// anything a health check needs; this only keeps a hostile spec from costing parse time).
const MAX_LEN: usize = 4096;

impl Expr {
    /// Compiles `source`, written at `field`.
    pub fn compile(field: impl Into<String>, source: &str) -> Result<Expr, CompileError> {
        let field = field.into();
        let fail = |message: String| CompileError {
            field: field.clone(),
            source_text: source.to_owned(),
            message,
        };
        if source.trim().is_empty() {
            return Err(fail("the expression is empty".into()));
        }
        if source.len() > MAX_LEN {
            return Err(fail(format!(
                "{} bytes; at most {MAX_LEN} are accepted",
                source.len()
            )));
        }
        let program = cel::Program::compile(source).map_err(|e| {
            fail(
                e.to_string()
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })?;
        Ok(Expr {
            field,
            source: source.to_owned(),
            program: Arc::new(program),
        })
    }

    /// Where the expression was written.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates with each top-level field of `object` as a variable (Flux's health checks).
    pub fn eval_object(&self, object: &Value) -> Result<bool, String> {
        let vars: Vec<(&str, &Value)> = object
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        self.eval_with(&vars)
    }

    /// Evaluates with the given variables; the result must be a boolean.
    pub fn eval_with(&self, vars: &[(&str, &Value)]) -> Result<bool, String> {
        let mut context = cel::Context::default();
        for (name, value) in vars {
            context.add_variable_from_value(*name, to_cel(value));
        }
        match self.program.execute(&context) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("evaluates to {}, not a bool", type_name(&other))),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// JSON as the API server's CEL sees it: integers are `int` (not `uint`, which serde's
/// unsigned numbers would become, and which CEL will not compare with an `int` literal),
/// other numbers `double`.
fn to_cel(v: &Value) -> cel::Value {
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => cel::Value::Int(i),
            (None, Some(u)) => cel::Value::UInt(u),
            _ => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(map) => cel::Value::from(
            map.iter()
                .map(|(k, v)| (k.clone(), to_cel(v)))
                .collect::<std::collections::HashMap<String, cel::Value>>(),
        ),
    }
}

fn type_name(v: &cel::Value) -> &'static str {
    match v {
        cel::Value::Null => "null",
        cel::Value::Int(_) => "an int",
        cel::Value::UInt(_) => "a uint",
        cel::Value::Float(_) => "a double",
        cel::Value::String(_) => "a string",
        cel::Value::List(_) => "a list",
        cel::Value::Map(_) => "a map",
        _ => "a non-bool value",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mk_certificate(ready: &str, issuing: &str) -> Value {
        json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
               "metadata": {"name": "tls", "generation": 2},
               "status": {"conditions": [
                   {"type": "Issuing", "status": issuing, "observedGeneration": 2},
                   {"type": "Ready", "status": ready, "observedGeneration": 2}]}})
    }

    #[test]
    fn health_checks_see_the_objects_fields_as_variables() {
        let current = Expr::compile(
            "spec.healthCheckExprs[0].current",
            "status.conditions.filter(e, e.type == 'Ready').all(e, \
             e.observedGeneration == metadata.generation && e.status == 'True')",
        )
        .expect("compiles");
        assert_eq!(
            current.eval_object(&mk_certificate("True", "False")),
            Ok(true)
        );
        assert_eq!(
            current.eval_object(&mk_certificate("False", "True")),
            Ok(false)
        );
    }

    #[test]
    fn json_integers_compare_with_int_literals() {
        let expr = Expr::compile("f", "status.readyReplicas >= 2 && status.ratio > 0.5")
            .expect("compiles");
        assert_eq!(
            expr.eval_object(&json!({"status": {"readyReplicas": 3, "ratio": 0.75}})),
            Ok(true)
        );
        assert_eq!(
            expr.eval_object(&json!({"status": {"readyReplicas": 1, "ratio": 0.75}})),
            Ok(false)
        );
    }

    #[test]
    fn ready_exprs_see_dep_and_self() {
        let expr = Expr::compile(
            "spec.dependsOn[0].readyExpr",
            "dep.spec.values.app.version == self.spec.values.app.version",
        )
        .expect("compiles");
        let a = json!({"spec": {"values": {"app": {"version": "v1"}}}});
        let b = json!({"spec": {"values": {"app": {"version": "v2"}}}});
        assert_eq!(expr.eval_with(&[("dep", &a), ("self", &a)]), Ok(true));
        assert_eq!(expr.eval_with(&[("dep", &a), ("self", &b)]), Ok(false));
    }

    #[test]
    fn bad_expressions_name_the_field_and_what_is_wrong() {
        let e = Expr::compile("spec.healthCheckExprs[1].failed", "status.(").expect_err("syntax");
        let text = e.to_string();
        assert!(
            text.starts_with("spec.healthCheckExprs[1].failed: invalid CEL expression `status.(`"),
            "{text}"
        );
        let empty = Expr::compile("spec.dependsOn[0].readyExpr", " ").expect_err("empty");
        assert!(empty.to_string().contains("the expression is empty"));
        let not_bool = Expr::compile("f", "1 + 2").expect("compiles");
        assert_eq!(
            not_bool.eval_object(&json!({})),
            Err("evaluates to an int, not a bool".into())
        );
        let missing = Expr::compile("f", "status.ready").expect("compiles");
        let err = missing
            .eval_object(&json!({"metadata": {}}))
            .expect_err("no status");
        assert!(err.contains("status"), "{err}");
    }
}
