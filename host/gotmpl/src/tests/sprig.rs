//! Tests of Sprig functions whose output is random or time-dependent (so not in the oracle),
//! checked for validity instead.

use super::ok;

#[test]
fn bcrypt_and_htpasswd_verify() {
    let h = ok(r#"{{ bcrypt "s3cret" }}"#);
    assert!(h.starts_with("$2a$10$"), "{h}");
    assert!(bcrypt::verify("s3cret", &h).expect("valid hash"));
    let line = ok(r#"{{ htpasswd "user" "pw" }}"#);
    let (user, hash) = line.split_once(':').expect("user:hash");
    assert_eq!(user, "user");
    assert!(bcrypt::verify("pw", hash).expect("valid hash"));
}

#[test]
fn aes_round_trip_with_random_iv() {
    let a = ok(r#"{{ encryptAES "k" "hello world, longer than a block" }}"#);
    let b = ok(r#"{{ encryptAES "k" "hello world, longer than a block" }}"#);
    assert_ne!(a, b, "IV is random");
    assert_eq!(
        ok(&format!(r#"{{{{ decryptAES "k" "{a}" }}}}"#)),
        "hello world, longer than a block"
    );
}

#[test]
fn random_strings_have_requested_shape() {
    let s = ok("{{ randAlphaNum 32 }}");
    assert_eq!(s.len(), 32);
    assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(
        ok("{{ randAlpha 10 }}")
            .bytes()
            .all(|b| b.is_ascii_alphabetic())
    );
    assert!(
        ok("{{ randNumeric 10 }}")
            .bytes()
            .all(|b| b.is_ascii_digit())
    );
    assert!(
        ok("{{ randAscii 50 }}")
            .bytes()
            .all(|b| (32..=126).contains(&b))
    );
    assert_eq!(ok("{{ randBytes 30 | len }}"), "40");
    let u = ok("{{ uuidv4 }}");
    let parts: Vec<&str> = u.split('-').collect();
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert!(parts[2].starts_with('4'));
    assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
    let shuffled = ok(r#"{{ shuffle "abcdef" }}"#);
    let mut chars: Vec<char> = shuffled.chars().collect();
    chars.sort_unstable();
    assert_eq!(chars.into_iter().collect::<String>(), "abcdef");
}

#[test]
fn dates_format_and_modify() {
    assert_eq!(
        ok(r#"{{ date "2006-01-02T15:04:05.000Z07:00 Monday _2 Jan 06 3PM" 1700000000 }}"#),
        "2023-11-14T22:13:20.000Z Tuesday 14 Nov 23 10PM"
    );
    assert_eq!(
        ok(
            r#"{{ toDate "2006-01-02 15:04" "2024-02-29 23:30" | dateModify "1h" | date "Jan 2 15:04" }}"#
        ),
        "Mar 1 00:30"
    );
    assert_eq!(
        ok(r#"{{ toDate "2006-01-02" "1969-12-31" | unixEpoch }}"#),
        "-86400"
    );
    let year = ok(r#"{{ now | date "2006" }}"#);
    assert!(year.parse::<i32>().expect("year") >= 2024);
    assert_eq!(ok(r#"{{ mustToDate "2006-01-02" "2024-13-01" }}"#.replace("mustToDate", "toDate").as_str()), "0001-01-01 00:00:00 +0000 UTC");
    assert_eq!(
        ok(r#"{{ durationRound "2h10m" }} {{ durationRound "90s" }} {{ durationRound "400h" }}"#),
        "2h 1m 16d"
    );
    assert_eq!(
        ok(r#"{{ duration "59" }} {{ duration "3600" }} {{ duration "86461" }}"#),
        "59s 1h0m0s 24h1m1s"
    );
}

#[test]
fn certificates_chain_fields() {
    let out = ok(
        r#"{{ $ca := genCA "root" 10 }}{{ $c := genSignedCert "leaf" (list "127.0.0.1") (list "a.example") 5 $ca }}{{ $c.Cert | b64enc | len | lt 100 }} {{ ne $c.Cert $ca.Cert }}"#,
    );
    assert_eq!(out, "true true");
    let with_key = ok(
        r#"{{ $k := genPrivateKey "rsa" }}{{ $ca := genCAWithKey "root" 10 $k }}{{ eq $ca.Key $k }}"#,
    );
    assert_eq!(with_key, "true");
}

#[test]
fn custom_ca_from_pem_can_sign() {
    let out = ok(
        r#"{{ $ca := genCA "root" 10 }}{{ $custom := buildCustomCert ($ca.Cert | b64enc) ($ca.Key | b64enc) }}{{ $leaf := genSignedCert "leaf" nil (list "x.example") 5 $custom }}{{ hasPrefix "-----BEGIN CERTIFICATE-----" $leaf.Cert }}"#,
    );
    assert_eq!(out, "true");
}
