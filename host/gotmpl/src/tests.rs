//! Unit tests: engine semantics checked against outputs recorded from real Helm, plus focused
//! tests per area.

mod api;
mod budget;
mod fmt;
mod golden;
mod oracle;
mod sprig;

use crate::{CallContext, FuncError, FuncMap, Signature, TemplateSet, Ty, Value};

/// Helm's `include`, built on the public [`CallContext`] API the helm crate uses.
pub(crate) fn mk_funcs() -> FuncMap {
    let mut f = crate::sprig::sprig_funcs();
    f.register_with_context(
        "include",
        Signature::new(&[Ty::String, Ty::Any]),
        |cx: &mut CallContext<'_>, args: &[Value]| {
            let name = args[0].as_str().unwrap_or_default().to_owned();
            cx.execute_template(&name, &args[1])
                .map(Value::from)
                .map_err(|e| FuncError::wrap("", e))
        },
    );
    f.register_with_context(
        "tpl",
        Signature::new(&[Ty::String, Ty::Any]),
        |cx: &mut CallContext<'_>, args: &[Value]| {
            let src = args[0].as_str().unwrap_or_default().to_owned();
            cx.render_string("gotpl", &src, &args[1])
                .map(|s| Value::from(s.replace("<no value>", "")))
                .map_err(|e| {
                    let what = match e {
                        crate::Error::ParseTemplate { .. } => "cannot parse template",
                        crate::Error::ExecuteTemplate { .. } => {
                            "error during tpl function execution for"
                        }
                    };
                    FuncError::wrap(&format!("{what} {}", crate::fmt::go_quote(&src)), e)
                })
        },
    );
    f
}

/// A set holding `files` (name, source) parsed in order.
pub(crate) fn mk_set(files: &[(&str, &str)]) -> TemplateSet {
    let mut set = TemplateSet::new(mk_funcs());
    for (name, src) in files {
        set.parse(name, src).expect("test template parses");
    }
    set
}

/// Parses JSON values the way Helm loads values (numbers become float64) and wraps them as
/// `{"Values": …}`.
pub(crate) fn mk_data(values_json: &str) -> Value {
    let j: serde_json::Value = serde_json::from_str(values_json).expect("test values are JSON");
    let mut top = std::collections::BTreeMap::new();
    let values = match Value::from_json_go(&j) {
        Value::Map(m) => Value::Map(m.with_go_type("chartutil.Values", Value::Nil)),
        other => other,
    };
    top.insert("Values".to_owned(), values);
    Value::Map(crate::value::Map::from(top).with_go_type("chartutil.Values", Value::Nil))
}

/// Renders one template source with values; errors become their message.
pub(crate) fn render(src: &str, values_json: &str) -> Result<String, String> {
    let mut set = TemplateSet::new(mk_funcs());
    set.parse("t", src).map_err(|e| e.to_string())?;
    set.execute("t", &mk_data(values_json))
        .map_err(|e| e.to_string())
}

/// Renders and expects success.
pub(crate) fn ok(src: &str) -> String {
    render(src, "{}").unwrap_or_else(|e| panic!("{src:?} failed: {e}"))
}

/// Renders and expects failure, returning the message.
pub(crate) fn err(src: &str) -> String {
    match render(src, "{}") {
        Ok(out) => panic!("{src:?} should fail but gave {out:?}"),
        Err(e) => e,
    }
}
