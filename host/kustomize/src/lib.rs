//! # capstan-kustomize
//!
//! The `kustomize` post-renderer of a HelmRelease, with Flux's semantics, natively (no Wasm):
//!
//! ```text
//! rendered objects ─► patchesStrategicMerge ─► patches ─► patchesJson6902 ─► images ─► objects
//!                     (deprecated, in order)   (SMP or     (deprecated)
//!                                               JSON 6902)
//! ```
//!
//! The order is kustomize's built-in transformer order, which Flux inherits by running
//! `kustomize build` over the rendered manifests. Each `patches` entry holds a strategic merge
//! patch (one or more YAML documents) or a JSON 6902 operation list, and an optional `target`
//! selector. A strategic merge patch without a target applies to the object with its own
//! apiVersion, kind, name and namespace (kustomize's rule; no namespace means `default`). A patch
//! that selects nothing is a [`Warning`], not an error (where kustomize would fail); everything
//! else that goes wrong is an [`Error`] naming the patch (`patches[2]`) and the field. Strategic
//! merge follows kustomize's kyaml `merge2` (see [`strategic_merge`]). [`apply_common_metadata`]
//! sets `commonMetadata` and origin labels the way Flux does after the post-renderers.
//!
//! Target selection and image rewriting reuse `capstan-sdk` (`Target`, `rewrite_object_images`),
//! so the native post-renderer and Wasm plugins agree on which objects and images match.

mod error;
mod images;
mod metadata;
mod patches;
mod smp;

pub use capstan_api::{Image, Json6902Patch, JsonPatchOperation, Kustomize, Patch, Selector};
pub use error::{Error, Result, Warning};
pub use images::apply_images;
pub use metadata::apply_common_metadata;
pub use patches::{PatchKind, parse_patch};
pub use smp::{ListStrategy, MergeError, TypeContext, strategic_merge};

use serde_json::Value;

/// What [`post_render`] produced: the objects in their original order (objects deleted by a
/// `$patch: delete` are gone) and the warnings to show the user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rendered {
    /// The transformed objects.
    pub objects: Vec<Value>,
    /// Patches that matched nothing, and similar non-fatal findings.
    pub warnings: Vec<Warning>,
}

/// Runs one kustomize post-renderer over `objects`.
pub fn post_render(spec: &Kustomize, objects: Vec<Value>) -> Result<Rendered> {
    let mut objects = objects;
    let mut warnings = Vec::new();
    for (i, patch) in spec.patches_strategic_merge.iter().enumerate() {
        let name = format!("patchesStrategicMerge[{i}]");
        patches::apply_strategic_merge_docs(
            &name,
            std::slice::from_ref(patch),
            None,
            &mut objects,
            &mut warnings,
        )?;
    }
    for (i, patch) in spec.patches.iter().enumerate() {
        let name = format!("patches[{i}]");
        patches::apply_patch(&name, patch, &mut objects, &mut warnings)?;
    }
    for (i, patch) in spec.patches_json6902.iter().enumerate() {
        let name = format!("patchesJson6902[{i}]");
        let ops = serde_json::to_value(&patch.patch).map_err(|source| Error::EncodeJsonPatch {
            patch: name.clone(),
            source,
        })?;
        patches::apply_json6902(&name, &ops, &patch.target, &mut objects, &mut warnings)?;
    }
    let changed = apply_images(&mut objects, &spec.images)?;
    for (i, image) in spec.images.iter().enumerate() {
        if changed.get(i).copied().unwrap_or(0) == 0 {
            warnings.push(Warning {
                patch: format!("images[{i}]"),
                message: format!("image {:?} changed no container image", image.name),
            });
        }
    }
    Ok(Rendered { objects, warnings })
}
