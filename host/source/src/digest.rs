//! Content digests (`sha256:<hex>`): how charts and modules are named in indexes, manifests and
//! the cache, and how every downloaded byte is checked before use.

use std::fmt;

use sha2::{Digest as _, Sha256};

/// A sha256 content digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

/// A digest string was malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest {text:?}: expected sha256:<64 hex digits> or 64 hex digits")]
pub struct ParseDigestError {
    /// The rejected text.
    pub text: String,
}

impl Digest {
    /// The sha256 digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Digest {
            hex: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// Parse `sha256:<hex>` (OCI) or a bare 64-digit hex string (Helm's `index.yaml`).
    /// Upper-case hex is accepted and normalised to lower case.
    pub fn parse(text: &str) -> Result<Self, ParseDigestError> {
        let hex = text.strip_prefix("sha256:").unwrap_or(text);
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ParseDigestError {
                text: text.to_owned(),
            });
        }
        Ok(Digest {
            hex: hex.to_ascii_lowercase(),
        })
    }

    /// The 64 lower-case hex digits.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Whether `bytes` hash to this digest.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        Digest::of(bytes) == *self
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl std::str::FromStr for Digest {
    type Err = ParseDigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_known_bytes() {
        let d = Digest::of(b"hello\n");
        assert_eq!(
            d.to_string(),
            "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert!(d.matches(b"hello\n"));
        assert!(!d.matches(b"hello"));
    }

    #[test]
    fn parses_both_spellings() {
        let hex = "5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03";
        let bare = Digest::parse(hex).expect("bare hex");
        let prefixed = Digest::parse(&format!("sha256:{hex}")).expect("prefixed");
        assert_eq!(bare, prefixed);
        assert_eq!(bare, Digest::of(b"hello\n"));
        for bad in ["", "sha256:", "sha512:abcd", "sha256:zz", &hex[1..]] {
            assert!(Digest::parse(bad).is_err(), "{bad:?}");
        }
    }
}
