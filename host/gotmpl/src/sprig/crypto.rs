//! Sprig's randomness and crypto helpers: random strings/bytes, UUIDv4, and the generators that
//! need key material. Randomness comes from the OS; outputs can't match Helm byte-for-byte and
//! only need to be valid.

use super::{Reg, int_arg};
use crate::error::FuncError;
use crate::func::Ty;
use crate::value::Value;

/// A random `u64` from the OS generator.
pub(crate) fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    fill_random(&mut b);
    u64::from_le_bytes(b)
}

/// Fills `buf` with OS randomness (falls back to a time-seeded generator if unavailable).
pub(crate) fn fill_random(buf: &mut [u8]) {
    if getrandom::getrandom(buf).is_err() {
        let mut x = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9E37_79B9_7F4A_7C15, |d| d.as_nanos() as u64);
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
    }
}

fn random_from(chars: &[u8], n: i64) -> String {
    let n = n.max(0) as usize;
    let mut out = String::with_capacity(n);
    let mut buf = vec![0u8; n * 2];
    fill_random(&mut buf);
    for pair in buf.chunks(2) {
        let r = u16::from_le_bytes([pair[0], pair[1]]) as usize;
        out.push(char::from(chars[r % chars.len()]));
    }
    out
}

const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const NUM: &[u8] = b"0123456789";

/// A random version-4 UUID in canonical form.
pub(crate) fn uuidv4() -> String {
    let mut b = [0u8; 16];
    fill_random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn unsupported(name: &'static str) -> impl Fn(&[Value]) -> Result<Value, FuncError> + Send + Sync {
    move |_| {
        Err(FuncError::new(format!(
            "{name} is not supported by this renderer"
        )))
    }
}

pub(super) fn register(r: &mut Reg<'_>) {
    r.f("randAlphaNum", &[Ty::Int], |a| {
        Ok(Value::from(random_from(ALNUM, int_arg(a, 0))))
    });
    r.f("randAlpha", &[Ty::Int], |a| {
        Ok(Value::from(random_from(ALPHA, int_arg(a, 0))))
    });
    r.f("randNumeric", &[Ty::Int], |a| {
        Ok(Value::from(random_from(NUM, int_arg(a, 0))))
    });
    r.f("randAscii", &[Ty::Int], |a| {
        let printable: Vec<u8> = (32u8..=126).collect();
        Ok(Value::from(random_from(&printable, int_arg(a, 0))))
    });
    r.f("randBytes", &[Ty::Int], |a| {
        let mut b = vec![0u8; int_arg(a, 0).max(0) as usize];
        fill_random(&mut b);
        Ok(Value::from(super::encoding::b64_encode(&b)))
    });
    r.f("uuidv4", &[], |_| Ok(Value::from(uuidv4())));
    for name in [
        "bcrypt",
        "htpasswd",
        "genPrivateKey",
        "derivePassword",
        "buildCustomCert",
        "genCA",
        "genCAWithKey",
        "genSelfSignedCert",
        "genSelfSignedCertWithKey",
        "genSignedCert",
        "genSignedCertWithKey",
        "encryptAES",
        "decryptAES",
    ] {
        r.v(name, &[], Ty::Any, unsupported(name));
    }
}
