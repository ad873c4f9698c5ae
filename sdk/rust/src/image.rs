//! kustomize `images` semantics (`name`, `newName`, `newTag`, `digest`) as one reusable
//! implementation, shared by the `image-rewrite` plugin and the host's kustomize post-renderer so
//! the two can never disagree about which images an entry rewrites.
//!
//! Matching follows kustomize's `image.IsImageMatched`: an entry's `name` matches an image
//! reference that is exactly `name`, optionally followed by `:tag` and/or `@algorithm:digest`.
//! So `nginx` matches `nginx`, `nginx:1.25` and `nginx@sha256:…`, but not `my/nginx` or
//! `nginx-extra`; a registry with a port (`localhost:5000/app`) is part of the name. One
//! deliberate difference: kustomize splices `name` into a regex unescaped (so its `.` matches any
//! character); here it is matched literally. Rewriting follows kustomize's `imageTagUpdater`:
//! `newName` replaces the name; `newTag` and/or `digest` replace both the old tag and the old
//! digest.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::pod_template::received_images;
use crate::{Object, pod_template_mut};

/// One entry of a kustomize `images` list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageOverride {
    /// The image name to match (`nginx`, `ghcr.io/org/app`, `localhost:5000/app`).
    pub name: String,
    /// Replacement name (registry and repository).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
    /// Replacement tag. A YAML number (`newTag: 1.25`) is accepted and used as written by the
    /// YAML-to-JSON conversion, so quote tags like `"1.10"`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_number"
    )]
    pub new_tag: Option<String>,
    /// Replacement digest (`sha256:…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a string tag, found {other}"
        ))),
    }
}

/// An image reference split into name, tag and digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// Registry and repository (`localhost:5000/team/app`).
    pub name: &'a str,
    /// The tag, if any (`1.25`).
    pub tag: Option<&'a str>,
    /// The digest, if any (`sha256:…`).
    pub digest: Option<&'a str>,
}

impl ImageRef<'_> {
    /// True if the reference pins neither a tag nor a digest, or uses the `latest` tag: it can
    /// change under the release without any change to the manifests.
    pub fn is_floating(&self) -> bool {
        self.digest.is_none() && self.tag.is_none_or(|t| t == "latest")
    }
}

/// Splits an image reference like kustomize's `image.Split`: a `:` before the first `/` is a
/// registry port, not a tag.
pub fn split_image(image: &str) -> ImageRef<'_> {
    let search_from = match image.find('/') {
        Some(i) if i > 0 => i,
        _ => 0,
    };
    let tail = &image[search_from..];
    let at = tail.find('@').map(|i| i + search_from);
    let colon = tail.find(':').map(|i| i + search_from);
    match (colon, at) {
        (None, None) => ImageRef {
            name: image,
            tag: None,
            digest: None,
        },
        (Some(c), Some(a)) if c < a => ImageRef {
            name: &image[..c],
            tag: non_empty(&image[c + 1..a]),
            digest: non_empty(&image[a + 1..]),
        },
        // A digest and no tag before it (a `:` after the `@` belongs to the digest).
        (_, Some(a)) => ImageRef {
            name: &image[..a],
            tag: None,
            digest: non_empty(&image[a + 1..]),
        },
        (Some(c), None) => ImageRef {
            name: &image[..c],
            tag: non_empty(&image[c + 1..]),
            digest: None,
        },
    }
}

fn non_empty(s: &str) -> Option<&str> {
    Some(s).filter(|s| !s.is_empty())
}

fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '{' | '}' | '-')
}

/// True if `image` is `name`, optionally followed by `:tag` and/or `@algorithm:digest`.
pub fn image_matches(image: &str, name: &str) -> bool {
    let Some(mut rest) = image.strip_prefix(name) else {
        return false;
    };
    if let Some(after) = rest.strip_prefix(':') {
        let end = after.find('@').unwrap_or(after.len());
        if !after[..end].chars().all(is_tag_char) {
            return false;
        }
        rest = &after[end..];
    }
    if rest.is_empty() {
        return true;
    }
    let Some((algorithm, digest)) = rest.strip_prefix('@').and_then(|d| d.split_once(':')) else {
        return false;
    };
    let mut alg = algorithm.chars();
    alg.next().is_some_and(|c| c.is_ascii_alphabetic())
        && alg.all(|c| c.is_ascii_alphanumeric())
        && digest.chars().all(is_tag_char)
}

