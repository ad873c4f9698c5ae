//! Helm's rendering engine: every template of the chart tree is parsed into one template set
//! (deepest paths first, as Helm orders them), each non-partial template is executed with its
//! chart's scoped data (`.Values`, `.Chart`, `.Files`, `.Release`, `.Capabilities`,
//! `.Template`, `.Subcharts`), and errors are reworded exactly as Helm rewords them.

use std::collections::BTreeMap;
use std::sync::Arc;

use capstan_gotmpl::{TemplateSet, Value};

use crate::chart::{Chart, ChartFile};
use crate::error::Error;
use crate::funcs::{helm_funcs, json_to_value};
use crate::objects::{Capabilities, ChartObject, FilesObject};
use crate::values::Values;
use crate::version::HelmVersion;

/// `.Release`: the release a chart is rendered for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// Release name (`helm template` defaults to `release-name`).
    pub name: String,
    /// Namespace (`default` unless given).
    pub namespace: String,
    /// Revision number (1 for an install).
    pub revision: i64,
    /// Whether this is an install.
    pub is_install: bool,
    /// Whether this is an upgrade.
    pub is_upgrade: bool,
}

impl Default for Release {
    fn default() -> Self {
        Release {
            name: "release-name".to_owned(),
            namespace: "default".to_owned(),
            revision: 1,
            is_install: true,
            is_upgrade: false,
        }
    }
}

impl Release {
    fn to_value(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert("Name".to_owned(), Value::from(self.name.as_str()));
        m.insert("Namespace".to_owned(), Value::from(self.namespace.as_str()));
        m.insert("IsUpgrade".to_owned(), Value::Bool(self.is_upgrade));
        m.insert("IsInstall".to_owned(), Value::Bool(self.is_install));
        m.insert("Revision".to_owned(), Value::Int(self.revision));
        m.insert("Service".to_owned(), Value::from("Helm"));
        Value::map(m)
    }
}

/// The same map typed as Go's `chartutil.Values` (Helm 4: `common.Values`), what `.Template` is
/// in Helm: visible in `%T`/`typeOf`, and not a plain `map[string]interface{}` to type
/// assertions.
fn as_values_type(v: Value, helm: HelmVersion) -> Value {
    match v {
        Value::Map(m) => Value::Map(m.with_go_type(helm.values_type(), Value::Nil)),
        other => other,
    }
}

struct Renderable {
    src: String,
    data: BTreeMap<String, Value>,
    base_path: String,
}

