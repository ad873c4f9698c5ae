//! The HTTP Helm repository client against the test server.

use capstan_source::testing::HelmRepoServer;
use capstan_source::{Cache, Credentials, Digest, Error, HelmRepository, HttpError};

use crate::{add_chart, write_index};

#[test]
fn pulls_a_chart_by_range_and_caches_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_chart(dir.path(), "redis", "16.0.1");
    let want = add_chart(dir.path(), "redis", "16.13.2");
    add_chart(dir.path(), "redis", "17.0.0-rc.1");
    add_chart(dir.path(), "nginx", "1.0.0");
    write_index(dir.path(), None);
    let server = HelmRepoServer::serve(dir.path()).expect("serve");
    let cache_dir = tempfile::tempdir().expect("cache dir");
    let cache = Cache::new(cache_dir.path());
    let repo = HelmRepository::new(server.url());

    let chart = repo
        .fetch_chart("redis", "16.x.x", Some(&cache))
        .expect("fetch redis 16.x.x");
    assert_eq!(chart.name, "redis");
    assert_eq!(chart.version, "16.13.2");
    assert_eq!(chart.bytes, want);
    assert_eq!(chart.digest, Digest::of(&want));
    assert_eq!(
        chart.location,
        format!("{}/redis-16.13.2.tgz", server.url())
    );
    assert!(!chart.cached);
    assert!(
        cache_dir
            .path()
            .join(format!("charts/sha256/{}.tgz", chart.digest.hex()))
            .is_file()
    );

    let again = repo
        .fetch_chart("redis", ">=16.1 <17", Some(&cache))
        .expect("fetch again");
    assert!(again.cached, "second fetch comes from the cache");
    assert_eq!(again.bytes, want);
    let downloads = server
        .requests()
        .iter()
        .filter(|r| r.ends_with(".tgz"))
        .count();
    assert_eq!(
        downloads,
        1,
        "archive downloaded once: {:?}",
        server.requests()
    );

    let latest = repo.fetch_chart("redis", "", None).expect("latest stable");
    assert_eq!(latest.version, "16.13.2");
    let pre = repo
        .fetch_chart("redis", ">=17.0.0-0", None)
        .expect("prerelease range");
    assert_eq!(pre.version, "17.0.0-rc.1");
}

#[test]
fn absolute_urls_from_a_base_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = HelmRepoServer::serve(dir.path()).expect("serve");
    std::fs::create_dir(dir.path().join("archive")).expect("mkdir");
    let want = add_chart(&dir.path().join("archive"), "app", "0.1.0");
    let index = write_index(dir.path(), Some(&format!("{}/", server.url())));
    assert_eq!(
        index.entries["app"][0].urls,
        [format!("{}/archive/app-0.1.0.tgz", server.url())]
    );
    let chart = HelmRepository::new(server.url())
        .fetch_chart("app", "0.1.0", None)
        .expect("fetch");
    assert_eq!(chart.bytes, want);
}

#[test]
fn version_not_found_names_repository_chart_and_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_chart(dir.path(), "redis", "16.0.1");
    add_chart(dir.path(), "redis", "15.7.6");
    write_index(dir.path(), None);
    let server = HelmRepoServer::serve(dir.path()).expect("serve");
    let repo = HelmRepository::new(server.url());
    let err = repo
        .fetch_chart("redis", "18.x.x", None)
        .expect_err("no 18.x");
    assert_eq!(
        err.to_string(),
        format!(
            "chart \"redis\" version \"18.x.x\" not found in {}; available: 16.0.1, 15.7.6",
            server.url()
        )
    );
    let err = repo
        .fetch_chart("postgres", "", None)
        .expect_err("no chart");
    assert_eq!(
        err.to_string(),
        format!(
            "chart \"postgres\" not found in {}; charts: redis",
            server.url()
        )
    );
    let err = repo
        .fetch_chart("redis", "=>>1", None)
        .expect_err("bad range");
    assert!(matches!(err, Error::ParseRange { .. }), "{err:?}");
}

#[test]
fn digest_mismatch_is_an_error_and_not_cached() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_chart(dir.path(), "redis", "16.0.1");
    write_index(dir.path(), None);
    // Replace the archive after indexing: the index's digest no longer matches.
    let tampered = capstan_source::package_simple_chart("redis", "16.0.1", "evil: true\n", &[])
        .expect("package");
    std::fs::write(dir.path().join("redis-16.0.1.tgz"), &tampered).expect("tamper");
    let server = HelmRepoServer::serve(dir.path()).expect("serve");
    let cache_dir = tempfile::tempdir().expect("cache dir");
    let cache = Cache::new(cache_dir.path());
    let err = HelmRepository::new(server.url())
        .fetch_chart("redis", "16.0.1", Some(&cache))
        .expect_err("digest mismatch");
    match &err {
        Error::VerifyDigest {
            location, actual, ..
        } => {
            assert_eq!(location, &format!("{}/redis-16.0.1.tgz", server.url()));
            assert_eq!(actual, &Digest::of(&tampered));
        }
        other => panic!("expected VerifyDigest, got {other:?}"),
    }
    assert!(err.to_string().starts_with(
        "digest mismatch for chart \"redis\" version \"16.0.1\" from http://127.0.0.1:"
    ));
    assert!(
        !cache_dir.path().join("charts").exists(),
        "nothing cached on mismatch"
    );
}

