//! Sprig's randomness and crypto helpers: random strings/bytes, UUIDv4, and the generators that
//! need key material. Randomness comes from the OS; outputs can't match Helm byte-for-byte and
//! only need to be valid.

use std::sync::Arc;

use super::{Reg, int_arg, str_arg};

mod keygen;
use crate::error::FuncError;
use crate::func::Ty;
use crate::value::{Object, Value};

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

/// Sprig's `certificate` struct: PEM `Cert` and `Key` fields. Certificates made here remember
/// their key so `genSignedCert` can sign with them.
#[derive(Clone)]
pub(crate) struct Certificate {
    cert: String,
    key: String,
    issuer: Option<Arc<Issuer>>,
}

struct Issuer {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate").finish_non_exhaustive()
    }
}

impl Object for Certificate {
    fn type_name(&self) -> &str {
        "sprig.certificate"
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Cert" => Some(Value::from(self.cert.as_str())),
            "Key" => Some(Value::from(self.key.as_str())),
            _ => None,
        }
    }

    fn format_go(&self, out: &mut String) {
        out.push('{');
        out.push_str(&self.cert);
        out.push(' ');
        out.push_str(&self.key);
        out.push('}');
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"Cert": self.cert, "Key": self.key})
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn crypto_err(what: &str, e: impl std::fmt::Display) -> FuncError {
    FuncError::new(format!("{what}: {e}"))
}

/// An RSA key of `bits`, as (rcgen key pair, PKCS#1 PEM).
fn rsa_key(bits: usize) -> Result<(rcgen::KeyPair, String), FuncError> {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::EncodePrivateKey;
    let key =
        keygen::rsa_private_key(bits).map_err(|e| crypto_err("error generating RSA key", e))?;
    let pkcs1 = key
        .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .map_err(|e| crypto_err("error encoding RSA key", e))?;
    let pkcs8 = key
        .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .map_err(|e| crypto_err("error encoding RSA key", e))?;
    let pair = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256)
        .map_err(|e| crypto_err("error loading RSA key", e))?;
    Ok((pair, pkcs1.to_string()))
}

/// A new RSA key of `bits` bits as PKCS#1 PEM: what `genPrivateKey "rsa"` returns (4096 bits)
/// and what `genCA`, `genSignedCert` and `genSelfSignedCert` make (2048 bits). Public so the
/// key-generation benchmark can time it alone.
pub fn generate_rsa_key(bits: usize) -> Result<String, FuncError> {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let key =
        keygen::rsa_private_key(bits).map_err(|e| crypto_err("error generating RSA key", e))?;
    key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .map(|pem| pem.to_string())
        .map_err(|e| crypto_err("error encoding RSA key", e))
}

/// A key given as PEM (`RSA PRIVATE KEY`, `PRIVATE KEY` or `EC PRIVATE KEY`).
fn parse_key(pem: &str) -> Result<rcgen::KeyPair, FuncError> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
    let bad = |e: &dyn std::fmt::Display| crypto_err("error parsing private key", e);
    if pem.contains("RSA PRIVATE KEY") {
        let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| bad(&e))?;
        let pkcs8 = key
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .map_err(|e| bad(&e))?;
        return rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256)
            .map_err(|e| bad(&e));
    }
    if pem.contains("EC PRIVATE KEY") {
        let key = p256::SecretKey::from_sec1_pem(pem).map_err(|e| bad(&e))?;
        let pkcs8 = key
            .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
            .map_err(|e| bad(&e))?;
        return rcgen::KeyPair::from_pem(&pkcs8).map_err(|e| bad(&e));
    }
    if let Ok(key) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
        let pkcs8 = key
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .map_err(|e| bad(&e))?;
        return rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256)
            .map_err(|e| bad(&e));
    }
    rcgen::KeyPair::from_pem(pem).map_err(|e| bad(&e))
}

fn ymd(t: &super::GoTime) -> (i32, u8, u8) {
    let s = t.format("2006 1 2");
    let mut it = s.split(' ').map(|p| p.parse::<i64>().unwrap_or(1));
    let (y, m, d) = (
        it.next().unwrap_or(1970),
        it.next().unwrap_or(1),
        it.next().unwrap_or(1),
    );
    (y as i32, m as u8, d as u8)
}

