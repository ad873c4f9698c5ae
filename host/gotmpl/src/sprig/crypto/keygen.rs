//! RSA key generation for `genCA`, `genSignedCert`, `genSelfSignedCert` and `genPrivateKey`,
//! several times faster than Go's `crypto/rsa` (issue #12: a chart generating five certificates
//! rendered slower than `helm template`).
//!
//! A prime of `bits` bits is searched for as follows:
//! - one random odd start with its top two bits set (so `p·q` has exactly twice the bits) is
//!   sieved over a window of 4,096 odd numbers by every odd prime below 2^18, so only ~1 number in
//!   11 survives (Go draws a fresh number per candidate and rules out only the primes up to 53);
//! - each survivor in turn gets one Miller–Rabin round to base 2 — a modular squaring per bit of
//!   the exponent and an addition per set bit, no multiplications — which rejects composites
//!   with overwhelming probability (a 1024-bit prime is found after ~30 survivors);
//! - the survivor that passes then gets the number of rounds with random bases that Go's current
//!   key generation uses ([`rounds`], FIPS 186-5).
//!
//! The arithmetic is fixed-width Montgomery multiplication ([`montgomery`]); the key is
//! assembled and checked by the `rsa` crate.

mod montgomery;

use std::sync::OnceLock;

use rsa::{BigUint, RsaPrivateKey};

use self::montgomery::{Modulus, bit_len, less};
use super::fill_random;

/// The sieve takes out multiples of every odd prime below this bound. Going from 2^16 to 2^18
/// leaves ~11% fewer survivors to test (the share of survivors falls as 1/ln(bound)) for ~17,000
/// more residues per window, which cost less than the exponentiations they save; beyond 2^19 the
/// residues cost more than they save.
const SIEVE_LIMIT: usize = 1 << 18;

/// Odd numbers sieved per random start: the mean prime gap at 1024 bits is ~710, so a window of
/// 8,192 numbers almost always holds a prime (and otherwise a new start is drawn).
const WINDOW: usize = 4096;

/// A sieving prime with `⌊2^64 / p⌋`, so residues need no division (Barrett reduction).
struct SievePrime {
    p: u64,
    reciprocal: u64,
}

/// The odd primes below [`SIEVE_LIMIT`].
fn sieve_primes() -> &'static [SievePrime] {
    static PRIMES: OnceLock<Vec<SievePrime>> = OnceLock::new();
    PRIMES.get_or_init(|| {
        // composite[i] stands for 2i + 1.
        let mut composite = vec![false; SIEVE_LIMIT / 2];
        let mut primes = Vec::with_capacity(23_000);
        for i in 1..SIEVE_LIMIT / 2 {
            if composite[i] {
                continue;
            }
            let p = 2 * i + 1;
            primes.push(SievePrime {
                p: p as u64,
                reciprocal: u64::MAX / p as u64,
            });
            let mut j = p * p / 2;
            while j < composite.len() {
                composite[j] = true;
                j += p;
            }
        }
        primes
    })
}

/// `n mod p` for each of `N` sieving primes, 32 bits at a time: with `r < p < 2^18`,
/// `r·2^32 + half` is below 2^50, and the estimate `⌊x·⌊2^64/p⌋ / 2^64⌋` of `⌊x/p⌋` is short by
/// at most one. The `N` chains are independent, so the processor overlaps them.
fn residues<const L: usize, const N: usize>(n: &[u64; L], primes: &[SievePrime; N]) -> [u64; N] {
    let mut r = [0u64; N];
    for &w in n.iter().rev() {
        for half in [w >> 32, w & 0xffff_ffff] {
            for (r, sp) in r.iter_mut().zip(primes) {
                let x = (*r << 32) | half;
                let q = ((u128::from(x) * u128::from(sp.reciprocal)) >> 64) as u64;
                let t = x - q * sp.p;
                *r = if t >= sp.p { t - sp.p } else { t };
            }
        }
    }
    r
}