impl ImageOverride {
    /// The rewritten reference if this entry matches `image`, else `None`.
    pub fn apply(&self, image: &str) -> Option<String> {
        if !image_matches(image, &self.name) {
            return None;
        }
        let parts = split_image(image);
        let name = self.new_name.as_deref().unwrap_or(parts.name);
        let new_tag = self.new_tag.as_deref().and_then(non_empty);
        let new_digest = self.digest.as_deref().and_then(non_empty);
        let (tag, digest) = match (new_tag, new_digest) {
            (None, None) => (parts.tag, parts.digest),
            (tag, digest) => (tag, digest),
        };
        let mut out = name.to_owned();
        if let Some(tag) = tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = digest {
            out.push('@');
            out.push_str(digest);
        }
        Some(out)
    }
}

/// Applies every entry in order, as kustomize runs one image transformer per entry (so a later
/// entry sees the result of an earlier one). `Some(new)` if the reference changed.
pub fn rewrite_image(overrides: &[ImageOverride], image: &str) -> Option<String> {
    let mut current = image.to_owned();
    for o in overrides {
        if let Some(next) = o.apply(&current) {
            current = next;
        }
    }
    (current != image).then_some(current)
}

/// One image reference changed by [`rewrite_object_images`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageChange {
    /// Field path of the `image` field (`spec.template.spec.containers[0].image`).
    pub field: String,
    /// The old reference.
    pub from: String,
    /// The new reference.
    pub to: String,
}