/// Sprig's `getBaseCertTemplate`.
fn base_params(
    cn: &str,
    ips: &Value,
    dns: &Value,
    days: i64,
) -> Result<rcgen::CertificateParams, FuncError> {
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    for ip in ips.as_list().unwrap_or_default() {
        let s = ip
            .as_str()
            .ok_or_else(|| FuncError::new(format!("error parsing ip: {}", ip.to_go_string())))?;
        let addr: std::net::IpAddr = s
            .parse()
            .map_err(|_| FuncError::new(format!("error parsing ip: {s}")))?;
        p.subject_alt_names.push(rcgen::SanType::IpAddress(addr));
    }
    for name in dns.as_list().unwrap_or_default() {
        let s = name.as_str().ok_or_else(|| {
            FuncError::new(format!(
                "error processing alternate dns name: {}",
                name.to_go_string()
            ))
        })?;
        let ia5 = s
            .to_owned()
            .try_into()
            .map_err(|e| crypto_err("invalid DNS name", e))?;
        p.subject_alt_names.push(rcgen::SanType::DnsName(ia5));
    }
    let mut serial = [0u8; 16];
    fill_random(&mut serial);
    serial[0] &= 0x7f;
    p.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let now = super::GoTime::now();
    let (y, m, d) = ymd(&now.in_location(super::Location::utc()));
    p.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = ymd(&super::GoTime::utc(
        now.secs.saturating_add(days.saturating_mul(86_400)),
        0,
    ));
    p.not_after = rcgen::date_time_ymd(y, m, d);
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyEncipherment,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    p.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    Ok(p)
}

fn gen_ca(cn: &str, days: i64, key: Option<&str>) -> Result<Value, FuncError> {
    let (pair, key_pem) = match key {
        Some(k) => (parse_key(k)?, k.to_owned()),
        None => rsa_key(2048)?,
    };
    let mut p = base_params(cn, &Value::Nil, &Value::Nil, days)?;
    p.key_usages.push(rcgen::KeyUsagePurpose::KeyCertSign);
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = p
        .self_signed(&pair)
        .map_err(|e| crypto_err("error creating certificate", e))?;
    Ok(Value::object(Certificate {
        cert: cert.pem(),
        key: key_pem,
        issuer: Some(Arc::new(Issuer { cert, key: pair })),
    }))
}

fn gen_cert(args: &[Value], ca: Option<&Value>, key: Option<&str>) -> Result<Value, FuncError> {
    let cn = args[0].as_str().unwrap_or_default();
    let days = args[3].as_int().unwrap_or(0);
    let (pair, key_pem) = match key {
        Some(k) => (parse_key(k)?, k.to_owned()),
        None => rsa_key(2048)?,
    };
    let p = base_params(cn, &args[1], &args[2], days)?;
    let cert = match ca {
        None => p.self_signed(&pair),
        Some(ca) => {
            let ca = match ca {
                Value::Object(o) => o.as_any().downcast_ref::<Certificate>(),
                _ => None,
            }
            .ok_or_else(|| FuncError::new("error parsing CA: not a certificate"))?;
            let issuer = match &ca.issuer {
                Some(i) => i.clone(),
                None => Arc::new(issuer_from_pem(&ca.cert, &ca.key)?),
            };
            p.signed_by(&pair, &issuer.cert, &issuer.key)
        }
    }
    .map_err(|e| crypto_err("error creating certificate", e))?;
    Ok(Value::object(Certificate {
        cert: cert.pem(),
        key: key_pem,
        issuer: None,
    }))
}

/// An issuer from a CA given as PEM (e.g. from `buildCustomCert`): its subject and key
/// identifier come from the certificate, signing uses its key.
fn issuer_from_pem(cert: &str, key: &str) -> Result<Issuer, FuncError> {
    let key = parse_key(key)?;
    let params = rcgen::CertificateParams::from_ca_cert_pem(cert)
        .map_err(|e| crypto_err("error parsing CA certificate", e))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| crypto_err("error loading CA certificate", e))?;
    Ok(Issuer { cert, key })
}

/// Sprig's `genPrivateKey`.
fn gen_private_key(typ: &str) -> String {
    match typ {
        "" | "rsa" => generate_rsa_key(4096)
            .unwrap_or_else(|e| format!("failed to generate private key: {e}")),
        "ecdsa" => {
            let key = p256::SecretKey::random(&mut rand_core::OsRng);
            match key.to_sec1_pem(p256::pkcs8::LineEnding::LF) {
                Ok(pem) => pem.to_string(),
                Err(e) => format!("failed to generate private key: {e}"),
            }
        }
        "ed25519" => {
            let mut der = vec![
                0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
                0x04, 0x20,
            ];
            let mut seed = [0u8; 32];
            fill_random(&mut seed);
            der.extend_from_slice(&seed);
            pem_encode("PRIVATE KEY", &der)
        }
        "dsa" => "failed to generate private key: DSA keys are not supported".to_owned(),
        other => format!("Unknown type {other}"),
    }
}

