//! Go's own outputs for `strconv.FormatFloat` and `json.Marshal` of float64 values.

use super::{format_float, format_float32, format_json_float};

#[test]
fn float_shortest_formats_like_strconv() {
    let cases = [
        (0.0, 'g', "0"),
        (-0.0, 'g', "-0"),
        (1e6, 'g', "1e+06"),
        (123456.0, 'g', "123456"),
        (1e-5, 'g', "1e-05"),
        (0.0001, 'g', "0.0001"),
        (1.5, 'e', "1.5e+00"),
        (100.0, 'f', "100"),
        (f64::INFINITY, 'g', "+Inf"),
        (f64::NAN, 'g', "NaN"),
    ];
    for (f, verb, want) in cases {
        assert_eq!(format_float(f, verb, -1), want, "{f} {verb}");
    }
    assert_eq!(format_float(2.5, 'f', 0), "2");
    assert_eq!(format_float(3.5, 'f', 0), "4");
    assert_eq!(format_float(1234.5678, 'e', 2), "1.23e+03");
    assert_eq!(format_float(0.000123, 'g', 2), "0.00012");
}

#[test]
fn binary_and_hex_verbs() {
    assert_eq!(format_float(1.0, 'b', -1), "4503599627370496p-52");
    assert_eq!(format_float(1.0, 'x', -1), "0x1p+00");
    assert_eq!(format_float(3.0, 'X', -1), "0X1.8P+01");
    assert_eq!(format_float(1.0, 'x', 2), "0x1.00p+00");
    assert_eq!(format_float(f64::NAN, 'b', -1), "NaN");
    assert_eq!(format_float(f64::NEG_INFINITY, 'x', -1), "-Inf");
}

#[test]
fn float32_keeps_float32_digits() {
    // FormatFloat(x, 'g', -1, 32), as sigs.k8s.io/yaml writes float map keys.
    assert_eq!(format_float32(0.1, 'g', -1), "0.1");
    assert_eq!(
        format_float(f64::from(0.1_f32), 'g', -1),
        "0.10000000149011612"
    );
    assert_eq!(format_float32(1e21, 'g', -1), "1e+21");
    assert_eq!(format_float32(16_777_217.0, 'g', -1), "1.6777216e+07");
    assert_eq!(format_float32(f32::NEG_INFINITY, 'g', -1), "-Inf");
    assert_eq!(format_float32(1.5, 'f', 2), "1.50");
}

#[test]
fn json_floats_match_encoding_json() {
    let json = |f: f64| format_json_float(f).unwrap_or_default();
    assert_eq!(json(1e21), "1e+21");
    assert_eq!(json(1e20), "100000000000000000000");
    assert_eq!(json(1e-7), "1e-7");
    assert_eq!(json(0.000001), "0.000001");
    assert_eq!(json(-2.5), "-2.5");
    assert_eq!(format_json_float(f64::NAN), None);
}
