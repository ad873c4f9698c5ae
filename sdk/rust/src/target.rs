//! Which objects a transform applies to, in exactly the shape of a Flux/kustomize patch `target`
//! (`group`, `version`, `kind`, `name`, `namespace`, `labelSelector`, `annotationSelector`), so
//! users can copy targets between their Kustomizations and Capstan configs.
//!
//! As in kustomize (`types.SelectorRegex`), `group`, `version`, `kind`, `name` and `namespace` are
//! regular expressions anchored as `^(?:…)$`, and an empty or missing field matches everything.
//! The regex dialect is `regex-lite`'s, which like Go's RE2 (kustomize's engine) has ASCII-only
//! `\d`, `\w`, `\s` and no backreferences; Unicode classes (`\p{L}`) are not supported, which
//! keeps the Wasm guest small and costs nothing for Kubernetes names (ASCII by definition).
//! Everything is compiled while the config is deserialized, so a bad regex or selector comes back
//! from [`crate::parse_config`] as a config diagnostic at its field path (`target.name`).

use std::fmt;

use regex_lite::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Object, Selector};

/// A regex anchored to the whole value, kustomize style: `web-.*` matches `web-1`, not `my-web-1`.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: Regex,
}

/// Why a [`Pattern`] did not compile.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PatternError {
    /// The text is not a valid regular expression.
    #[error("invalid regex {pattern:?}")]
    CompileRegex {
        /// The pattern as written.
        pattern: String,
        /// What the regex compiler said.
        #[source]
        source: regex_lite::Error,
    },
}

impl Pattern {
    /// Compiles `pattern`, anchored as `^(?:pattern)$`.
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        let regex = Regex::new(&format!("^(?:{pattern})$")).map_err(|source| {
            PatternError::CompileRegex {
                pattern: pattern.to_owned(),
                source,
            }
        })?;
        Ok(Pattern {
            source: pattern.to_owned(),
            regex,
        })
    }

    /// True if the whole of `value` matches. An empty pattern matches anything (kustomize treats
    /// an empty field as "not set").
    pub fn is_match(&self, value: &str) -> bool {
        self.source.is_empty() || self.regex.is_match(value)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Pattern::new(&text).map_err(|e| {
            // The regex error is multi-line with a caret under the problem; keep its last line,
            // which says what is wrong, so the config diagnostic stays one line.
            let why = match &e {
                PatternError::CompileRegex { source, .. } => source.to_string(),
            };
            let why = why
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_owned();
            serde::de::Error::custom(format!("{e}: {why}"))
        })
    }
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

/// Selects objects; every field that is set must match (a missing field matches anything).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Target {
    /// API group regex (`apps`; the core group is the empty string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Pattern>,
    /// API version regex, without the group (`v1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Pattern>,
    /// Kind regex (`Deployment|StatefulSet`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Pattern>,
    /// `metadata.name` regex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Pattern>,
    /// `metadata.namespace` regex (cluster-scoped objects have the empty namespace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Pattern>,
    /// Label selector expression over `metadata.labels`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<Selector>,
    /// Label selector expression over `metadata.annotations`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotation_selector: Option<Selector>,
}

impl Target {
    /// True if `object` is selected. An object without `metadata.namespace` has the empty
    /// namespace here; see [`Target::matches_in`] for rendered charts.
    pub fn matches(&self, object: &Object) -> bool {
        self.matches_in(object, "")
    }

    /// True if `object` is selected, taking an object without `metadata.namespace` to be in
    /// `default_namespace`. Helm installs such objects into the release namespace, so transforms
    /// pass [`crate::Context::release_namespace`]: `namespace: apps` then selects the chart's
    /// objects that name no namespace when the release installs into `apps`.
    pub fn matches_in(&self, object: &Object, default_namespace: &str) -> bool {
        let field = |p: &Option<Pattern>, v: &str| p.as_ref().is_none_or(|p| p.is_match(v));
        field(&self.group, object.group())
            && field(&self.version, object.version())
            && field(&self.kind, object.kind())
            && field(&self.name, object.name())
            && field(
                &self.namespace,
                object.namespace().unwrap_or(default_namespace),
            )
            && self
                .label_selector
                .as_ref()
                .is_none_or(|s| s.matches(object.labels()))
            && self
                .annotation_selector
                .as_ref()
                .is_none_or(|s| s.matches(object.annotations()))
    }
}