#[test]
fn missing_archive_and_missing_index_are_http_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    add_chart(dir.path(), "redis", "16.0.1");
    write_index(dir.path(), None);
    std::fs::remove_file(dir.path().join("redis-16.0.1.tgz")).expect("remove");
    let server = HelmRepoServer::serve(dir.path()).expect("serve");
    let err = HelmRepository::new(server.url())
        .fetch_chart("redis", "", None)
        .expect_err("404 archive");
    assert!(
        matches!(
            &err,
            Error::DownloadChart {
                source: HttpError::Status { status: 404, .. },
                ..
            }
        ),
        "{err:?}"
    );
    let err = HelmRepository::new(format!("{}/nowhere", server.url()))
        .fetch_index()
        .expect_err("404 index");
    assert!(
        matches!(&err, Error::FetchIndex { url, source: HttpError::Status { status: 404, .. } } if url.ends_with("/nowhere/index.yaml")),
        "{err:?}"
    );
}

#[test]
fn basic_auth_repository() {
    let dir = tempfile::tempdir().expect("tempdir");
    let want = add_chart(dir.path(), "private", "1.2.3");
    write_index(dir.path(), None);
    let credentials = Credentials::new("alice", "s3cret");
    let server =
        HelmRepoServer::serve_with_basic_auth(dir.path(), credentials.clone()).expect("serve");
    let err = HelmRepository::new(server.url())
        .fetch_chart("private", "", None)
        .expect_err("anonymous is refused");
    assert!(
        matches!(
            &err,
            Error::FetchIndex {
                source: HttpError::Status { status: 401, .. },
                ..
            }
        ),
        "{err:?}"
    );
    let chart = HelmRepository::new(server.url())
        .with_credentials(credentials)
        .fetch_chart("private", "^1", None)
        .expect("authenticated fetch");
    assert_eq!(chart.bytes, want);
}

#[test]
fn fetch_url_verifies_and_caches() {
    use capstan_source::{ArtifactKind, fetch_url};
    let dir = tempfile::tempdir().expect("tempdir");
    let module = b"\0asm\x01\0\0\0".to_vec();
    std::fs::write(dir.path().join("plugin.wasm"), &module).expect("write module");
    let server = HelmRepoServer::serve(dir.path()).expect("serve");
    let url = format!("{}/plugin.wasm", server.url());
    let expected = Digest::of(&module);
    let cache_dir = tempfile::tempdir().expect("cache dir");
    let cache = Cache::new(cache_dir.path());

    let err = fetch_url(
        &url,
        Some(&Digest::of(b"x")),
        ArtifactKind::Module,
        Some(&cache),
        None,
    )
    .expect_err("mismatch");
    assert!(matches!(err, Error::VerifyDigest { .. }), "{err:?}");
    let first = fetch_url(
        &url,
        Some(&expected),
        ArtifactKind::Module,
        Some(&cache),
        None,
    )
    .expect("download");
    assert!(!first.cached);
    assert_eq!(first.bytes, module);
    let second = fetch_url(
        &url,
        Some(&expected),
        ArtifactKind::Module,
        Some(&cache),
        None,
    )
    .expect("cached");
    assert!(second.cached);
    let downloads = server
        .requests()
        .iter()
        .filter(|r| r.ends_with(".wasm"))
        .count();
    assert_eq!(
        downloads, 2,
        "mismatch + first download; the third came from the cache"
    );
    let err = fetch_url(
        &format!("{}/missing.wasm", server.url()),
        None,
        ArtifactKind::Module,
        None,
        None,
    )
    .expect_err("404");
    assert!(
        matches!(
            &err,
            Error::Download {
                source: HttpError::Status { status: 404, .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn fetch_chart_dispatches_on_the_url_scheme() {
    use capstan_source::{FetchOptions, fetch_chart};
    let dir = tempfile::tempdir().expect("tempdir");
    let want = add_chart(dir.path(), "web", "2.1.0");
    add_chart(dir.path(), "web", "2.0.0");
    write_index(dir.path(), None);
    let server = HelmRepoServer::serve(dir.path()).expect("serve");
    let cache_dir = tempfile::tempdir().expect("cache dir");
    let options = FetchOptions {
        cache: Some(Cache::new(cache_dir.path())),
        ..FetchOptions::default()
    };
    let fetched = fetch_chart(&format!("{}/", server.url()), "web", "*", &options).expect("http");
    assert_eq!(fetched.version, "2.1.0");
    assert_eq!(fetched.bytes, want);
    let local = dir.path().join("web-2.0.0.tgz");
    let fetched = fetch_chart(&local.to_string_lossy(), "web", "", &options).expect("local");
    assert_eq!(fetched.version, "2.0.0");
}
