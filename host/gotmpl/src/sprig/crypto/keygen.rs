//! RSA key generation for `genCA`, `genSignedCert`, `genSelfSignedCert` and `genPrivateKey`, at
//! least as fast as Go's `crypto/rsa` (issue #12: a chart generating five certificates rendered
//! slower than `helm template`).
//!
//! Go (and the `rsa` crate, a port of it) draws a fresh random odd number for every candidate,
//! rules out multiples of the primes up to 53, and runs a Miller-Rabin test on each survivor:
//! about 100 modular exponentiations of 1024-bit numbers per prime. Here one random start is
//! sieved over a window of 4,096 odd numbers by every odd prime below 2^16, so only ~1 candidate
//! in 10 survives to the base-2 Miller-Rabin test (~36 exponentiations per prime). The prime found
//! then passes the same test as Go's `ProbablyPrime(20)` (20 Miller-Rabin rounds plus a strong
//! Lucas test), and the key is assembled and checked by the `rsa` crate.

use std::sync::OnceLock;

use num_bigint_dig::prime::{probably_prime, probably_prime_miller_rabin};
use rsa::{BigUint, RsaPrivateKey};

use super::fill_random;

/// Odd numbers sieved per random start: the mean prime gap at 1024 bits is ~710, so a window of
/// 8,192 numbers almost always holds a prime.
const WINDOW: usize = 4096;

/// The odd primes below 2^16 (the sieve).
fn sieve_primes() -> &'static [u32] {
    static PRIMES: OnceLock<Vec<u32>> = OnceLock::new();
    PRIMES.get_or_init(|| {
        const LIMIT: usize = 1 << 16;
        let mut composite = vec![false; LIMIT];
        let mut primes = Vec::new();
        for n in 3..LIMIT {
            if composite[n] || n % 2 == 0 {
                continue;
            }
            primes.push(n as u32);
            let mut m = n * n;
            while m < LIMIT {
                composite[m] = true;
                m += n;
            }
        }
        primes
    })
}

/// `bytes` (big-endian) modulo `p`.
fn residue(bytes: &[u8], p: u32) -> u32 {
    let p = u64::from(p);
    let mut r = 0u64;
    for chunk in bytes.chunks(4) {
        for &b in chunk {
            r = (r << 8) | u64::from(b);
        }
        r %= p;
    }
    r as u32
}

/// A random prime of exactly `bits` bits (`bits` ≥ 64) with its top two bits set, so the product
/// of two has exactly twice as many bits.
pub(super) fn random_prime(bits: usize) -> BigUint {
    let primes = sieve_primes();
    let len = bits.div_ceil(8);
    let top = match bits % 8 {
        0 => 8,
        b => b,
    };
    let mut bytes = vec![0u8; len];
    let mut composite = vec![false; WINDOW];
    loop {
        fill_random(&mut bytes);
        bytes[0] &= ((1u16 << top) - 1) as u8;
        if top >= 2 {
            bytes[0] |= 3 << (top - 2);
        } else {
            bytes[0] |= 1;
            bytes[1] |= 0x80;
        }
        bytes[len - 1] |= 1;
        composite.fill(false);
        for &p in primes {
            // start + 2k ≡ 0 (mod p)  ⇔  k ≡ -start · 2⁻¹ (mod p)
            let r = u64::from(residue(&bytes, p));
            let p = u64::from(p);
            let mut k = ((p - r) % p) * p.div_ceil(2) % p;
            while (k as usize) < WINDOW {
                composite[k as usize] = true;
                k += p;
            }
        }
        let start = BigUint::from_bytes_be(&bytes);
        for (k, _) in composite.iter().enumerate().filter(|(_, c)| !**c) {
            let candidate = &start + BigUint::from(2 * k as u64);
            if candidate.bits() != bits {
                break;
            }
            if probably_prime_miller_rabin(&candidate, 1, true) && probably_prime(&candidate, 20) {
                return candidate;
            }
        }
    }
}

/// A new RSA key of `bits` bits with public exponent 65537, like Go's `rsa.GenerateKey`.
pub(super) fn rsa_private_key(bits: usize) -> Result<RsaPrivateKey, rsa::Error> {
    if bits < 128 {
        return RsaPrivateKey::new(&mut rand_core::OsRng, bits);
    }
    let mut last = rsa::Error::InvalidPrime;
    // 65537 must be invertible modulo lcm(p-1, q-1); if not, draw again, as Go does (one draw in
    // ~30,000 needs this; a hundred failures in a row would mean a bug, not bad luck).
    for _ in 0..100 {
        let p = random_prime(bits - bits / 2);
        let q = random_prime(bits / 2);
        if p == q || (&p * &q).bits() != bits {
            continue;
        }
        match RsaPrivateKey::from_p_q(p, q, BigUint::from(65_537u32)) {
            Ok(key) => {
                key.validate()?;
                return Ok(key);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};

    use super::*;

    #[test]
    fn sieve_holds_the_odd_primes_below_65536() {
        let primes = sieve_primes();
        assert_eq!(primes.len(), 6541);
        assert_eq!(&primes[..5], &[3, 5, 7, 11, 13]);
        assert_eq!(primes.last(), Some(&65521));
    }

    #[test]
    fn residues_match_big_integer_arithmetic() {
        let bytes = [0xde, 0xad, 0xbe, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89];
        let n = BigUint::from_bytes_be(&bytes);
        for p in [3u32, 65521, 257, 4099] {
            assert_eq!(
                BigUint::from(residue(&bytes, p)),
                &n % BigUint::from(p),
                "mod {p}"
            );
        }
    }

    #[test]
    fn primes_have_the_asked_size_and_are_prime() {
        for bits in [256, 512, 1024] {
            let p = random_prime(bits);
            assert_eq!(p.bits(), bits);
            assert!(probably_prime(&p, 20));
        }
    }

    #[test]
    fn keys_are_valid_rsa_2048_keys() {
        let key = rsa_private_key(2048).expect("a key");
        assert_eq!(key.n().bits(), 2048);
        assert_eq!(key.e(), &BigUint::from(65_537u32));
        assert_eq!(key.primes().len(), 2);
        key.validate().expect("valid");
    }
}