/// True if `target` is `None` (no target: everything is selected) or selects `object`, an object
/// without a namespace being taken to be in `default_namespace` (see [`Target::matches_in`]).
pub fn is_selected(target: Option<&Target>, object: &Object, default_namespace: &str) -> bool {
    target.is_none_or(|t| t.matches_in(object, default_namespace))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::parse_config;

    fn mk_obj(v: Value) -> Object {
        Object::from_value(v).expect("test object is a map")
    }

    fn mk_deploy(name: &str, ns: Option<&str>, labels: Value) -> Object {
        let mut meta = json!({"name": name, "labels": labels});
        if let Some(ns) = ns {
            meta["namespace"] = json!(ns);
        }
        mk_obj(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta}))
    }

    fn mk_target(v: Value) -> Target {
        serde_json::from_value(v).expect("target deserializes")
    }

    #[test]
    fn regexes_are_anchored() {
        let web = mk_deploy("web-1", None, json!({}));
        let myweb = mk_deploy("my-web-1", None, json!({}));
        let t = mk_target(json!({"name": "web-.*"}));
        assert!(t.matches(&web));
        assert!(!t.matches(&myweb));
        // Alternation stays inside the anchors.
        let t = mk_target(json!({"kind": "Deployment|StatefulSet"}));
        assert!(t.matches(&web));
        let t = mk_target(json!({"kind": "Deploy|StatefulSet"}));
        assert!(!t.matches(&web));
    }

    #[test]
    fn gvk_and_namespace() {
        let obj = mk_deploy("web", Some("prod"), json!({}));
        assert!(mk_target(json!({"group": "apps", "version": "v1"})).matches(&obj));
        let cm = mk_obj(json!({"apiVersion": "v1", "kind": "ConfigMap"}));
        assert!(!mk_target(json!({"group": "apps"})).matches(&cm));
        assert!(mk_target(json!({"group": "apps|"})).matches(&cm));
        assert!(!mk_target(json!({"version": "v2"})).matches(&obj));
        assert!(mk_target(json!({"namespace": "prod|staging"})).matches(&obj));
        assert!(!mk_target(json!({"namespace": "prod"})).matches(&mk_deploy(
            "web",
            None,
            json!({})
        )));
        // Helm puts objects without a namespace into the release namespace.
        let t = mk_target(json!({"namespace": "prod"}));
        assert!(t.matches_in(&mk_deploy("web", None, json!({})), "prod"));
        assert!(!t.matches_in(&mk_deploy("web", Some("dev"), json!({})), "prod"));
        assert!(is_selected(
            Some(&t),
            &mk_deploy("web", None, json!({})),
            "prod"
        ));
        // An empty field is "not set".
        assert!(mk_target(json!({"name": "", "kind": ""})).matches(&obj));
        assert!(mk_target(json!({})).matches(&obj));
    }

    #[test]
    fn label_and_annotation_selectors() {
        let mut obj = mk_deploy("web", None, json!({"app": "web", "tier": "front"}));
        obj.set_annotation("owner", "team-a");
        assert!(mk_target(json!({"labelSelector": "app=web,tier in (front)"})).matches(&obj));
        assert!(!mk_target(json!({"labelSelector": "app!=web"})).matches(&obj));
        assert!(mk_target(json!({"annotationSelector": "owner=team-a"})).matches(&obj));
        assert!(!mk_target(json!({"annotationSelector": "!owner"})).matches(&obj));
        assert!(is_selected(None, &obj, ""));
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Cfg {
        #[expect(dead_code, reason = "only deserialization errors are tested")]
        target: Target,
    }

    #[test]
    fn bad_config_names_the_field() {
        let err = parse_config::<Cfg>(r#"{"target": {"name": "web-("}}"#).expect_err("bad regex");
        assert_eq!(err[0].field.as_deref(), Some("target.name"));
        assert!(
            err[0].message.contains("invalid regex \"web-(\""),
            "{}",
            err[0].message
        );
        assert!(!err[0].message.contains('\n'), "{}", err[0].message);

        let err = parse_config::<Cfg>(r#"{"target": {"labelSelector": "a in ()"}}"#)
            .expect_err("bad selector");
        assert_eq!(err[0].field.as_deref(), Some("target.labelSelector"));
        assert!(
            err[0].message.contains("must not be empty"),
            "{}",
            err[0].message
        );

        let err = parse_config::<Cfg>(r#"{"target": {"names": "x"}}"#).expect_err("unknown");
        assert!(
            err[0].message.contains("unknown field `names`"),
            "{}",
            err[0].message
        );
    }
}