/// Marks `k` in `composite` when `start + 2k` has an odd prime factor below [`SIEVE_LIMIT`].
fn sieve<const L: usize>(start: &[u64; L], composite: &mut [bool]) {
    composite.fill(false);
    let mut mark = |sp: &SievePrime, r: u64| {
        // start + 2k ≡ 0 (mod p)  ⇔  2k ≡ p − r  ⇔  k ≡ (p − r)/2, or (2p − r)/2 when p − r is odd.
        let t = if r == 0 { 0 } else { sp.p - r };
        let mut k = if t.is_multiple_of(2) {
            t / 2
        } else {
            (t + sp.p) / 2
        } as usize;
        while k < composite.len() {
            composite[k] = true;
            k += sp.p as usize;
        }
    };
    let (chunks, rest) = sieve_primes().as_chunks::<8>();
    for chunk in chunks {
        for (sp, r) in chunk.iter().zip(residues(start, chunk)) {
            mark(sp, r);
        }
    }
    for sp in rest {
        mark(sp, residues(start, std::array::from_ref(sp))[0]);
    }
}

/// The number of Miller–Rabin rounds with random bases for a random candidate of `bits` bits:
/// the table of Go's `crypto/internal/fips140/rsa` (Go 1.24 and later; BoringSSL's formula for a
/// false-positive rate below 2^-(security bits) on random inputs). For the 1024-bit primes of a
/// 2048-bit key it gives 5 rounds, the figure of FIPS 186-5 Appendix B.3, Table B.1 for p and q of
/// 1024 bits at an error probability of 2^-112; 2048-bit primes (4096-bit keys) get 4. Every prime
/// here also passed a base-2 round before these, so no candidate gets fewer rounds than Go's.
fn rounds(bits: usize) -> usize {
    match bits {
        3747.. => 3,
        1345.. => 4,
        476.. => 5,
        400.. => 6,
        347.. => 7,
        308.. => 8,
        55.. => 27,
        _ => 34,
    }
}

/// Miller–Rabin for an odd candidate `w > 3`: `w − 1 = d·2^s` with `d` odd (FIPS 186-5 B.3.1).
struct MillerRabin<const L: usize> {
    w: Modulus<L>,
    d: [u64; L],
    s: usize,
}

impl<const L: usize> MillerRabin<L> {
    fn new(w: [u64; L]) -> Option<Self> {
        let modulus = Modulus::new(w)?;
        let mut d = w;
        d[0] &= !1;
        let s = d
            .iter()
            .position(|&x| x != 0)
            .map(|i| 64 * i + d[i].trailing_zeros() as usize)?;
        for _ in 0..s {
            for i in 0..L {
                d[i] = (d[i] >> 1) | if i + 1 < L { d[i + 1] << 63 } else { 0 };
            }
        }
        Some(Self { w: modulus, d, s })
    }

    /// Whether `x = b^d` (Montgomery form) says `w` may be prime: `x = ±1`, or `x^(2^i) = −1`
    /// for some `0 < i < s` (a 1 first proves `w` composite).
    fn passes(&self, mut x: [u64; L]) -> bool {
        if &x == self.w.one() || &x == self.w.minus_one() {
            return true;
        }
        for _ in 1..self.s {
            x = self.w.sqr(&x);
            if &x == self.w.minus_one() {
                return true;
            }
            if &x == self.w.one() {
                return false;
            }
        }
        false
    }

    fn base_2(&self) -> bool {
        self.passes(self.w.pow2(&self.d))
    }

    /// One round with a base drawn uniformly from [2, w − 2], as Go draws it: random numbers of
    /// `w`'s length, out-of-range ones drawn again.
    fn random_base(&self) -> bool {
        let w = self.w.modulus();
        let bits = bit_len(w);
        let mut bytes = vec![0u8; 8 * L];
        let mut w_minus_1 = *w;
        w_minus_1[0] -= 1;
        loop {
            fill_random(&mut bytes);
            let mut b: [u64; L] = std::array::from_fn(|i| {
                u64::from_le_bytes(std::array::from_fn(|j| bytes[8 * i + j]))
            });
            for (i, limb) in b.iter_mut().enumerate() {
                let low = 64 * i;
                if low >= bits {
                    *limb = 0;
                } else if bits - low < 64 {
                    *limb &= (1u64 << (bits - low)) - 1;
                }
            }
            let small = b[1..].iter().all(|&x| x == 0) && b[0] <= 1;
            if small || !less(&b, &w_minus_1) {
                continue;
            }
            let x = self.w.pow(&self.w.to_montgomery(&b), &self.d);
            return self.passes(x);
        }
    }
}

