//! The `images` transformer: rewrites container images by name, with kustomize semantics
//! implemented once in `capstan-sdk` (shared with the `image-rewrite` plugin).

use capstan_sdk::{ImageOverride, Object, rewrite_object_images};
use serde_json::Value;

use crate::{Error, Image, Result};

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
        let Some(mut object) = Object::from_value(std::mem::take(slot)) else {
            continue;
        };
        for change in rewrite_object_images(&mut object, &overrides) {
            // Credit the first entry that matches the old image, as kustomize applies the first.
            if let Some(i) = overrides
                .iter()
                .position(|o| capstan_sdk::image_matches(&change.from, &o.name))
                && let Some(c) = counts.get_mut(i)
            {
                *c += 1;
            }
        }
        *slot = object.into_value();
    }
    Ok(counts)
}
