//! Execution: walks parse trees over Go values (placeholder while the walker is written).

use crate::error::{Error, Result};
use crate::set::TemplateSet;
use crate::value::Value;

pub(crate) const DEFAULT_MAX_DEPTH: usize = 1000;

pub(crate) fn execute(set: &TemplateSet, name: &str, data: &Value, out: &mut String) -> Result<()> {
    let _ = (set, data, out);
    Err(Error::ExecuteTemplate {
        message: format!("template: {name}: execution not implemented yet"),
        source: None,
    })
}
