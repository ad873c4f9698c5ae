//! The OCI client against a real `docker-registry` (distribution 2.8).

use capstan_source::testing::Registry;
use capstan_source::{
    Cache, Digest, Error, HttpError, OciClient, OciReference, package_simple_chart,
};

/// A small but valid Wasm module (the `(module)` header plus a custom section).
fn module_bytes(tag: &str) -> Vec<u8> {
    let mut bytes = b"\0asm\x01\0\0\0".to_vec();
    let name = b"capstan-test";
    let payload_len = 1 + name.len() + tag.len();
    bytes.push(0); // custom section id
    bytes.push(u8::try_from(payload_len).expect("small section"));
    bytes.push(u8::try_from(name.len()).expect("small name"));
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(tag.as_bytes());
    bytes
}

fn chart(version: &str) -> Vec<u8> {
    package_simple_chart("redis", version, "replicas: 1\n", &[]).expect("package chart")
}

fn start() -> Registry {
    Registry::start().expect("start docker-registry")
}

#[test]
fn push_then_pull_a_chart_by_range() {
    let registry = start();
    let client = OciClient::new();
    let repo = registry.reference("charts/redis");
    for version in ["16.0.1", "16.13.2", "16.13.3+build.1", "17.0.0-rc.1"] {
        let pushed = client
            .push_chart(&repo, &chart(version))
            .expect("push chart");
        assert_eq!(
            pushed.reference.tag.as_deref(),
            Some(version.replace('+', "_").as_str())
        );
        assert_eq!(pushed.layer_digest, Digest::of(&chart(version)));
    }
    let mut tags = client.list_tags(&repo).expect("list tags");
    tags.sort();
    assert_eq!(
        tags,
        ["16.0.1", "16.13.2", "16.13.3_build.1", "17.0.0-rc.1"]
    );

    let cache_dir = tempfile::tempdir().expect("cache dir");
    let cache = Cache::new(cache_dir.path());
    let pulled = client
        .pull_chart(&repo, "16.x.x", Some(&cache))
        .expect("pull 16.x.x");
    assert_eq!(pulled.version, "16.13.3+build.1");
    assert_eq!(pulled.bytes, chart("16.13.3+build.1"));
    assert!(!pulled.cached);
    assert!(
        pulled.location.starts_with(&format!(
            "oci://{}/charts/redis:16.13.3_build.1@sha256:",
            registry.address()
        )),
        "{}",
        pulled.location
    );
    let again = client
        .pull_chart(&repo, "~16.13", Some(&cache))
        .expect("pull again");
    assert!(again.cached);
    assert_eq!(again.digest, pulled.digest);

    assert_eq!(
        client.pull_chart(&repo, "", None).expect("latest").version,
        "16.13.3+build.1"
    );
    assert_eq!(
        client
            .pull_chart(&repo.with_tag("16.0.1"), "", None)
            .expect("by tag")
            .version,
        "16.0.1"
    );
    let pinned = OciReference::parse(&pulled.location).expect("pinned reference");
    assert_eq!(
        client
            .pull_chart(&pinned, "", None)
            .expect("by digest")
            .version,
        "16.13.3+build.1"
    );
}

#[test]
fn version_not_found_lists_tags() {
    let registry = start();
    let client = OciClient::new();
    let repo = registry.reference("charts/redis");
    for version in ["16.0.1", "15.7.6"] {
        client
            .push_chart(&repo, &chart(version))
            .expect("push chart");
    }
    let err = client.pull_chart(&repo, "18.x.x", None).expect_err("no 18");
    assert_eq!(
        err.to_string(),
        format!(
            "chart \"redis\" version \"18.x.x\" not found in oci://{}/charts/redis; available: 16.0.1, 15.7.6",
            registry.address()
        )
    );
    let err = client
        .pull_chart(&registry.reference("charts/none"), "1.x", None)
        .expect_err("unknown repository");
    assert!(
        err.to_string().ends_with("; no versions available"),
        "{err}"
    );
}