/// Go's `pem.EncodeToMemory`.
fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = super::encoding::b64_encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

const MP_SEED: &[u8] = b"com.lyndir.masterpassword";

fn password_templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn template_chars(c: char) -> &'static [u8] {
    match c {
        'V' => b"AEIOU",
        'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        'v' => b"aeiou",
        'c' => b"bcdfghjklmnpqrstvwxyz",
        'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        'n' => b"0123456789",
        'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

/// Sprig's `derivePassword` (the Master Password algorithm: scrypt + HMAC-SHA256).
fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    use hmac::Mac;
    let Some(templates) = password_templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    let mut salt = MP_SEED.to_vec();
    salt.extend_from_slice(&(user.len() as u32).to_be_bytes());
    salt.extend_from_slice(user.as_bytes());
    let mut key = [0u8; 64];
    let params = match scrypt::Params::new(15, 8, 2, 64) {
        Ok(p) => p,
        Err(e) => return format!("failed to derive password: {e}"),
    };
    if let Err(e) = scrypt::scrypt(password.as_bytes(), &salt, &params, &mut key) {
        return format!("failed to derive password: {e}");
    }
    let mut msg = MP_SEED.to_vec();
    msg.extend_from_slice(&(site.len() as u32).to_be_bytes());
    msg.extend_from_slice(site.as_bytes());
    msg.extend_from_slice(&counter.to_be_bytes());
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key) else {
        return "failed to derive password: bad key".to_owned();
    };
    mac.update(&msg);
    let seed = mac.finalize().into_bytes();
    let template = templates[usize::from(seed[0]) % templates.len()];
    template
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let chars = template_chars(c);
            char::from(chars[usize::from(seed[i + 1]) % chars.len()])
        })
        .collect()
}

fn aes_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let n = password.len().min(32);
    key[..n].copy_from_slice(&password.as_bytes()[..n]);
    key
}

/// Sprig's `encryptAES`: AES-256-CBC, PKCS#7 padding, random IV prepended, base64.
fn encrypt_aes(password: &str, plaintext: &str) -> String {
    use aes::cipher::{BlockEncrypt, KeyInit};
    if plaintext.is_empty() {
        return String::new();
    }
    let cipher = aes::Aes256::new(&aes_key(password).into());
    let mut data = plaintext.as_bytes().to_vec();
    let pad = 16 - data.len() % 16;
    data.extend(std::iter::repeat_n(pad as u8, pad));
    let mut iv = [0u8; 16];
    fill_random(&mut iv);
    let mut out = iv.to_vec();
    let mut prev = iv;
    for chunk in data.chunks(16) {
        let mut block = [0u8; 16];
        for (j, b) in chunk.iter().enumerate() {
            block[j] = b ^ prev[j];
        }
        let mut ga = block.into();
        cipher.encrypt_block(&mut ga);
        prev = ga.into();
        out.extend_from_slice(&prev);
    }
    super::encoding::b64_encode(&out)
}

/// Sprig's `decryptAES` (the plaintext's bytes).
fn decrypt_aes(password: &str, crypt64: &str) -> Result<Vec<u8>, FuncError> {
    use aes::cipher::{BlockDecrypt, KeyInit};
    if crypt64.is_empty() {
        return Ok(Vec::new());
    }
    let data = super::encoding::b64_decode(crypt64).map_err(FuncError::new)?;
    if data.len() < 16 || data.len() % 16 != 0 {
        return Err("crypto/cipher: input not full blocks".into());
    }
    let cipher = aes::Aes256::new(&aes_key(password).into());
    let mut prev: [u8; 16] = data[..16].try_into().unwrap_or([0; 16]);
    let mut out = Vec::with_capacity(data.len() - 16);
    for chunk in data[16..].chunks(16) {
        let mut ga = aes::Block::clone_from_slice(chunk);
        cipher.decrypt_block(&mut ga);
        for j in 0..16 {
            out.push(ga[j] ^ prev[j]);
        }
        prev.copy_from_slice(chunk);
    }
    let pad = usize::from(*out.last().unwrap_or(&0));
    if pad > out.len() {
        return Err(format!(
            "runtime error: slice bounds out of range [:{}]",
            out.len() as i64 - pad as i64
        )
        .into());
    }
    out.truncate(out.len() - pad);
    Ok(out)
}

fn bcrypt_hash(s: &str) -> String {
    match bcrypt::hash_with_result(s, 10) {
        Ok(h) => h.format_for_version(bcrypt::Version::TwoA),
        Err(e) => format!("failed to encrypt string with bcrypt: {e}"),
    }
}

