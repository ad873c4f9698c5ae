//! Tables of (range, version, expected) worked out from Masterminds/semver v3.4's rules.

use super::*;

fn v(text: &str) -> Version {
    Version::parse(text).expect("test version parses")
}

fn check(range: &str, version: &str) -> bool {
    Constraints::parse(range)
        .unwrap_or_else(|e| panic!("range {range:?} should parse: {e}"))
        .matches(&v(version))
}

fn assert_table(table: &[(&str, &str, bool)]) {
    let mut failures = Vec::new();
    for (range, version, want) in table {
        let got = check(range, version);
        if got != *want {
            failures.push(format!("{range:?} vs {version:?}: got {got}, want {want}"));
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

#[test]
fn parses_loose_versions() {
    let cases = [
        ("1.2.3", (1, 2, 3, "", "")),
        ("v1.2.3", (1, 2, 3, "", "")),
        ("1.2", (1, 2, 0, "", "")),
        ("1", (1, 0, 0, "", "")),
        ("v2", (2, 0, 0, "", "")),
        ("1.2.3-beta.1+build.7", (1, 2, 3, "beta.1", "build.7")),
        ("1.2-rc1", (1, 2, 0, "rc1", "")),
        ("1.0.0+001", (1, 0, 0, "", "001")),
        ("01.02.03", (1, 2, 3, "", "")),
        ("1.2.3-0", (1, 2, 3, "0", "")),
        ("1.2.3-x-y-z.--", (1, 2, 3, "x-y-z.--", "")),
    ];
    for (text, (major, minor, patch, pre, meta)) in cases {
        let parsed = v(text);
        assert_eq!(
            (
                parsed.major(),
                parsed.minor(),
                parsed.patch(),
                parsed.prerelease(),
                parsed.metadata()
            ),
            (major, minor, patch, pre, meta),
            "{text}"
        );
        assert_eq!(parsed.original(), text);
    }
    assert_eq!(v("v1.2").to_string(), "1.2.0");
    assert_eq!(v("1.2.3-a+b").to_string(), "1.2.3-a+b");
}

#[test]
fn rejects_bad_versions() {
    for text in [
        "",
        "v",
        "V1.2.3",
        "1.2.3.4",
        "1.2.3-",
        "1.2.3+",
        "1.2.3-01",
        "1.2.3-a..b",
        "1.2.3-a_b",
        "a.b.c",
        "1.2.",
        " 1.2.3",
        "1.2.3 ",
        "99999999999999999999.0.0",
        "1.x",
        "latest",
    ] {
        assert!(Version::parse(text).is_err(), "{text:?} should be rejected");
    }
}

#[test]
fn orders_by_semver_precedence() {
    let ascending = [
        "0.0.1",
        "1.0.0-0",
        "1.0.0-2",
        "1.0.0-10",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.2.0",
        "1.10.0",
        "2.0.0",
    ];
    for pair in ascending.windows(2) {
        assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
    }
    assert_eq!(v("1.0.0+a"), v("1.0.0+b"), "metadata is ignored");
    assert_eq!(v("v1.2"), v("1.2.0"));
}

#[test]
fn wildcards_and_equality() {
    assert_table(&[
        ("*", "1.2.3", true),
        ("*", "0.0.0", true),
        ("*", "1.2.3-beta", false),
        ("x", "7.0.0", true),
        ("~0.0.0", "1.2.3", true),
        ("0.x.x", "1.2.3", false),
        ("0.x.x", "0.9.9", true),
        ("0.0.x", "1.2.3", false),
        ("0.0.x", "0.0.7", true),
        ("0.0.0", "1.2.3", false),
        ("= 2.0", "1.2.3", false),
        ("= 2.0", "2.0.0", true),
        ("=2.0.0", "2.0.0+meta", true),
        ("4.1", "4.1.0", true),
        ("4.1", "4.1.1", true),
        ("4.1", "4.2.0", false),
        ("4.1.x", "4.1.3", true),
        ("4.1.X", "4.1.3", true),
        ("4.1.*", "4.1.3", true),
        ("1.x", "1.4.0", true),
        ("1.x", "2.0.0", false),
        ("16.x.x", "16.12.3", true),
        ("16.x.x", "17.0.0", false),
        ("16.x.x", "15.9.9", false),
        ("16.x.x", "16.1.0-rc.1", false),
        ("v1.2.3", "1.2.3", true),
        ("1.2.3", "1.2.4", false),
        ("1.2.3-beta", "1.2.3-beta", true),
        ("1.2.3-beta", "1.2.3", false),
    ]);
}

#[test]
fn comparison_operators() {
    assert_table(&[
        ("!=4.1", "4.1.0", false),
        ("!=4.1", "4.1.5", false),
        ("!=4.1", "4.2.0", true),
        ("!=4.1.0", "4.1.5", true),
        ("!=4.1-alpha", "4.1.0", true),
        ("!=4.1", "5.1.0-alpha.1", false),
        ("!=4.x", "5.1.0", true),
        ("!=4.x", "4.1.0", false),
        ("!=4.1.x", "4.2.0", true),
        ("!=4.2.x", "4.2.3", false),
        (">1.1", "4.1.0", true),
        (">1.1", "1.1.0", false),
        (">1.1", "1.1.9", false),
        (">1.1", "1.2.0", true),
        (">1", "1.9.9", false),
        (">1", "2.0.0", true),
        (">1.1.0", "1.1.1", true),
        ("<1.1", "0.1.0", true),
        ("<1.1", "1.1.0", false),
        ("<1.1", "1.1.1", false),
        ("<1.x", "1.1.1", false),
        ("<1.x", "0.1.1", true),
        ("<1.x", "2.0.0", false),
        ("<1.1.x", "1.2.1", false),
        ("<1.1.x", "1.1.500", false),
        ("<1.1.x", "1.0.500", true),
        ("<1.2.x", "1.1.1", true),
        (">=1.1", "4.1.0", true),
        (">=1.1", "1.1.0", true),
        (">=1.1", "0.0.9", false),
        ("=>1.1", "1.1.0", true),
        ("<=1.1", "0.1.0", true),
        ("<=1.1", "0.1.0-alpha", false),
        ("<=1.1-a", "0.1.0-alpha", true),
        ("<=1.1", "1.1.0", true),
        ("<=1.x", "1.1.0", true),
        ("<=2.x", "3.0.0", false),
        ("<=1.1", "1.1.1", true),
        ("<=1.1.x", "1.2.500", false),
        ("=<1.1.0", "1.1.1", false),
        ("<=4.5", "3.4.0", true),
        ("<=4.5", "3.7.0", true),
        ("<=4.5", "4.6.3", false),
        ("<= 4.5.2", "4.5.2", true),
    ]);
}

#[test]
fn and_or_and_hyphen_ranges() {
    assert_table(&[
        (">1.1, <2", "1.1.1", false),
        (">1.1, <2", "1.2.1", true),
        (">1.1, <3", "4.3.2", false),
        (">=1.2 <2", "1.2.0", true),
        (">=1.2 <2", "1.99.0", true),
        (">=1.2 <2", "2.0.0", false),
        (">=1.2 <2", "1.1.9", false),
        (">= 1.2, < 2", "1.5.0", true),
        (">= 1.2 , < 2", "2.0.0", false),
        (">=1.2,<2", "1.3.0", true),
        (">=1.1, <2, !=1.2.3", "1.2.3", false),
        (">=1.1, <2, !=1.2.3 || > 3", "4.1.2", true),
        (">=1.1, <2, !=1.2.3 || > 3", "3.1.2", false),
        (">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", true),
        (">=1.1, <2, !=1.2.3 || > 3", "3.0.0", false),
        (">=1.1, <2, !=1.2.3 || > 3", "1.2.3", false),
        ("1.0.0 || 2.0.0", "2.0.0", true),
        ("1.0.0||2.0.0", "1.0.0", true),
        ("1.0.0 || 2.0.0", "1.5.0", false),
        ("1.1 - 2", "1.1.1", true),
        ("1.1 - 2", "2.9.9", true),
        ("1.1 - 2", "3.0.0", false),
        ("1.2 - 1.4", "1.4.7", true),
        ("1.2 - 1.4", "1.5.0", false),
        ("1.2 - 1.4", "1.1.9", false),
        ("1.2.3 - 1.4.5", "1.4.5", true),
        ("1.2.3 - 1.4.5", "1.4.6", false),
        ("1.5.0 - 4.5", "3.7.0", true),
        ("1.1 - 3", "4.3.2", false),
        (">1 1.2 - 1.4", "1.3.0", false),
        (">=1 1.2 - 1.4", "1.3.0", true),
        ("1 - 2 || 5 - 6", "5.5.5", true),
        ("1 - 2 || 5 - 6", "3.0.0", false),
    ]);
}

#[test]
fn tilde_and_caret() {
    assert_table(&[
        ("~*", "2.1.1", true),
        ("~1", "2.1.1", false),
        ("~1", "1.3.5", true),
        ("~1", "1.4.0", true),
        ("~1.x", "2.1.1", false),
        ("~1.x", "1.3.5", true),
        ("~1.1", "1.1.1", true),
        ("~1.1", "1.2.0", false),
        ("~1.1", "1.1.1-alpha", false),
        ("~1.1-alpha", "1.1.1-beta", true),
        ("~1.1.1-beta", "1.1.1-alpha", false),
        ("~1.1.1-beta", "1.1.1", true),
        ("~1.2.3", "1.2.5", true),
        ("~1.2.3", "1.2.2", false),
        ("~1.2.3", "1.3.2", false),
        ("~>1.2.3", "1.2.9", true),
        ("~1.3", "2.4.5", false),
        ("~0.0", "0.0.9", true),
        ("~0.0", "0.1.0", false),
        ("^1.1", "1.1.1", true),
        ("^1.2", "1.99.0", true),
        ("^1.2", "2.0.0", false),
        ("^1.2", "1.1.0", false),
        ("^1.1", "1.1.1-alpha", false),
        ("^1.1.1-alpha", "1.1.1-beta", true),
        ("^1.1.1-beta", "1.1.1-alpha", false),
        ("^1.1", "4.3.2", false),
        ("^1.x", "1.1.1", true),
        ("^2.x", "1.1.1", false),
        ("^1.x", "2.1.1", false),
        ("^1.x", "1.1.1-beta1", false),
        ("^1.1.2-alpha", "1.2.1-beta1", true),
        ("^1.2.x-alpha", "1.1.1-beta1", false),
        ("^0.0.1", "0.0.1", true),
        ("^0.0.1", "0.0.2", false),
        ("^0.0.1", "0.3.1", false),
        ("^0.2.3", "0.2.9", true),
        ("^0.2.3", "0.3.0", false),
        ("^0.2", "0.2.0", true),
        ("^0.2", "0.3.0", false),
        ("^0.0", "0.0.7", true),
        ("^0.0", "0.1.0", false),
        ("^0", "0.9.9", true),
        ("^0", "1.0.0", false),
        ("^0.x", "0.9.0", true),
        // Masterminds quirk: `^*` is 0.0.0 with only a major wildcard, which the caret rules
        // for a 0.0.z constraint narrow to exactly 0.0.0.
        ("^*", "0.0.0", true),
        ("^*", "0.5.0", false),
        ("^*", "1.0.0", false),
    ]);
}

#[test]
fn prereleases_only_when_the_and_group_asks() {
    assert_table(&[
        (">=1.0.0-0 <2", "1.5.0-beta", true),
        // `<2` is `< 2.0.0`, and a 2.0.0 prerelease sorts below 2.0.0.
        (">=1.0.0-0, <2", "2.0.0-beta", true),
        (">=1.0.0-0, <2", "2.0.0", false),
        (">=1.0.0 <2", "1.5.0-beta", false),
        ("<2 || >=1.0.0-0", "1.5.0-beta", true),
        ("<2 || >=3.0.0-0", "1.5.0-beta", false),
        ("*-0", "1.5.0-beta", true),
        (">=0.0.0-0", "3.0.0-rc.1", true),
        ("1.x-0", "1.5.0-rc.1", true),
        ("1.x-0", "2.0.0-rc.1", false),
    ]);
}

#[test]
fn rejects_bad_ranges() {
    for text in [
        "",
        " ",
        "1.2 ||",
        "|| 1.2",
        ">>1",
        ">1<2",
        "1.2.3.4",
        "1,,2",
        "latest",
        "1.2x",
        "1|2",
        ">=1.2 - 1.4",
        "1 -2",
        "01.2.3-01",
        "=",
    ] {
        assert!(
            Constraints::parse(text).is_err(),
            "{text:?} should be rejected"
        );
    }
}

#[test]
fn select_picks_like_helm() {
    let versions = [
        "17.0.0-rc.1",
        "16.13.2",
        "16.0.1",
        "16.13.10",
        "15.7.6",
        "v16.2.0",
        "not-a-version",
    ];
    let pick = |range: &str| select(range, versions.iter().copied()).expect("range parses");
    assert_eq!(pick(""), Some("16.13.10"), "empty = latest stable");
    assert_eq!(pick("*"), Some("16.13.10"));
    assert_eq!(pick("16.x.x"), Some("16.13.10"));
    assert_eq!(pick("~16.2"), Some("v16.2.0"));
    assert_eq!(pick(">=15 <16"), Some("15.7.6"));
    assert_eq!(pick("^15.0.0 || ^16.0.0"), Some("16.13.10"));
    assert_eq!(pick(">=16.0.0-0"), Some("17.0.0-rc.1"));
    assert_eq!(pick("17.0.0-rc.1"), Some("17.0.0-rc.1"), "exact pin");
    assert_eq!(pick("not-a-version"), Some("not-a-version"), "exact tag");
    assert_eq!(pick("18.x"), None);
    assert_eq!(pick(" 16.0.1 "), Some("16.0.1"));
    assert!(select("bogus range", versions.iter().copied()).is_err());
}

#[test]
fn sorts_descending_like_helm_index() {
    let mut versions: Vec<String> = ["1.0.0", "junk", "2.0.0-rc.1", "2.0.0", "1.10.0", "1.9.0"]
        .into_iter()
        .map(String::from)
        .collect();
    sort_descending(&mut versions);
    assert_eq!(
        versions,
        ["2.0.0", "2.0.0-rc.1", "1.10.0", "1.9.0", "1.0.0", "junk"]
    );
}

#[test]
fn helm3_prerelease_rule_is_per_comparison() {
    let cases = [
        (">=1.0.0-0 <2", "1.5.0-beta", true, false),
        (">=1.0.0-0", "1.5.0-beta", true, true),
        ("^1.1.1-alpha", "1.1.1-beta", true, true),
        ("<2 || >=1.0.0-0", "1.5.0-beta", true, true),
        (">=1.0.0 <2", "1.5.0-beta", false, false),
        // v3.3 compares a plain `!=` by equality alone; v3.4 applies the group's rule.
        ("!=1.0.0", "1.1.0-beta", false, true),
        ("!=1.0.x", "1.1.0-beta", false, false),
    ];
    for (range, version, helm4, helm3) in cases {
        let constraints = Constraints::parse(range).expect("range parses");
        assert_eq!(
            constraints.matches_as(&v(version), Compat::Helm4),
            helm4,
            "{range} {version} helm4"
        );
        assert_eq!(
            constraints.matches_as(&v(version), Compat::Helm3),
            helm3,
            "{range} {version} helm3"
        );
    }
    let candidates = ["1.5.0-beta", "1.4.0", "2.0.0"];
    assert_eq!(
        select_as(">=1.0.0-0 <2", candidates, Compat::Helm4).expect("parses"),
        Some("1.5.0-beta")
    );
    assert_eq!(
        select_as(">=1.0.0-0 <2", candidates, Compat::Helm3).expect("parses"),
        Some("1.4.0")
    );
}

#[test]
fn masterminds_messages_in_each_release() {
    let message = |text: &str, compat| {
        Version::parse(text)
            .expect_err("invalid")
            .masterminds_message(compat)
    };
    assert_eq!(message("abc", Compat::Helm3), "Invalid Semantic Version");
    assert_eq!(message("1.2.3-", Compat::Helm4), "invalid semantic version");
    assert_eq!(
        message("1.2.3-01", Compat::Helm3),
        "Version segment starts with 0"
    );
    assert_eq!(
        message("1.2.3-01", Compat::Helm4),
        "version segment starts with 0"
    );
    assert_eq!(
        message("99999999999999999999-01", Compat::Helm3),
        "Error parsing version segment: strconv.ParseUint: parsing \"99999999999999999999\": value out of range"
    );
    let improper = Constraints::parse(">1 || ")
        .expect_err("empty alternative")
        .masterminds_message(Compat::Helm4);
    assert_eq!(improper, "improper constraint:  ");
}

#[test]
fn compatible_range_is_false_on_anything_unparsable() {
    assert!(is_compatible_range(">=1.19.0-0", "v1.32.0", Compat::Helm3));
    assert!(!is_compatible_range(
        ">=1.19.0 <2",
        "v1.30.0-gke.100",
        Compat::Helm4
    ));
    assert!(is_compatible_range(
        ">=1.19.0-0 <2",
        "v1.30.0-gke.100",
        Compat::Helm4
    ));
    assert!(!is_compatible_range(
        ">=1.19.0-0 <2",
        "v1.30.0-gke.100",
        Compat::Helm3
    ));
    assert!(!is_compatible_range("nonsense", "1.0.0", Compat::Helm4));
    assert!(!is_compatible_range("*", "not-a-version", Compat::Helm4));
}
