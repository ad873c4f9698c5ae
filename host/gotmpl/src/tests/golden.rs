//! A chart-like template set (`testdata/chart`) rendered and compared byte-for-byte with the
//! output real Helm 3.17.3 produced for it (see `testdata/chart/README.md`).

use super::mk_funcs;
use crate::{TemplateSet, Value};

#[test]
fn deployment_matches_helm_output() {
    let mut set = TemplateSet::new(mk_funcs());
    set.parse(
        "app/templates/_helpers.tpl",
        include_str!("../../testdata/chart/_helpers.tpl"),
    )
    .expect("helpers parse");
    set.parse(
        "app/templates/deployment.yaml",
        include_str!("../../testdata/chart/deployment.yaml"),
    )
    .expect("deployment parses");
    let j: serde_json::Value =
        serde_json::from_str(include_str!("../../testdata/chart/data.json")).expect("data.json");
    let out = set
        .execute("app/templates/deployment.yaml", &Value::from_json_go(&j))
        .expect("renders");
    let want = include_str!("../../testdata/chart/deployment.expected.yaml");
    assert_eq!(out.replace("<no value>", ""), want);
}