pub(super) fn register(r: &mut Reg<'_>) {
    r.f("randAlphaNum", &[Ty::Int], |a| {
        crate::budget::string("randAlphaNum", u128::from(int_arg(a, 0).unsigned_abs()))?;
        Ok(Value::from(random_from(ALNUM, int_arg(a, 0))))
    });
    r.f("randAlpha", &[Ty::Int], |a| {
        crate::budget::string("randAlpha", u128::from(int_arg(a, 0).unsigned_abs()))?;
        Ok(Value::from(random_from(ALPHA, int_arg(a, 0))))
    });
    r.f("randNumeric", &[Ty::Int], |a| {
        crate::budget::string("randNumeric", u128::from(int_arg(a, 0).unsigned_abs()))?;
        Ok(Value::from(random_from(NUM, int_arg(a, 0))))
    });
    r.f("randAscii", &[Ty::Int], |a| {
        crate::budget::string("randAscii", u128::from(int_arg(a, 0).unsigned_abs()))?;
        let printable: Vec<u8> = (32u8..=126).collect();
        Ok(Value::from(random_from(&printable, int_arg(a, 0))))
    });
    r.f("randBytes", &[Ty::Int], |a| {
        crate::budget::string("randBytes", u128::from(int_arg(a, 0).unsigned_abs()))?;
        let mut b = vec![0u8; int_arg(a, 0).max(0) as usize];
        fill_random(&mut b);
        Ok(Value::from(super::encoding::b64_encode(&b)))
    });
    r.f("uuidv4", &[], |_| Ok(Value::from(uuidv4())));
    r.s2s("bcrypt", bcrypt_hash);
    r.f("htpasswd", &[Ty::String, Ty::String], |a| {
        let (user, pass) = (str_arg(a, 0), str_arg(a, 1));
        if user.contains(':') {
            return Ok(Value::from(format!("invalid username: {user}")));
        }
        Ok(Value::from(format!("{user}:{}", bcrypt_hash(pass))))
    });
    r.f(
        "derivePassword",
        &[Ty::Int, Ty::String, Ty::String, Ty::String, Ty::String],
        |a| {
            Ok(Value::from(derive_password(
                int_arg(a, 0) as u32,
                str_arg(a, 1),
                str_arg(a, 2),
                str_arg(a, 3),
                str_arg(a, 4),
            )))
        },
    );
    r.s2s("genPrivateKey", gen_private_key);
    r.f("encryptAES", &[Ty::String, Ty::String], |a| {
        Ok(Value::from(encrypt_aes(str_arg(a, 0), str_arg(a, 1))))
    });
    r.f("decryptAES", &[Ty::String, Ty::String], |a| {
        Ok(Value::from_bytes(decrypt_aes(
            str_arg(a, 0),
            str_arg(a, 1),
        )?))
    });
    r.f("genCA", &[Ty::String, Ty::Int], |a| {
        gen_ca(str_arg(a, 0), int_arg(a, 1), None)
    });
    r.f("genCAWithKey", &[Ty::String, Ty::Int, Ty::String], |a| {
        gen_ca(str_arg(a, 0), int_arg(a, 1), Some(str_arg(a, 2)))
    });
    r.f(
        "genSelfSignedCert",
        &[Ty::String, Ty::List, Ty::List, Ty::Int],
        |a| gen_cert(a, None, None),
    );
    r.f(
        "genSelfSignedCertWithKey",
        &[Ty::String, Ty::List, Ty::List, Ty::Int, Ty::String],
        |a| gen_cert(a, None, Some(str_arg(a, 4))),
    );
    r.f(
        "genSignedCert",
        &[Ty::String, Ty::List, Ty::List, Ty::Int, Ty::Any],
        |a| gen_cert(a, Some(&a[4]), None),
    );
    r.f(
        "genSignedCertWithKey",
        &[Ty::String, Ty::List, Ty::List, Ty::Int, Ty::Any, Ty::String],
        |a| gen_cert(a, Some(&a[4]), Some(str_arg(a, 5))),
    );
    r.f("buildCustomCert", &[Ty::String, Ty::String], |a| {
        let decode = |s: &str| {
            super::encoding::b64_decode(s)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|e| FuncError::new(format!("unable to decode base64 certificate: {e}")))
        };
        let cert = decode(str_arg(a, 0))?;
        let key = decode(str_arg(a, 1))?;
        if !cert.contains("-----BEGIN CERTIFICATE-----") {
            return Err("unable to decode certificate".into());
        }
        parse_key(&key)?;
        Ok(Value::object(Certificate {
            cert,
            key,
            issuer: None,
        }))
    });
}
