//! Rough rendering benchmark: parses a chart-like template set once and renders it repeatedly.
//! Run with `cargo run --release -p capstan-gotmpl --example bench`.

use std::time::Instant;

use capstan_gotmpl::{CallContext, FuncError, Signature, TemplateSet, Ty, Value, sprig};

const HELPERS: &str = include_str!("../testdata/chart/_helpers.tpl");
const DEPLOYMENT: &str = include_str!("../testdata/chart/deployment.yaml");

fn values() -> Value {
    let j: serde_json::Value =
        serde_json::from_str(include_str!("../testdata/chart/data.json")).expect("data.json");
    Value::from_json_go(&j)
}

fn main() {
    let mut funcs = sprig::sprig_funcs();
    funcs.register_with_context(
        "include",
        Signature::new(&[Ty::String, Ty::Any]),
        |cx: &mut CallContext<'_>, a: &[Value]| {
            let name = a[0].as_str().unwrap_or_default().to_owned();
            cx.execute_template(&name, &a[1])
                .map(Value::from)
                .map_err(|e| FuncError::wrap("", e))
        },
    );
    let t0 = Instant::now();
    let parse_iters = 2000;
    for _ in 0..parse_iters {
        let mut set = TemplateSet::new(funcs.clone());
        set.parse("_helpers.tpl", HELPERS).expect("helpers parse");
        set.parse("deployment.yaml", DEPLOYMENT)
            .expect("deployment parses");
    }
    let parse = t0.elapsed() / parse_iters;
    let mut set = TemplateSet::new(funcs);
    set.parse("_helpers.tpl", HELPERS).expect("helpers parse");
    set.parse("deployment.yaml", DEPLOYMENT)
        .expect("deployment parses");
    let data = values();
    let out = set.execute("deployment.yaml", &data).expect("renders");
    let iters = 20_000;
    let t0 = Instant::now();
    let mut bytes = 0;
    for _ in 0..iters {
        bytes += set
            .execute("deployment.yaml", &data)
            .expect("renders")
            .len();
    }
    let render = t0.elapsed() / iters;
    println!("{out}");
    println!(
        "parse (2 files): {parse:?}/iter; render: {render:?}/iter ({} bytes)",
        bytes / iters as usize
    );
}