/// Collects templates of `c` and its subcharts (Helm's `recAllTpls`) and returns this chart's
/// data map (used as `.Subcharts.<name>` by the parent). Each chart's files are moved into its
/// `.Files` and listed in `moved`, in the order [`restore_files`] puts them back.
#[expect(
    clippy::too_many_arguments,
    reason = "Helm's recAllTpls state, passed down"
)]
fn collect(
    c: &mut Chart,
    parent_path: Option<(&str, &str)>,
    values: &Value,
    release: &Value,
    caps: &Value,
    helm: HelmVersion,
    out: &mut BTreeMap<String, Renderable>,
    moved: &mut Vec<Arc<Vec<ChartFile>>>,
) -> BTreeMap<String, Value> {
    let is_root = parent_path.is_none();
    // (path of this chart, path its own subcharts hang under): they differ for an alias copy.
    // Helm 4 hangs them under the alias too.
    let (full_path, children_path) = match parent_path {
        None => (c.name().to_owned(), c.name().to_owned()),
        Some((_, p)) => (
            format!("{p}/charts/{}", c.name()),
            match helm {
                HelmVersion::V3 => format!(
                    "{p}/charts/{}",
                    c.unaliased_name.as_deref().unwrap_or(c.name())
                ),
                HelmVersion::V4 => format!("{p}/charts/{}", c.name()),
            },
        ),
    };
    // The plain map (shared with the parent's values) and its `chartutil.Values` view.
    let own_values = if is_root {
        values.clone()
    } else {
        match values.get(c.name()) {
            Some(v @ Value::Map(_)) => v,
            _ => Value::empty_map(),
        }
    };
    let mut next = BTreeMap::new();
    let chart = match helm {
        HelmVersion::V3 => Value::object(ChartObject {
            meta: c.metadata.clone(),
            is_root,
        }),
        HelmVersion::V4 => crate::objects::chart_map_v4(&c.metadata, is_root),
    };
    next.insert("Chart".to_owned(), chart);
    let files = Arc::new(std::mem::take(&mut c.files));
    moved.push(files.clone());
    next.insert("Files".to_owned(), Value::object(FilesObject::new(files)));
    next.insert("Release".to_owned(), release.clone());
    next.insert("Capabilities".to_owned(), caps.clone());
    next.insert(
        "Values".to_owned(),
        crate::objects::values_object(&own_values, helm),
    );
    let mut subcharts = BTreeMap::new();
    for child in &mut c.dependencies {
        let child_data = collect(
            child,
            Some((&full_path, &children_path)),
            &own_values,
            release,
            caps,
            helm,
            out,
            moved,
        );
        subcharts.insert(child.name().to_owned(), Value::map(child_data));
    }
    next.insert("Subcharts".to_owned(), Value::map(subcharts));
    for t in &c.templates {
        let base = t.name.rsplit('/').next().unwrap_or(&t.name);
        if c.metadata.is_library() && !base.starts_with('_') {
            continue;
        }
        out.insert(
            format!("{full_path}/{}", t.name),
            Renderable {
                src: crate::chart::file_text(&t.data).into_owned(),
                data: next.clone(),
                base_path: format!("{full_path}/templates"),
            },
        );
    }
    next
}

/// Gives each chart back the files [`collect`] moved out (same order: a chart, then its
/// subcharts). Nothing else holds them once the render is over; a copy is made if anything did.
fn restore_files(c: &mut Chart, moved: &mut impl Iterator<Item = Arc<Vec<ChartFile>>>) {
    if let Some(files) = moved.next() {
        c.files = Arc::try_unwrap(files).unwrap_or_else(|shared| (*shared).clone());
    }
    for child in &mut c.dependencies {
        restore_files(child, moved);
    }
}

/// Helm's `sortTemplates`: deeper paths first, then reverse lexical order.
fn sort_templates(names: &mut [String]) {
    names.sort_by(|a, b| {
        let (ca, cb) = (a.matches('/').count(), b.matches('/').count());
        cb.cmp(&ca).then_with(|| b.cmp(a))
    });
}

/// Rewords a template execution error as Helm's `reformatExecErrorMsg` does.
fn reformat_exec_error(filename: &str, msg: &str, helm: HelmVersion) -> String {
    let tokens: Vec<&str> = msg.splitn(3, ": ").collect();
    if tokens.len() != 3 {
        return format!("execution error in ({filename}): {msg}");
    }
    let location = tokens[1];
    let rest = tokens[2];
    if let Some(start) = rest.find("HELM[") {
        let first_line = &rest[start + 5..];
        let first_line = first_line.split('\n').next().unwrap_or(first_line);
        if let Some(end) = first_line.rfind("]HELM") {
            return format!("execution error at ({location}): {}", &first_line[..end]);
        }
    }
    match helm {
        HelmVersion::V3 => msg.to_owned(),
        HelmVersion::V4 => traceable(msg).unwrap_or_else(|| msg.to_owned()),
    }
}