/// Whether the odd number `w > 3` (of `bits` bits) passes the base-2 round and then
/// [`rounds`]`(bits)` rounds with random bases.
fn probably_prime<const L: usize>(w: [u64; L], bits: usize) -> bool {
    let Some(mr) = MillerRabin::new(w) else {
        return false;
    };
    mr.base_2() && (0..rounds(bits)).all(|_| mr.random_base())
}

/// A random prime of exactly `bits` bits (64 ≤ `bits` ≤ 64·`L`) with its top two bits set.
fn random_prime_limbs<const L: usize>(bits: usize) -> [u64; L] {
    let mut bytes = vec![0u8; 8 * L];
    let mut composite = vec![false; WINDOW];
    loop {
        fill_random(&mut bytes);
        let mut start: [u64; L] =
            std::array::from_fn(|i| u64::from_le_bytes(std::array::from_fn(|j| bytes[8 * i + j])));
        for (i, limb) in start.iter_mut().enumerate() {
            let low = 64 * i;
            if low >= bits {
                *limb = 0;
            } else if bits - low < 64 {
                *limb &= (1u64 << (bits - low)) - 1;
            }
        }
        for top in [bits - 1, bits - 2] {
            start[top / 64] |= 1 << (top % 64);
        }
        start[0] |= 1;
        sieve(&start, &mut composite);
        for (k, _) in composite.iter().enumerate().filter(|(_, c)| !**c) {
            let mut candidate = start;
            let mut carry = 2 * k as u64;
            for limb in candidate.iter_mut() {
                let (sum, overflow) = limb.overflowing_add(carry);
                *limb = sum;
                carry = u64::from(overflow);
            }
            if carry != 0 || bit_len(&candidate) != bits {
                break;
            }
            if probably_prime(candidate, bits) {
                return candidate;
            }
        }
    }
}

fn to_big<const L: usize>(limbs: &[u64; L]) -> BigUint {
    let bytes: Vec<u8> = limbs.iter().flat_map(|w| w.to_le_bytes()).collect();
    BigUint::from_bytes_le(&bytes)
}

/// A random prime of exactly `bits` bits with its top two bits set, so the product of two has
/// exactly twice as many bits; `None` outside 64..=4096 bits.
pub(super) fn random_prime(bits: usize) -> Option<BigUint> {
    if bits < 64 {
        return None;
    }
    Some(match bits.div_ceil(64) {
        1 => to_big(&random_prime_limbs::<1>(bits)),
        2 => to_big(&random_prime_limbs::<2>(bits)),
        3..=4 => to_big(&random_prime_limbs::<4>(bits)),
        5..=8 => to_big(&random_prime_limbs::<8>(bits)),
        9..=16 => to_big(&random_prime_limbs::<16>(bits)),
        17..=32 => to_big(&random_prime_limbs::<32>(bits)),
        33..=64 => to_big(&random_prime_limbs::<64>(bits)),
        _ => return None,
    })
}

