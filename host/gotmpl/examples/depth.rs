//! Measures how deep `include` recursion can go on a given stack size.
use capstan_gotmpl::{CallContext, FuncError, Signature, TemplateSet, Ty, Value, sprig};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let depth: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let stack_mb: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(8);
    let run = move || {
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
        let mut set = TemplateSet::new(funcs);
        set.set_max_depth(1_000_000);
        set.parse("r", &format!(r#"{{{{ define "down" }}}}{{{{ if gt (int .) 0 }}}}{{{{ include "down" (sub (int .) 1) | trim }}}}{{{{ else }}}}bottom{{{{ end }}}}{{{{ end }}}}{{{{ include "down" {depth} }}}}"#)).expect("parses");
        set.execute("r", &Value::Nil).map(|s| s.len())
    };
    let h = std::thread::Builder::new()
        .stack_size(stack_mb << 20)
        .spawn(run)
        .expect("spawn");
    println!("{:?}", h.join().expect("joined"));
}