/// Helm 4's multi-line form of an execution error chain (its `TraceableError`s): one block per
/// `template: file:line:col: executing "name" at <node>: …` frame, each frame's message without
/// the text of the error it wraps:
///
/// ```text
/// chart/templates/cm.yaml:3:8
///   executing "chart/templates/cm.yaml" at <include "x" .>:
///     error calling include:
/// chart/templates/_helpers.tpl:1:26
///   executing "x" at <.Values.a.b>:
///     nil pointer evaluating interface {}.b
/// ```
///
/// Go walks `errors.Unwrap`; every error in the chain must be a template error (or Helm keeps
/// the one-line message): a function's own error (`index`, `tpl`'s wrapper) stops it, so
/// `None` is returned and the message stays as Helm 3 prints it.
fn traceable(msg: &str) -> Option<String> {
    // (location, executed function, message, full text of the frame)
    let mut frames: Vec<(Option<&str>, Option<String>, &str, &str)> = Vec::new();
    let mut current = msg;
    loop {
        let rest = current.strip_prefix("template: ")?;
        let frame = rest
            .split_once(": executing ")
            .and_then(|(location, after)| {
                if location.contains(' ') {
                    return None;
                }
                let (name, after) = go_quoted_prefix(after)?;
                let after = after.strip_prefix(" at <")?;
                let end = after.find(">: ")?;
                Some((location, name, &after[..end], &after[end + 3..]))
            });
        let Some((location, name, node, message)) = frame else {
            frames.push((None, None, current, current));
            break;
        };
        frames.push((
            Some(location),
            Some(format!("executing {name} at <{node}>:")),
            message,
            current,
        ));
        // Only an `include` (or `template`) call wraps another template error.
        match message
            .strip_prefix("error calling ")
            .and_then(|m| m.split_once(": "))
        {
            Some((_, inner)) => current = inner,
            None => break,
        }
    }
    let mut out = String::new();
    for (i, (location, function, message, _)) in frames.iter().enumerate() {
        let message = match frames.get(i + 1) {
            Some((_, _, _, next_full)) => message.replace(next_full, ""),
            None => (*message).to_owned(),
        };
        if let Some(l) = location {
            out.push_str(l);
            out.push_str("\n  ");
        }
        if let Some(f) = function {
            out.push_str(f);
            out.push_str("\n    ");
        }
        out.push_str(message.trim());
        out.push('\n');
    }
    Some(out.trim().to_owned())
}

/// Splits a Go `%q` string off the front of `s`: (`"quoted"`, rest).
fn go_quoted_prefix(s: &str) -> Option<(&str, &str)> {
    if !s.starts_with('"') {
        return None;
    }
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some((&s[..=i], &s[i + 1..])),
            _ => escaped = false,
        }
    }
    None
}

/// Helm's `cleanupParseError`.
fn cleanup_parse_error(filename: &str, msg: &str) -> String {
    let tokens: Vec<&str> = msg.split(": ").collect();
    if tokens.len() == 1 {
        return format!("parse error in ({filename}): {msg}");
    }
    format!(
        "parse error at ({}): {}",
        tokens[1],
        tokens[tokens.len() - 1]
    )
}

/// Each Helm version's function map, built once per process.
fn cached_funcs(helm: HelmVersion) -> capstan_gotmpl::FuncMap {
    use std::sync::OnceLock;
    static V3: OnceLock<capstan_gotmpl::FuncMap> = OnceLock::new();
    static V4: OnceLock<capstan_gotmpl::FuncMap> = OnceLock::new();
    let cell = match helm {
        HelmVersion::V3 => &V3,
        HelmVersion::V4 => &V4,
    };
    cell.get_or_init(|| helm_funcs(helm)).clone()
}

/// Stack for template execution: Go allows 100000 nested `template` calls (Helm 1000 nested
/// `include`s of one name) and each level is several interpreter frames deep. Optimised builds
/// need far less stack per level than debug builds; a smaller reservation keeps thread start
/// cheap.
const RENDER_STACK: usize = if cfg!(debug_assertions) {
    1 << 32
} else {
    1 << 27
};

