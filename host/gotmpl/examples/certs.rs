//! Writes a CA, a leaf it signed, and a leaf signed by the same CA re-imported through
//! `buildCustomCert`, so they can be checked with `openssl verify`.
use capstan_gotmpl::{TemplateSet, Value, sprig};

fn main() {
    let mut set = TemplateSet::new(sprig::sprig_funcs());
    set.parse("t", r#"{{ $ca := genCA "root" 10 }}{{ $l := genSignedCert "leaf" (list "127.0.0.1") (list "a.example") 5 $ca }}{{ $c := buildCustomCert ($ca.Cert | b64enc) ($ca.Key | b64enc) }}{{ $l2 := genSignedCert "leaf2" nil nil 5 $c }}{{ $ca.Cert }}=={{ $l.Cert }}=={{ $l2.Cert }}=={{ $l.Key }}"#).expect("parses");
    let out = set.execute("t", &Value::Nil).expect("renders");
    let parts: Vec<&str> = out.split("==").collect();
    for (name, text) in ["ca.pem", "leaf.pem", "leaf2.pem", "leaf.key"]
        .iter()
        .zip(parts)
    {
        std::fs::write(format!("/tmp/{name}"), text).expect("write");
    }
}
