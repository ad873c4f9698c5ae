//! Sprig's encodings and checksums: base64/base32 (Go's std encodings, padded), SHA-1/256/512
//! hex digests and Adler-32.

use super::Reg;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Go's `base64.StdEncoding.EncodeToString` (the `base64` crate's padded standard alphabet).
pub fn b64_encode(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Go's `base64.StdEncoding.DecodeString`, with Go's error text.
pub(crate) fn b64_decode(s: &str) -> Result<Vec<u8>, String> {
    let bytes: Vec<u8> = s.bytes().filter(|&b| b != b'\n' && b != b'\r').collect();
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let err = |i: usize| format!("illegal base64 data at input byte {i}");
    if !bytes.len().is_multiple_of(4) {
        let at = bytes.len() - bytes.len() % 4;
        // Go reports the first bad byte; an incomplete final quantum reports its start.
        for (i, &b) in bytes.iter().enumerate().take(at) {
            if b != b'=' && !B64.contains(&b) {
                return Err(err(i));
            }
        }
        return Err(err(at));
    }
    for (q, quad) in bytes.chunks(4).enumerate() {
        let mut n = 0u32;
        let mut pad = 0;
        for (j, &c) in quad.iter().enumerate() {
            let v = if c == b'=' {
                if j < 2 || q * 4 + 4 != bytes.len() {
                    return Err(err(q * 4 + j));
                }
                pad += 1;
                0
            } else {
                if pad > 0 {
                    return Err(err(q * 4 + j));
                }
                match B64.iter().position(|&x| x == c) {
                    Some(p) => p as u32,
                    None => return Err(err(q * 4 + j)),
                }
            };
            n = (n << 6) | v;
        }
        let b = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&b[..3 - pad]);
    }
    Ok(out)
}

fn b32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = buf.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                out.push(char::from(B32[((n >> (35 - 5 * i)) & 31) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b32_decode(s: &str) -> Result<Vec<u8>, String> {
    let bytes: Vec<u8> = s.bytes().filter(|&b| b != b'\n' && b != b'\r').collect();
    let err = |i: usize| format!("illegal base32 data at input byte {i}");
    if !bytes.len().is_multiple_of(8) {
        return Err(err(bytes.len() - bytes.len() % 8));
    }
    let mut out = Vec::new();
    for (q, oct) in bytes.chunks(8).enumerate() {
        let mut n = 0u64;
        let mut data_chars = 8;
        for (j, &c) in oct.iter().enumerate() {
            let v = if c == b'=' {
                if data_chars == 8 {
                    data_chars = j;
                }
                0
            } else {
                if data_chars != 8 {
                    return Err(err(q * 8 + j));
                }
                match B32.iter().position(|&x| x == c) {
                    Some(p) => p as u64,
                    None => return Err(err(q * 8 + j)),
                }
            };
            n = (n << 5) | v;
        }
        let nbytes = match data_chars {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => return Err(err(q * 8 + data_chars)),
        };
        let b = n.to_be_bytes();
        out.extend_from_slice(&b[3..3 + nbytes]);
    }
    Ok(out)
}

/// A `func(string) string` that works on the string's exact bytes.
fn bytes_fn(r: &mut Reg<'_>, name: &str, f: impl Fn(&[u8]) -> String + Send + Sync + 'static) {
    r.f(name, &[crate::func::Ty::String], move |a| {
        let b = a
            .first()
            .and_then(crate::value::Value::as_bytes)
            .unwrap_or_default();
        Ok(crate::value::Value::from(f(b)))
    });
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Go's `adler32.Checksum`.
fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &d in data {
        a = (a + u32::from(d)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

pub(super) fn register(r: &mut Reg<'_>) {
    bytes_fn(r, "b64enc", b64_encode);
    r.f("b64dec", &[crate::func::Ty::String], |a| {
        Ok(match b64_decode(super::str_arg(a, 0)) {
            Ok(b) => crate::value::Value::from_bytes(b),
            Err(e) => crate::value::Value::from(e),
        })
    });
    bytes_fn(r, "b32enc", b32_encode);
    r.f("b32dec", &[crate::func::Ty::String], |a| {
        Ok(match b32_decode(super::str_arg(a, 0)) {
            Ok(b) => crate::value::Value::from_bytes(b),
            Err(e) => crate::value::Value::from(e),
        })
    });
    bytes_fn(r, "sha1sum", |b| {
        use sha1::Digest;
        hex(&sha1::Sha1::digest(b))
    });
    bytes_fn(r, "sha256sum", |b| {
        use sha2::Digest;
        hex(&sha2::Sha256::digest(b))
    });
    bytes_fn(r, "sha512sum", |b| {
        use sha2::Digest;
        hex(&sha2::Sha512::digest(b))
    });
    bytes_fn(r, "adler32sum", |b| adler32(b).to_string());
}

fn json_style(escape_html: bool, indent: bool) -> crate::fmt::JsonStyle {
    crate::fmt::JsonStyle {
        escape_html,
        indent,
    }
}

fn to_json(v: &crate::value::Value, escape_html: bool, indent: bool) -> Result<String, String> {
    let mut out = String::new();
    crate::fmt::try_write_json(&mut out, v, json_style(escape_html, indent))?;
    Ok(out)
}

/// Registers Sprig's JSON functions (Helm replaces `toJson`, `mustToJson` and `fromJson` with
/// its own versions, which behave the same for marshalling).
pub(super) fn register_json(r: &mut Reg<'_>) {
    use crate::func::Ty;
    use crate::value::Value;
    for (name, html, indent, must) in [
        ("toJson", true, false, false),
        ("mustToJson", true, false, true),
        ("toPrettyJson", true, true, false),
        ("mustToPrettyJson", true, true, true),
        ("toRawJson", false, false, false),
        ("mustToRawJson", false, false, true),
    ] {
        r.f(name, &[Ty::Any], move |a| {
            match to_json(&a[0], html, indent) {
                Ok(s) => Ok(Value::from(s)),
                Err(e) if must => Err(e.into()),
                Err(_) => Ok(Value::from("")),
            }
        });
    }
    for (name, must) in [("fromJson", false), ("mustFromJson", true)] {
        r.f(name, &[Ty::String], move |a| {
            match serde_json::from_str::<serde_json::Value>(super::str_arg(a, 0)) {
                Ok(j) => Ok(Value::from_json_go(&j)),
                Err(e) if must => Err(e.to_string().into()),
                Err(_) => Ok(Value::Nil),
            }
        });
    }
}