/// Renders every template of `chart` with fully coalesced `values`; returns rendered text by
/// template path (`chart/templates/x.yaml`), partials excluded. Nothing partial is returned on
/// error. Runs on a dedicated thread with a large stack so deep recursion fails with Helm's
/// error rather than overflowing.
pub(crate) fn render_templates(
    chart: &mut Chart,
    values: &Values,
    release: &Release,
    caps: &Capabilities,
) -> Result<BTreeMap<String, String>, Error> {
    // The worker and the fallback share the chart through a lock (only one of them runs).
    let chart = std::sync::Mutex::new(chart);
    let run = || {
        let mut chart = chart
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        render_templates_here(&mut chart, values, release, caps)
    };
    std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name("capstan-helm-render".to_owned())
            .stack_size(RENDER_STACK)
            .spawn_scoped(s, run);
        match worker {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(Error::RenderTemplate(
                    "template rendering panicked".to_owned(),
                ))
            }),
            // No thread available: render on the caller's stack.
            Err(_) => run(),
        }
    })
}

fn render_templates_here(
    chart: &mut Chart,
    values: &Values,
    release: &Release,
    caps: &Capabilities,
) -> Result<BTreeMap<String, String>, Error> {
    let mut moved = Vec::new();
    let rendered = render_collected(chart, values, release, caps, &mut moved);
    restore_files(chart, &mut moved.into_iter());
    rendered
}

/// [`render_templates_here`] once the chart's files are moved into `moved`; everything that
/// refers to them is dropped on return.
fn render_collected(
    chart: &mut Chart,
    values: &Values,
    release: &Release,
    caps: &Capabilities,
    moved: &mut Vec<Arc<Vec<ChartFile>>>,
) -> Result<BTreeMap<String, String>, Error> {
    let values_v = json_to_value(&serde_json::Value::Object(values.clone()));
    let mut tpls = BTreeMap::new();
    collect(
        chart,
        None,
        &values_v,
        &release.to_value(),
        &caps.to_value(),
        caps.helm,
        &mut tpls,
        moved,
    );
    let mut names: Vec<String> = tpls.keys().cloned().collect();
    sort_templates(&mut names);

    let mut set = TemplateSet::new(cached_funcs(caps.helm));
    set.set_max_depth(100_000);
    for name in &names {
        if let Some(r) = tpls.get(name) {
            set.parse(name, &r.src)
                .map_err(|e| Error::ParseTemplate(cleanup_parse_error(name, e.message())))?;
        }
    }
    let mut rendered = BTreeMap::new();
    for name in &names {
        let base = name.rsplit('/').next().unwrap_or(name);
        if base.starts_with('_') {
            continue;
        }
        let Some(r) = tpls.get(name) else { continue };
        let mut data = r.data.clone();
        let mut tmpl = BTreeMap::new();
        tmpl.insert("Name".to_owned(), Value::from(name.as_str()));
        tmpl.insert("BasePath".to_owned(), Value::from(r.base_path.as_str()));
        data.insert(
            "Template".to_owned(),
            as_values_type(Value::map(tmpl), caps.helm),
        );
        let out = set.execute(name, &Value::map(data)).map_err(|e| {
            Error::RenderTemplate(reformat_exec_error(name, e.message(), caps.helm))
        })?;
        rendered.insert(name.clone(), out.replace("<no value>", ""));
    }
    Ok(rendered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_order_is_deepest_first_then_reverse() {
        let mut v: Vec<String> = [
            "c/templates/a.yaml",
            "c/charts/s/templates/b.yaml",
            "c/templates/b.yaml",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        sort_templates(&mut v);
        assert_eq!(
            v,
            [
                "c/charts/s/templates/b.yaml",
                "c/templates/b.yaml",
                "c/templates/a.yaml"
            ]
        );
    }

    #[test]
    fn helm_error_rewording() {
        assert_eq!(
            reformat_exec_error(
                "c/templates/a.yaml",
                "template: c/templates/a.yaml:1:6: executing \"c/templates/a.yaml\" at <required \"x\" .Values.a>: error calling required: HELM[need a]HELM",
                HelmVersion::V3
            ),
            "execution error at (c/templates/a.yaml:1:6): need a"
        );
        assert_eq!(
            cleanup_parse_error(
                "c/templates/a.yaml",
                "template: c/templates/a.yaml:1: function \"x\" not defined"
            ),
            "parse error at (c/templates/a.yaml:1): function \"x\" not defined"
        );
    }
}
