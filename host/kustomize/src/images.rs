//! The `images` transformer: rewrites container images by name, with kustomize semantics
//! implemented once in `capstan-sdk` (shared with the `image-rewrite` plugin). Workload kinds
//! with a known pod template go through the SDK; for every other kind (custom resources that
//! embed pods, like Argo Rollouts), kustomize's legacy filter applies: every `containers` and
//! `initContainers` list at any depth has its `image` fields rewritten.

use capstan_sdk::{ImageOverride, Object, has_pod_template, image_matches, rewrite_image};
use serde_json::Value;

use crate::{Error, Image, Result, TypeContext};

fn credit(counts: &mut [usize], overrides: &[ImageOverride], old: &str) {
    if let Some(i) = overrides.iter().position(|o| image_matches(old, &o.name))
        && let Some(c) = counts.get_mut(i)
    {
        *c += 1;
    }
}

/// Kustomize's legacy image filter: `image` of every element of every `containers` or
/// `initContainers` list, at any depth.
fn rewrite_anywhere(value: &mut Value, overrides: &[ImageOverride], counts: &mut [usize]) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if (key == "containers" || key == "initContainers")
                    && let Value::Array(list) = child
                {
                    for container in list.iter_mut() {
                        if let Some(Value::String(image)) = container.get_mut("image")
                            && let Some(new) = rewrite_image(overrides, image)
                        {
                            credit(counts, overrides, image);
                            *image = new;
                        }
                    }
                }
                rewrite_anywhere(child, overrides, counts);
            }
        }
        Value::Array(list) => {
            for child in list {
                rewrite_anywhere(child, overrides, counts);
            }
        }
        _ => {}
    }
}

/// Rewrites the images of every object's containers; returns, per entry of `images`, how many
/// container images it changed (so unused entries can be reported).
pub fn apply_images(objects: &mut [Value], images: &[Image]) -> Result<Vec<usize>> {
    let mut counts = vec![0; images.len()];
    if images.is_empty() {
        return Ok(counts);
    }
    let overrides = images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            serde_json::to_value(image)
                .and_then(serde_json::from_value::<ImageOverride>)
                .map_err(|source| Error::ParseImage {
                    image: format!("images[{i}]"),
                    source,
                })
        })
        .collect::<Result<Vec<_>>>()?;
    for slot in objects.iter_mut() {
        let ctx = TypeContext::of(slot);
        if !has_pod_template(ctx.group, ctx.kind) {
            rewrite_anywhere(slot, &overrides, &mut counts);
            continue;
        }
        if !slot.is_object() {
            continue;
        }
        let Some(mut object) = Object::from_value(std::mem::take(slot)) else {
            continue;
        };
        for change in capstan_sdk::rewrite_object_images(&mut object, &overrides) {
            credit(&mut counts, &overrides, &change.from);
        }
        *slot = object.into_value();
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mk_image(name: &str, tag: &str) -> Image {
        Image {
            name: name.into(),
            new_tag: Some(tag.into()),
            ..Default::default()
        }
    }

    #[test]
    fn custom_resources_with_embedded_pods_are_rewritten_anywhere() {
        let mut objects = vec![json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"},
            "spec": {"template": {"spec": {
                "containers": [{"name": "a", "image": "nginx:1"}],
                "initContainers": [{"name": "i", "image": "busybox"}]
            }}},
            "other": {"image": "nginx:1"}
        })];
        let counts = apply_images(
            &mut objects,
            &[mk_image("nginx", "2"), mk_image("busybox", "1.36")],
        )
        .expect("valid");
        assert_eq!(counts, [1, 1]);
        let spec = &objects[0]["spec"]["template"]["spec"];
        assert_eq!(spec["containers"][0]["image"], "nginx:2");
        assert_eq!(spec["initContainers"][0]["image"], "busybox:1.36");
        assert_eq!(
            objects[0]["other"]["image"], "nginx:1",
            "only container lists"
        );
    }

    #[test]
    fn workloads_use_the_pod_template_and_count_per_entry() {
        let mut objects = vec![json!({
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "a", "image": "nginx:1"}, {"name": "b", "image": "nginx@sha256:aa"}]
            }}}}}
        })];
        let counts = apply_images(
            &mut objects,
            &[mk_image("nginx", "3"), mk_image("redis", "7")],
        )
        .expect("valid");
        assert_eq!(counts, [2, 0]);
        let c = &objects[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"];
        assert_eq!(c[0]["image"], "nginx:3");
        assert_eq!(c[1]["image"], "nginx:3");
    }
}
