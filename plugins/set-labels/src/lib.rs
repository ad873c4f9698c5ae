//! `set-labels`: adds labels and annotations to object metadata (placeholder while the SDK grows).

use std::collections::BTreeMap;

use capstan_sdk::prelude::*;

/// Config of `set-labels`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Labels to set.
    pub labels: BTreeMap<String, String>,
}

/// Sets the configured labels on every object.
pub fn transform(_ctx: &Context, config: Config, mut objects: Vec<Object>) -> Result<Output> {
    for obj in &mut objects {
        for (k, v) in &config.labels {
            obj.set_label(k.clone(), v.clone());
        }
    }
    Ok(Output::new(objects))
}

capstan_sdk::export_transform!(Config, transform);