/// A new RSA key of `bits` bits with public exponent 65537, like Go's `rsa.GenerateKey`.
pub(super) fn rsa_private_key(bits: usize) -> Result<RsaPrivateKey, rsa::Error> {
    if !(128..=8192).contains(&bits) {
        return RsaPrivateKey::new(&mut rand_core::OsRng, bits);
    }
    let mut last = rsa::Error::InvalidPrime;
    // 65537 must be invertible modulo lcm(p-1, q-1); if not, draw again, as Go does (one draw in
    // ~30,000 needs this; a hundred failures in a row would mean a bug, not bad luck).
    for _ in 0..100 {
        let (Some(p), Some(q)) = (random_prime(bits - bits / 2), random_prime(bits / 2)) else {
            return Err(rsa::Error::InvalidPrime);
        };
        // FIPS 186-5 A.1.3 step 5.5 (checked by Go too): |p − q| > 2^(nlen/2 − 100).
        let distance = if p > q { &p - &q } else { &q - &p };
        if bits / 2 > 100 && distance.bits() <= bits / 2 - 100 {
            continue;
        }
        if (&p * &q).bits() != bits {
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
    use num_bigint_dig::prime::probably_prime as independent_probably_prime;
    use num_bigint_dig::{BigInt, ModInverse};
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};

    use super::*;

    fn limbs<const L: usize>(n: &BigUint) -> [u64; L] {
        let mut bytes = n.to_bytes_le();
        bytes.resize(8 * L, 0);
        std::array::from_fn(|i| u64::from_le_bytes(std::array::from_fn(|j| bytes[8 * i + j])))
    }

    fn gcd(a: &BigUint, b: &BigUint) -> BigUint {
        let (mut a, mut b) = (a.clone(), b.clone());
        while b != BigUint::from(0u8) {
            let r = &a % &b;
            a = b;
            b = r;
        }
        a
    }

    #[test]
    fn sieve_holds_the_odd_primes_below_the_limit() {
        let primes: Vec<u64> = sieve_primes().iter().map(|sp| sp.p).collect();
        // π(2^18) = 23,000, less the prime 2.
        assert_eq!(primes.len(), 22_999);
        assert_eq!(&primes[..5], &[3, 5, 7, 11, 13]);
        assert_eq!(primes.last(), Some(&262_139));
        for &p in primes.iter().step_by(97) {
            assert!(independent_probably_prime(&BigUint::from(p), 20), "{p}");
        }
    }

    #[test]
    fn residues_match_big_integer_arithmetic() {
        let mut bytes = [0u8; 128];
        fill_random(&mut bytes);
        let n: [u64; 16] = limbs(&BigUint::from_bytes_le(&bytes));
        let big = to_big(&n);
        for sp in sieve_primes()
            .iter()
            .step_by(53)
            .chain(sieve_primes().last())
        {
            assert_eq!(
                BigUint::from(residues(&n, std::array::from_ref(sp))[0]),
                &big % BigUint::from(sp.p),
                "mod {}",
                sp.p
            );
        }
        let all_ones = [u64::MAX; 16];
        let (chunks, _) = sieve_primes().as_chunks::<8>();
        for chunk in chunks.iter().take(10).chain(chunks.last()) {
            for (sp, r) in chunk.iter().zip(residues(&all_ones, chunk)) {
                assert_eq!(BigUint::from(r), to_big(&all_ones) % BigUint::from(sp.p));
            }
        }
    }

    #[test]
    fn the_sieve_marks_exactly_the_numbers_with_a_small_factor() {
        let mut bytes = [0u8; 64];
        fill_random(&mut bytes);
        bytes[0] |= 1;
        let start: [u64; 8] = limbs(&BigUint::from_bytes_le(&bytes));
        let mut composite = vec![false; WINDOW];
        sieve(&start, &mut composite);
        let start = to_big(&start);
        let small: Vec<BigUint> = sieve_primes()
            .iter()
            .map(|sp| BigUint::from(sp.p))
            .collect();
        for (k, &marked) in composite.iter().enumerate().step_by(7) {
            let n = &start + BigUint::from(2 * k);
            let has_factor = small.iter().any(|p| (&n % p) == BigUint::from(0u8));
            assert_eq!(marked, has_factor, "start + {}", 2 * k);
        }
    }

    #[test]
    fn miller_rabin_tells_known_primes_from_composites() {
        let mersenne_127 = (BigUint::from(1u8) << 127) - 1u8;
        let mersenne_521 = (BigUint::from(1u8) << 521) - 1u8;
        assert!(probably_prime::<2>(limbs(&mersenne_127), 127));
        assert!(probably_prime::<16>(limbs(&mersenne_521), 521));
        // Composites: a product of two Mersenne primes, a Carmichael number, and strong
        // pseudoprimes to base 2 (which pass the base-2 round and fail a random one).
        let product = &mersenne_127 * ((BigUint::from(1u8) << 89) - 1u8);
        assert!(!probably_prime::<4>(limbs(&product), 216));
        assert!(!probably_prime::<1>([561], 10));
        for spsp in [2047u64, 3_215_031_751, 2_152_302_898_747] {
            let mr = MillerRabin::new([spsp]).expect("odd");
            assert!(mr.base_2(), "{spsp} is a strong pseudoprime to base 2");
            assert!(!probably_prime::<1>(
                [spsp],
                64 - spsp.leading_zeros() as usize
            ));
        }
        // Small primes through every width in use.
        for p in [5u64, 7, 65_537, 4_294_967_291, 18_446_744_073_709_551_557] {
            let bits = 64 - p.leading_zeros() as usize;
            assert!(probably_prime::<1>([p], bits), "{p}");
            assert!(probably_prime::<2>([p, 0], bits), "{p}");
        }
        assert!(MillerRabin::new([u64::MAX - 1]).is_none());
    }

    #[test]
    fn rounds_follow_go_and_fips_186_5() {
        assert_eq!(rounds(1024), 5);
        assert_eq!(rounds(2048), 4);
        assert_eq!(rounds(512), 5);
        assert_eq!(rounds(64), 27);
    }

    #[test]
    fn primes_have_the_asked_size_and_are_prime() {
        for bits in [64, 100, 128, 256, 512, 768, 1024] {
            let p = random_prime(bits).expect("a size in range");
            assert_eq!(p.bits(), bits);
            assert_eq!(&p >> (bits - 2), BigUint::from(3u8), "top two bits set");
            assert!(independent_probably_prime(&p, 20), "{bits} bits: {p}");
        }
        assert!(random_prime(63).is_none());
        assert!(random_prime(4097).is_none());
    }

    /// Every value a 2048-bit key carries checked from p and q alone with num-bigint.
    #[test]
    fn keys_are_valid_rsa_2048_keys() {
        let key = rsa_private_key(2048).expect("a key");
        let (p, q) = (&key.primes()[0], &key.primes()[1]);
        assert_eq!(key.primes().len(), 2);
        assert!(independent_probably_prime(p, 20));
        assert!(independent_probably_prime(q, 20));
        assert_eq!(p.bits(), 1024);
        assert_eq!(q.bits(), 1024);
        assert_eq!(key.n(), &(p * q));
        assert_eq!(key.n().bits(), 2048);
        assert_eq!(key.e(), &BigUint::from(65_537u32));
        let one = BigUint::from(1u8);
        let (p1, q1) = (p - &one, q - &one);
        let lambda = &p1 * &q1 / gcd(&p1, &q1);
        assert_eq!((key.e() * key.d()) % &lambda, one, "e·d ≡ 1 mod λ(n)");
        assert!(key.d().bits() > 1024, "d > 2^(nlen/2)");
        let distance = if p > q { p - q } else { q - p };
        assert!(distance.bits() > 1024 - 100, "|p − q| > 2^(nlen/2 − 100)");
        assert_eq!(key.dp().expect("dP"), &(key.d() % &p1));
        assert_eq!(key.dq().expect("dQ"), &(key.d() % &q1));
        let q_inv = key.crt_coefficient().expect("qInv");
        assert_eq!((&q_inv * q) % p, one, "qInv·q ≡ 1 mod p");
        let want = BigInt::from(q.clone())
            .mod_inverse(p)
            .and_then(|x| x.to_biguint())
            .expect("q is invertible mod p");
        assert_eq!(q_inv, want);
        key.validate().expect("valid");
    }

    #[test]
    fn other_key_sizes() {
        for bits in [128, 200, 1024] {
            let key = rsa_private_key(bits).expect("a key");
            assert_eq!(key.n().bits(), bits);
            key.validate().expect("valid");
        }
    }
}