#[test]
fn push_then_pull_a_wasm_module() {
    let registry = start();
    let client = OciClient::new();
    let module = module_bytes("v1");
    let repo = registry.reference("plugins/set-labels").with_tag("v1");
    let pushed = client.push_module(&repo, &module).expect("push module");
    assert_eq!(pushed.layer_digest, Digest::of(&module));

    let cache_dir = tempfile::tempdir().expect("cache dir");
    let cache = Cache::new(cache_dir.path());
    let pulled = client
        .pull_module(&repo, Some(&cache))
        .expect("pull by tag");
    assert_eq!(pulled.bytes, module);
    assert_eq!(pulled.digest, Digest::of(&module));
    assert_eq!(pulled.reference, pushed.reference);
    assert!(!pulled.cached);
    assert!(
        cache_dir
            .path()
            .join(format!("modules/sha256/{}.wasm", pulled.digest.hex()))
            .is_file()
    );
    let by_digest = client
        .pull_module(&pushed.reference, Some(&cache))
        .expect("pull by digest");
    assert!(by_digest.cached);
    assert_eq!(by_digest.bytes, module);

    // A module is not a chart, and a chart is not a module.
    let err = client.pull_chart(&repo, "", None).expect_err("not a chart");
    assert!(
        matches!(
            err,
            Error::FindLayer {
                wanted: "Helm chart",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("found: application/wasm"), "{err}");
    let charts = registry.reference("charts/redis");
    let chart_ref = client
        .push_chart(&charts, &chart("1.0.0"))
        .expect("push chart")
        .reference;
    let err = client
        .pull_module(&chart_ref, None)
        .expect_err("not a module");
    assert!(
        matches!(
            err,
            Error::FindLayer {
                wanted: "Wasm module",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn pinned_digest_must_exist_and_blobs_are_verified() {
    let registry = start();
    let client = OciClient::new();
    let module = module_bytes("tamper-me");
    let repo = registry.reference("plugins/tampered").with_tag("v1");
    let pushed = client.push_module(&repo, &module).expect("push module");

    // A digest the registry does not have.
    let wrong = repo.with_digest(Digest::of(b"something else"));
    let err = client
        .pull_module(&wrong, None)
        .expect_err("unknown digest");
    assert!(
        matches!(
            &err,
            Error::FetchManifest {
                source: HttpError::Status { status: 404, .. },
                ..
            }
        ),
        "{err:?}"
    );

    // Corrupt the stored layer (same size, so the registry still serves it).
    let hex = pushed.layer_digest.hex();
    let data = registry.storage().join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    ));
    let mut bytes = std::fs::read(&data).expect("stored blob");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&data, &bytes).expect("tamper blob");
    let err = client.pull_module(&repo, None).expect_err("tampered blob");
    match &err {
        Error::VerifyDigest {
            expected, actual, ..
        } => {
            assert_eq!(expected, &pushed.layer_digest);
            assert_eq!(actual, &Digest::of(&bytes));
        }
        other => panic!("expected VerifyDigest, got {other:?}"),
    }
}

#[test]
fn verified_module_pull_uses_the_cache_offline() {
    let registry = start();
    let client = OciClient::new();
    let module = module_bytes("verified");
    let repo = registry.reference("plugins/verified").with_tag("1.0.0");
    client.push_module(&repo, &module).expect("push module");
    let expected = Digest::of(&module);

    let err = client
        .pull_module_verified(&repo, &Digest::of(b"another module"), None)
        .expect_err("sha256 mismatch");
    assert!(
        matches!(&err, Error::VerifyDigest { what, actual, .. } if what == "Wasm module" && *actual == expected),
        "{err:?}"
    );

    let cache_dir = tempfile::tempdir().expect("cache dir");
    let cache = Cache::new(cache_dir.path());
    let first = client
        .pull_module_verified(&repo, &expected, Some(&cache))
        .expect("pull");
    assert!(!first.cached);
    assert!(first.reference.digest.is_some());
    drop(registry);
    // The registry is gone: only the cache can answer now.
    let offline = client
        .pull_module_verified(&repo, &expected, Some(&cache))
        .expect("served from cache");
    assert!(offline.cached);
    assert_eq!(offline.bytes, module);
    let err = client
        .pull_module(&repo, Some(&cache))
        .expect_err("needs the registry");
    assert!(matches!(err, Error::FetchManifest { .. }), "{err:?}");
}

const HTPASSWD_USER: &str = "capstan";
const HTPASSWD_PASSWORD: &str = "s3cret-registry";
/// `capstan:s3cret-registry`, bcrypt cost 4 (distribution checks it on every request).
const HTPASSWD: &str = "capstan:$2b$04$NaSfkEAcLxg4rgZGClCiJe0ad8kV0jqfen4ZvY3DZa24KnRJ4Iraq";

#[test]
fn basic_auth_registry() {
    let registry = Registry::start_with_htpasswd(HTPASSWD).expect("start registry");
    let repo = registry.reference("charts/private");
    let err = OciClient::new()
        .push_chart(&repo, &chart("1.0.0"))
        .expect_err("anonymous push refused");
    assert!(
        matches!(
            &err,
            Error::PushBlob {
                source: HttpError::Status { status: 401, .. },
                ..
            }
        ),
        "{err:?}"
    );
    let client = OciClient::new().with_credentials(capstan_source::Credentials::new(
        HTPASSWD_USER,
        HTPASSWD_PASSWORD,
    ));
    client
        .push_chart(&repo, &chart("1.0.0"))
        .expect("authenticated push");
    let pulled = client
        .pull_chart(&repo, "1.x", None)
        .expect("authenticated pull");
    assert_eq!(pulled.bytes, chart("1.0.0"));
    let err = OciClient::new()
        .pull_chart(&repo, "1.x", None)
        .expect_err("anonymous pull refused");
    assert!(
        matches!(
            &err,
            Error::ListTags {
                source: HttpError::Status { status: 401, .. },
                ..
            }
        ),
        "{err:?}"
    );
    let wrong =
        OciClient::new().with_credentials(capstan_source::Credentials::new(HTPASSWD_USER, "wrong"));
    assert!(wrong.pull_chart(&repo, "1.x", None).is_err());
}

#[test]
fn bearer_token_auth() {
    let registry = start();
    let credentials = capstan_source::Credentials::new("robot", "token-password");
    let gateway =
        capstan_source::testing::TokenGateway::start(registry.address(), credentials.clone())
            .expect("start gateway");
    let repo = OciReference::parse(&format!(
        "oci://{}/plugins/behind-auth:v2",
        gateway.address()
    ))
    .expect("reference");
    let module = module_bytes("bearer");

    let err = OciClient::new()
        .push_module(&repo, &module)
        .expect_err("no credentials for the token realm");
    assert!(
        matches!(&err, Error::Authenticate { scope, source: HttpError::Status { status: 401, .. }, .. } if scope == "repository:plugins/behind-auth:pull,push"),
        "{err:?}"
    );

    let client = OciClient::new().with_credentials(credentials);
    let pushed = client
        .push_module(&repo, &module)
        .expect("push through token auth");
    let pulled = client
        .pull_module(&repo, None)
        .expect("pull through token auth");
    assert_eq!(pulled.bytes, module);
    assert_eq!(pulled.reference.digest, pushed.reference.digest);
    let requests = gateway.token_requests();
    assert!(
        requests
            .iter()
            .any(|q| q
                == "service=capstan-test&scope=repository%3Aplugins%2Fbehind-auth%3Apull%2Cpush"),
        "{requests:?}"
    );
    // Tokens are cached per repository and access: far fewer token requests than API calls.
    assert!(requests.len() <= 4, "{requests:?}");
}

#[test]
fn fetch_chart_from_an_oci_repository_url() {
    let registry = start();
    OciClient::new()
        .push_chart(&registry.reference("team/charts/redis"), &chart("3.4.5"))
        .expect("push");
    let url = format!("oci://{}/team/charts", registry.address());
    let fetched = capstan_source::fetch_chart(&url, "redis", "~3.4", &Default::default())
        .expect("fetch via oci:// repository url");
    assert_eq!(fetched.version, "3.4.5");
    assert_eq!(fetched.bytes, chart("3.4.5"));
}

#[cfg(feature = "https")]
#[test]
fn tls_registry_with_a_private_ca() {
    use capstan_source::TlsOptions;
    use capstan_source::testing::TestPki;
    let pki = TestPki::generate().expect("generate certificates");
    let registry = Registry::start_tls(&pki).expect("start TLS registry");
    let repo = registry.reference("secure/module").with_tag("v1");
    let module = module_bytes("tls");

    let err = OciClient::new()
        .plain_http(false)
        .push_module(&repo, &module)
        .expect_err("the private CA is not trusted by default");
    assert!(
        matches!(
            &err,
            Error::PushBlob {
                source: HttpError::Send(_),
                ..
            }
        ),
        "{err:?}"
    );

    let trusted = OciClient::new()
        .plain_http(false)
        .with_tls(&TlsOptions {
            ca_pem: Some(pki.ca_pem.clone()),
            ..TlsOptions::default()
        })
        .expect("configure TLS");
    let pushed = trusted.push_module(&repo, &module).expect("push over TLS");
    let pulled = trusted.pull_module(&repo, None).expect("pull over TLS");
    assert_eq!(pulled.bytes, module);
    assert_eq!(pulled.reference.digest, pushed.reference.digest);

    let insecure = OciClient::new()
        .plain_http(false)
        .with_tls(&TlsOptions {
            insecure_skip_verify: true,
            ..TlsOptions::default()
        })
        .expect("configure TLS");
    assert_eq!(
        insecure
            .pull_module(&repo, None)
            .expect("pull without verification")
            .bytes,
        module
    );

    let err = OciClient::new()
        .with_tls(&TlsOptions {
            ca_pem: Some(b"not a certificate".to_vec()),
            ..TlsOptions::default()
        })
        .expect_err("bad PEM");
    assert!(matches!(err, Error::ConfigureTls { .. }), "{err:?}");
}

#[cfg(not(feature = "https"))]
#[test]
fn tls_settings_need_the_https_feature() {
    let err = OciClient::new()
        .with_tls(&capstan_source::TlsOptions::default())
        .expect_err("built without TLS");
    assert!(
        matches!(
            err,
            Error::ConfigureTls {
                source: capstan_source::TlsError::Unsupported,
                ..
            }
        ),
        "{err:?}"
    );
}

/// Distribution 2.8 ignores `n` on tag lists, so pagination is checked against a minimal fake
/// that pages strictly by `n`/`last` and links pages with `Link: <…>; rel="next"`.
#[test]
fn tag_lists_follow_link_pagination() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let all = ["0.1.0", "0.2.0", "1.0.0", "1.1.0", "2.0.0-rc.1"];
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let mut stream = stream.expect("connection");
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            reader.read_line(&mut line).expect("request line");
            while reader
                .read_line(&mut String::new())
                .map(|n| n > 2)
                .unwrap_or(false)
            {}
            let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            log.lock().expect("log").push(target.clone());
            let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
            let param = |name: &str| {
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                    .map(str::to_owned)
            };
            let n: usize = param("n").and_then(|n| n.parse().ok()).unwrap_or(2);
            let start = param("last")
                .and_then(|last| all.iter().position(|t| *t == last).map(|i| i + 1))
                .unwrap_or(0);
            let page: Vec<&str> = all.iter().skip(start).take(n).copied().collect();
            let link = match page.last() {
                Some(last) if start + page.len() < all.len() => {
                    format!("Link: </v2/charts/app/tags/list?n={n}&last={last}>; rel=\"next\"\r\n")
                }
                _ => String::new(),
            };
            let body = serde_json::json!({"name": "charts/app", "tags": page}).to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{link}Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let reference = OciReference::parse(&format!("oci://{address}/charts/app")).expect("ref");
    let tags = OciClient::new()
        .list_tags(&reference)
        .expect("default pages of 2");
    assert_eq!(tags, all);
    let tags = OciClient::new()
        .tag_page_size(4)
        .list_tags(&reference)
        .expect("pages of 4");
    assert_eq!(tags, all);
    let requests = requests.lock().expect("log").clone();
    assert_eq!(
        requests,
        [
            "/v2/charts/app/tags/list",
            "/v2/charts/app/tags/list?n=2&last=0.2.0",
            "/v2/charts/app/tags/list?n=2&last=1.1.0",
            "/v2/charts/app/tags/list?n=4",
            "/v2/charts/app/tags/list?n=4&last=1.1.0",
        ]
    );
}