/// Rewrites the images of every container, init container and ephemeral container of the
/// object's pod template (objects without one are left alone). Returns what changed.
pub fn rewrite_object_images(object: &mut Object, overrides: &[ImageOverride]) -> Vec<ImageChange> {
    // An object as the host sent it: its image strings are found and replaced in its text, and
    // the rest of the object is never parsed or encoded (issue #12).
    if let Some((prefix, images)) = received_images(object) {
        let mut changes = Vec::new();
        let mut replaced = Vec::new();
        for found in images {
            let Some(to) = rewrite_image(overrides, &found.image) else {
                continue;
            };
            let field = format!("{prefix}spec.{}[{}].image", found.kind.field(), found.index);
            replaced.push((found.span, Value::String(to.clone()).to_string()));
            changes.push(ImageChange {
                field,
                from: found.image,
                to,
            });
        }
        if !replaced.is_empty() {
            object.replace_received_values(replaced);
        }
        return changes;
    }
    let mut changes = Vec::new();
    let Some(mut template) = pod_template_mut(object) else {
        return changes;
    };
    for c in template.containers_mut() {
        let Some(from) = c.image() else {
            continue;
        };
        if let Some(to) = rewrite_image(overrides, from) {
            changes.push(ImageChange {
                field: format!("{}.image", c.path),
                from: from.to_owned(),
                to: to.clone(),
            });
            c.container.insert("image".to_owned(), Value::String(to));
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mk_override(v: Value) -> ImageOverride {
        serde_json::from_value(v).expect("override parses")
    }

    #[test]
    fn split_handles_ports_tags_and_digests() {
        let r = |name, tag, digest| ImageRef { name, tag, digest };
        assert_eq!(split_image("nginx"), r("nginx", None, None));
        assert_eq!(split_image("nginx:1.25"), r("nginx", Some("1.25"), None));
        assert_eq!(
            split_image("nginx@sha256:abc"),
            r("nginx", None, Some("sha256:abc"))
        );
        assert_eq!(
            split_image("nginx:1.25@sha256:abc"),
            r("nginx", Some("1.25"), Some("sha256:abc"))
        );
        assert_eq!(
            split_image("localhost:5000/app"),
            r("localhost:5000/app", None, None)
        );
        assert_eq!(
            split_image("localhost:5000/team/app:v2"),
            r("localhost:5000/team/app", Some("v2"), None)
        );
        assert_eq!(
            split_image("localhost:5000/app@sha256:abc"),
            r("localhost:5000/app", None, Some("sha256:abc"))
        );
    }

    #[test]
    fn matching_is_by_whole_name() {
        assert!(image_matches("nginx", "nginx"));
        assert!(image_matches("nginx:1.25", "nginx"));
        assert!(image_matches("nginx@sha256:abc", "nginx"));
        assert!(image_matches("nginx:1.25@sha256:abc", "nginx"));
        assert!(!image_matches("nginx-extra:1", "nginx"));
        assert!(!image_matches("my/nginx:1", "nginx"));
        assert!(!image_matches("nginx:1:2", "nginx"));
        assert!(!image_matches("nginx@1abc:x", "nginx"));
        assert!(image_matches("localhost:5000/app:v1", "localhost:5000/app"));
        assert!(!image_matches("localhost:5000/app:v1", "app"));
        // Names are literal, not regexes.
        assert!(!image_matches("ghcrxio/app", "ghcr.io/app"));
        // A name with a tag only matches that tag.
        assert!(image_matches("nginx:1.25", "nginx:1.25"));
        assert!(!image_matches("nginx:1.26", "nginx:1.25"));
    }

    #[test]
    fn rewrites_like_kustomize() {
        let cases = [
            (
                json!({"name": "postgres", "newName": "my-registry/my-postgres", "newTag": "v1"}),
                "postgres:8",
                "my-registry/my-postgres:v1",
            ),
            (
                json!({"name": "nginx", "newTag": "1.8.0"}),
                "nginx:1.7.9",
                "nginx:1.8.0",
            ),
            (
                json!({"name": "my-demo-app", "newName": "my-app"}),
                "my-demo-app:latest",
                "my-app:latest",
            ),
            (
                json!({"name": "alpine", "digest": "sha256:24a0c4b4"}),
                "alpine:3.7",
                "alpine@sha256:24a0c4b4",
            ),
            (
                json!({"name": "app", "newTag": "v2"}),
                "app@sha256:old",
                "app:v2",
            ),
            (
                json!({"name": "app", "newTag": "v2", "digest": "sha256:new"}),
                "app:v1@sha256:old",
                "app:v2@sha256:new",
            ),
            (
                json!({"name": "app", "newName": "reg:5000/app"}),
                "app:v1@sha256:d",
                "reg:5000/app:v1@sha256:d",
            ),
            (
                json!({"name": "localhost:5000/app", "newTag": "v9"}),
                "localhost:5000/app",
                "localhost:5000/app:v9",
            ),
            (
                json!({"name": "nginx", "newTag": 1.25}),
                "nginx",
                "nginx:1.25",
            ),
        ];
        for (o, from, to) in cases {
            let o = mk_override(o);
            assert_eq!(o.apply(from).as_deref(), Some(to), "{o:?} on {from}");
        }
        assert_eq!(
            mk_override(json!({"name": "nginx", "newTag": "2"})).apply("nginxx:1"),
            None
        );
    }

    #[test]
    fn entries_apply_in_order_and_unchanged_is_none() {
        let overrides = vec![
            mk_override(json!({"name": "a", "newName": "b"})),
            mk_override(json!({"name": "b", "newTag": "2"})),
        ];
        assert_eq!(rewrite_image(&overrides, "a:1").as_deref(), Some("b:2"));
        assert_eq!(rewrite_image(&overrides, "b:2"), None);
        assert_eq!(rewrite_image(&overrides, "c:1"), None);
    }

    #[test]
    fn floating_references() {
        assert!(split_image("nginx").is_floating());
        assert!(split_image("nginx:latest").is_floating());
        assert!(!split_image("nginx:latest@sha256:x").is_floating());
        assert!(!split_image("nginx:1").is_floating());
        assert!(split_image("localhost:5000/app").is_floating());
    }

    #[test]
    fn rewrites_every_container_of_a_template() {
        let mut obj = Object::from_value(json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "a", "image": "nginx:1"}, {"name": "b", "image": "redis"}],
                "initContainers": [{"name": "i", "image": "nginx"}],
                "ephemeralContainers": [{"name": "e", "image": "nginx:dbg"}]
            }}}}}
        }))
        .expect("object");
        let changes = rewrite_object_images(
            &mut obj,
            &[mk_override(json!({"name": "nginx", "newTag": "2"}))],
        );
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.jobTemplate.spec.template.spec.containers[0].image",
                "spec.jobTemplate.spec.template.spec.initContainers[0].image",
                "spec.jobTemplate.spec.template.spec.ephemeralContainers[0].image"
            ]
        );
        assert_eq!(
            obj.pointer("/spec/jobTemplate/spec/template/spec/initContainers/0/image"),
            Some(&json!("nginx:2"))
        );
        assert_eq!(
            obj.pointer("/spec/jobTemplate/spec/template/spec/containers/1/image"),
            Some(&json!("redis"))
        );
    }
}
