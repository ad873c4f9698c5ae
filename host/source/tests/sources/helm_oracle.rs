//! The real `helm` binaries as the oracle: `helm repo index` output, `helm pull --version` range
//! resolution (Helm 3.17 = Masterminds v3.3, Helm 4 = v3.4), and OCI interoperability in both
//! directions (`helm push` → our pull, our push → `helm pull`).

use std::path::Path;
use std::process::Command;

use capstan_source::semver::{Compat, select_as};
use capstan_source::testing::{HelmRepoServer, Registry};
use capstan_source::{Digest, IndexFile, OciClient, read_chart_metadata};

use crate::{add_chart, helm_binary, write_index};

/// Run helm with its state confined to `home`; `Ok(stdout)` or `Err(stderr)`.
fn helm(binary: &Path, home: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new(binary)
        .args(args)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("HELM_REGISTRY_CONFIG", home.join("registry.json"))
        .output()
        .expect("run helm");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[test]
fn index_matches_helm_repo_index() {
    let helm3 = helm_binary("helm3");
    let dir = tempfile::tempdir().expect("tempdir");
    let home = tempfile::tempdir().expect("helm home");
    std::fs::create_dir_all(dir.path().join("src")).expect("mkdir");
    helm(
        &helm3,
        home.path(),
        &["create", &dir.path().join("src/mychart").to_string_lossy()],
    )
    .expect("helm create");
    helm(
        &helm3,
        home.path(),
        &[
            "package",
            &dir.path().join("src/mychart").to_string_lossy(),
            "-d",
            &dir.path().join("repo").to_string_lossy(),
        ],
    )
    .expect("helm package");
    let repo = dir.path().join("repo");
    add_chart(&repo, "redis", "16.0.1");
    add_chart(&repo, "redis", "16.13.2");
    std::fs::create_dir(repo.join("nested")).expect("mkdir");
    add_chart(&repo.join("nested"), "nginx", "1.0.0");

    let ours =
        IndexFile::from_directory(&repo, Some("https://charts.example.com/x")).expect("index");
    helm(
        &helm3,
        home.path(),
        &[
            "repo",
            "index",
            &repo.to_string_lossy(),
            "--url",
            "https://charts.example.com/x",
        ],
    )
    .expect("helm repo index");
    let theirs_text = std::fs::read_to_string(repo.join("index.yaml")).expect("helm's index");
    let theirs = IndexFile::parse(&theirs_text).expect("parse helm's index");

    let strip = |index: &IndexFile| {
        let mut value = index.to_value();
        value.as_object_mut().expect("object").remove("generated");
        for versions in value["entries"]
            .as_object_mut()
            .expect("entries")
            .values_mut()
        {
            for v in versions.as_array_mut().expect("list") {
                let created = v.as_object_mut().expect("entry").remove("created");
                assert!(created.is_some_and(|c| c.as_str().is_some_and(|s| s.ends_with('Z'))));
            }
        }
        value
    };
    assert_eq!(strip(&ours), strip(&theirs));

    // helm's packaging is read by ours, and the digests agree.
    let archive = std::fs::read(repo.join("mychart-0.1.0.tgz")).expect("helm's archive");
    let meta = read_chart_metadata(&archive).expect("read helm-packaged chart");
    assert_eq!(
        (meta.name.as_str(), meta.version.as_str()),
        ("mychart", "0.1.0")
    );
    assert_eq!(
        theirs.entries["mychart"][0].digest.as_deref(),
        Some(Digest::of(&archive).hex())
    );
}

const VERSIONS: &[&str] = &[
    "0.0.1",
    "0.0.2",
    "0.1.0",
    "0.2.3",
    "1.0.0",
    "1.1.1",
    "1.2.0",
    "1.2.3",
    "1.2.10",
    "1.3.0-beta.1",
    "1.3.0",
    "1.10.0",
    "2.0.0-rc.1",
    "2.0.0",
    "16.0.1",
    "16.13.2",
    "16.13.3+build.5",
    "17.0.0-rc.1",
];

const RANGES: &[&str] = &[
    "",
    "*",
    "x",
    "1.x",
    "1.2.x",
    "16.x.x",
    "~1.2",
    "~1.2.3",
    "~>1.2.3",
    "~0.0",
    "^1.2",
    "^0.1",
    "^0.0.1",
    "^0.0",
    "^*",
    ">=1.2 <2",
    ">= 1.2, < 2",
    ">=1.3.0-0 <2",
    ">=1.3.0-0",
    "1.1 - 1.2",
    "1.2.3 - 1.3.0-beta.1",
    "<=1.2",
    "<1.3.0",
    ">1.2",
    "!=2.0.0 <3",
    "=1.2",
    "v1.2.3",
    "1.2.3",
    "2.0.0-rc.1",
    ">1.2.3 <1.3 || ^16",
    "<0.1 || >17",
    "18.x",
    "<=1.2.x",
    ">=1.2.x",
    "!=1.x",
    ">1.x",
    "<1.x",
    "~1",
    "~>1",
    "^1.2.3-beta.0",
    "1.2.3-beta.1 - 2",
    "=>1.2",
    "=<1.2",
    ">= 1.2.3 , <= 1.3",
    "x.x.x",
    "1.X",
    "*.*.*",
    "v1.x",
    "^v1.2",
    ">0.0.1 <0.1.0 || 16.0.1",
    "0.x",
    "0.0.x",
    "^0.2.3",
    "!=16.13.3 >=16",
    "16.13.3",
    "16.13.3+build.5",
    ">16.13.2 <17",
    "<2.0.0-rc.2 >=2.0.0-0",
    "2.0.0-rc.1 || 1.2.10",
];

/// Which chart version `helm pull --version RANGE` downloads, `None` when it finds none.
fn helm_pick(binary: &Path, home: &Path, url: &str, range: &str) -> Option<String> {
    let out = tempfile::tempdir().expect("out dir");
    let out_dir = out.path().to_string_lossy().into_owned();
    let mut args = vec!["pull", "redis", "--repo", url, "-d", &out_dir];
    if !range.is_empty() {
        args.extend(["--version", range]);
    }
    match helm(binary, home, &args) {
        Ok(_) => {
            let file = std::fs::read_dir(out.path())
                .expect("list")
                .next()
                .expect("one archive")
                .expect("entry");
            let name = file.file_name().to_string_lossy().into_owned();
            Some(
                name.trim_start_matches("redis-")
                    .trim_end_matches(".tgz")
                    .to_owned(),
            )
        }
        Err(stderr) => {
            assert!(
                stderr.contains("no chart version found") || stderr.contains("not found"),
                "helm failed for {range:?} in an unexpected way: {stderr}"
            );
            None
        }
    }
}

fn compare_resolution(binary: &str, compat: Compat) {
    let helm = helm_binary(binary);
    let dir = tempfile::tempdir().expect("tempdir");
    for version in VERSIONS {
        add_chart(dir.path(), "redis", version);
    }
    write_index(dir.path(), None);
    let server = HelmRepoServer::serve(dir.path()).expect("serve");
    let home = tempfile::tempdir().expect("helm home");
    let mut mismatches = Vec::new();
    let mut resolved = 0;
    for range in RANGES {
        let theirs = helm_pick(&helm, home.path(), &server.url(), range);
        resolved += usize::from(theirs.is_some());
        if *range == ">=1.3.0-0 <2" {
            // The one place Helm 3 and Helm 4 differ on this data.
            let want = match compat {
                Compat::Helm4 => "2.0.0-rc.1",
                Compat::Helm3 => "1.10.0",
            };
            assert_eq!(theirs.as_deref(), Some(want), "{binary} on {range:?}");
        }
        let ours = select_as(range, VERSIONS.iter().copied(), compat)
            .expect("range parses")
            .map(str::to_owned);
        if ours != theirs {
            mismatches.push(format!("{range:?}: helm {theirs:?}, capstan {ours:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{binary} disagrees:\n{}",
        mismatches.join("\n")
    );
    assert!(
        resolved >= RANGES.len() - 3,
        "helm resolved only {resolved} ranges"
    );
}

#[test]
fn resolution_matches_helm3() {
    compare_resolution("helm3", Compat::Helm3);
}

#[test]
fn resolution_matches_helm4() {
    compare_resolution("helm4", Compat::Helm4);
}

#[test]
fn oci_layout_interoperates_with_helm3() {
    oci_interop("helm3");
}

#[test]
fn oci_layout_interoperates_with_helm4() {
    oci_interop("helm4");
}

/// `helm push` → capstan pull, and capstan push → `helm pull`, on one registry.
fn oci_interop(binary: &str) {
    let helm_bin = helm_binary(binary);
    let registry = Registry::start().expect("start docker-registry");
    let home = tempfile::tempdir().expect("helm home");
    let dir = tempfile::tempdir().expect("tempdir");
    let client = OciClient::new();

    let by_helm = add_chart(dir.path(), "pushed-by-helm", "1.2.3+meta");
    let base = format!("oci://{}/charts", registry.address());
    let archive = dir.path().join("pushed-by-helm-1.2.3+meta.tgz");
    helm(
        &helm_bin,
        home.path(),
        &["push", &archive.to_string_lossy(), &base, "--plain-http"],
    )
    .expect("helm push");
    let reference = registry.reference("charts/pushed-by-helm");
    let tags = client.list_tags(&reference).expect("tags");
    assert_eq!(tags, ["1.2.3_meta"], "helm writes + as _ in tags");
    let pulled = client
        .pull_chart(&reference, "^1.2", None)
        .expect("pull helm's chart");
    assert_eq!(pulled.version, "1.2.3+meta");
    assert_eq!(pulled.bytes, by_helm);

    let ours = add_chart(dir.path(), "pushed-by-capstan", "0.4.0+b7");
    client
        .push_chart(&registry.reference("charts/pushed-by-capstan"), &ours)
        .expect("push chart");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    helm(
        &helm_bin,
        home.path(),
        &[
            "pull",
            &format!("{base}/pushed-by-capstan"),
            "--version",
            "~0.4",
            "--plain-http",
            "-d",
            &out.to_string_lossy(),
        ],
    )
    .expect("helm pull");
    let got = std::fs::read(out.join("pushed-by-capstan-0.4.0+b7.tgz")).expect("helm's download");
    assert_eq!(got, ours);
    let shown = helm(
        &helm_bin,
        home.path(),
        &[
            "show",
            "chart",
            &format!("{base}/pushed-by-capstan"),
            "--version",
            "0.4.0+b7",
            "--plain-http",
        ],
    )
    .expect("helm show chart");
    assert!(shown.contains("name: pushed-by-capstan"), "{shown}");
}
