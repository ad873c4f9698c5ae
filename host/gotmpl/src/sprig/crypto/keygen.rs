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

/// The sieve takes out multiples of every odd prime below this bound. The share of survivors
/// falls as 1/ln(bound): 2^20 would leave 10% fewer survivors to test than 2^18, but even with
/// residues taken for several primes at once ([`SieveGroup`]) its 59,000 more primes cost as
/// much as the exponentiations they save (10 primes from a fixed random stream: 992 M
/// instructions with 2^18, 994 M with 2^19, 1,008 M with 2^20), and the table costs more to build.
const SIEVE_LIMIT: usize = 1 << 18;

/// Odd numbers sieved per random start: the mean prime gap at 1024 bits is ~710, so a window of
/// 8,192 numbers almost always holds a prime (and otherwise a new start is drawn).
const WINDOW: usize = 4096;

/// A sieving prime with `⌊(2^64 − 1) / p⌋`, so residues need no division (Barrett reduction).
struct SievePrime {
    p: u64,
    reciprocal: u64,
}

impl SievePrime {
    /// `x mod p` for any `x < 2^63`: the estimate `⌊x·⌊(2^64 − 1)/p⌋ / 2^64⌋` of `⌊x/p⌋` is
    /// short by at most one.
    #[inline(always)]
    fn reduce(&self, x: u64) -> u64 {
        let q = ((u128::from(x) * u128::from(self.reciprocal)) >> 64) as u64;
        let t = x - q * self.p;
        if t >= self.p { t - self.p } else { t }
    }
}

/// Consecutive sieving primes whose product `g` is below 2^63: a number's residue modulo `g`
/// costs one division step per 64-bit limb (where each prime alone needs two, 32 bits at a
/// time), and gives the residues of all of them.
struct SieveGroup {
    /// `g·2^shift`, with its top bit set.
    d: u64,
    /// `⌊(2^128 − 1) / d⌋ − 2^64`: the reciprocal of Möller and Granlund, "Improved division by
    /// invariant integers" (IEEE Trans. Computers, 2011), Algorithm 4.
    v: u64,
    shift: u32,
    /// The group's primes: `primes[first..end]` of [`SieveTable`].
    first: u32,
    end: u32,
}

impl SieveGroup {
    fn new(g: u64, first: usize, end: usize) -> Self {
        let shift = g.leading_zeros();
        let d = g << shift;
        Self {
            d,
            v: (u128::MAX / u128::from(d) - (1u128 << 64)) as u64,
            shift,
            first: first as u32,
            end: end as u32,
        }
    }

    /// `(u1·2^64 + u0) mod d` for `u1 < d`.
    #[inline(always)]
    fn rem(&self, u1: u64, u0: u64) -> u64 {
        let q = (u128::from(self.v) * u128::from(u1))
            .wrapping_add((u128::from(u1) << 64) | u128::from(u0));
        let q1 = ((q >> 64) as u64).wrapping_add(1);
        let mut r = u0.wrapping_sub(q1.wrapping_mul(self.d));
        if r > q as u64 {
            r = r.wrapping_add(self.d);
        }
        if r >= self.d {
            r -= self.d;
        }
        r
    }
}

/// The odd primes below [`SIEVE_LIMIT`], in groups.
struct SieveTable {
    primes: Vec<SievePrime>,
    groups: Vec<SieveGroup>,
}

fn sieve_table() -> &'static SieveTable {
    static TABLE: OnceLock<SieveTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        // composite[i] stands for 2i + 1.
        let mut composite = vec![false; SIEVE_LIMIT / 2];
        let mut primes = Vec::with_capacity(23_000);
        let mut groups = Vec::with_capacity(8_000);
        let (mut product, mut first) = (1u64, 0);
        for i in 1..SIEVE_LIMIT / 2 {
            if composite[i] {
                continue;
            }
            let p = 2 * i + 1;
            let mut j = p * p / 2;
            while j < composite.len() {
                composite[j] = true;
                j += p;
            }
            let p = p as u64;
            if product.checked_mul(p).is_none_or(|g| g >= 1 << 63) {
                groups.push(SieveGroup::new(product, first, primes.len()));
                (product, first) = (1, primes.len());
            }
            product *= p;
            primes.push(SievePrime {
                p,
                reciprocal: u64::MAX / p,
            });
        }
        groups.push(SieveGroup::new(product, first, primes.len()));
        SieveTable { primes, groups }
    })
}

/// `n mod g` for each of `N` groups, a limb at a time from the top, with the remainder kept
/// shifted like the group's `d`. The `N` chains are independent, so the processor overlaps them.
fn group_residues<const L: usize, const N: usize>(
    n: &[u64; L],
    groups: &[SieveGroup; N],
) -> [u64; N] {
    let mut r = [0u64; N];
    for &w in n.iter().rev() {
        for (r, g) in r.iter_mut().zip(groups) {
            // shift ≥ 1: every product is below 2^63.
            *r = g.rem(*r | (w >> (64 - g.shift)), w << g.shift);
        }
    }
    std::array::from_fn(|i| r[i] >> groups[i].shift)
}

/// Marks `k` in `composite` when `start + 2k` has an odd prime factor below [`SIEVE_LIMIT`].
fn sieve<const L: usize>(start: &[u64; L], composite: &mut [bool]) {
    composite.fill(false);
    let table = sieve_table();
    let mut mark = |group: &SieveGroup, residue: u64| {
        for sp in &table.primes[group.first as usize..group.end as usize] {
            let r = sp.reduce(residue);
            // start + 2k ≡ 0 (mod p)  ⇔  2k ≡ p − r  ⇔  k ≡ (p − r)/2, or (2p − r)/2 when p − r
            // is odd.
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
        }
    };
    let (chunks, rest) = table.groups.as_chunks::<4>();
    for chunk in chunks {
        for (group, r) in chunk.iter().zip(group_residues(start, chunk)) {
            mark(group, r);
        }
    }
    for group in rest {
        mark(group, group_residues(start, std::array::from_ref(group))[0]);
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
    fn sieve_holds_the_odd_primes_below_the_limit_in_groups() {
        let table = sieve_table();
        let primes: Vec<u64> = table.primes.iter().map(|sp| sp.p).collect();
        // π(2^18) = 23,000, less the prime 2.
        assert_eq!(primes.len(), 22_999);
        assert_eq!(&primes[..5], &[3, 5, 7, 11, 13]);
        assert_eq!(primes.last(), Some(&262_139));
        for &p in primes.iter().step_by(97) {
            assert!(independent_probably_prime(&BigUint::from(p), 20), "{p}");
        }
        // The groups cover the primes in order, each with the product of its own.
        let mut next = 0;
        for group in &table.groups {
            assert_eq!(group.first as usize, next);
            assert!(group.end > group.first);
            next = group.end as usize;
            let product = primes[group.first as usize..next]
                .iter()
                .fold(BigUint::from(1u8), |acc, &p| acc * p);
            assert!(product.bits() <= 63);
            assert_eq!(
                product << group.shift as usize,
                BigUint::from(group.d),
                "{:?}",
                group.first
            );
            assert_eq!(group.d >> 63, 1);
        }
        assert_eq!(next, primes.len());
    }

    /// Random multi-limb numbers and the extremes (all-ones limbs, 0, a number whose top limb
    /// is 0) against num-bigint, through every group and the split into its primes.
    #[test]
    fn residues_match_big_integer_arithmetic() {
        let table = sieve_table();
        let mut numbers: Vec<[u64; 16]> = (0..3)
            .map(|_| {
                let mut bytes = [0u8; 128];
                fill_random(&mut bytes);
                limbs(&BigUint::from_bytes_le(&bytes))
            })
            .collect();
        numbers.push([u64::MAX; 16]);
        numbers.push([0; 16]);
        let mut short = numbers[0];
        short[15] = 0;
        numbers.push(short);
        for n in &numbers {
            let big = to_big(n);
            let (chunks, rest) = table.groups.as_chunks::<4>();
            let mut residues: Vec<u64> = chunks
                .iter()
                .flat_map(|chunk| group_residues(n, chunk))
                .collect();
            residues.extend(
                rest.iter()
                    .map(|g| group_residues(n, std::array::from_ref(g))[0]),
            );
            for (group, &r) in table.groups.iter().zip(&residues).step_by(7) {
                let g = BigUint::from(group.d >> group.shift);
                assert_eq!(BigUint::from(r), &big % &g, "mod {g}");
            }
            for (group, &r) in table.groups.iter().zip(&residues).step_by(61) {
                for sp in &table.primes[group.first as usize..group.end as usize] {
                    assert_eq!(BigUint::from(sp.reduce(r)), &big % sp.p, "mod {}", sp.p);
                }
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
        // start mod p by num-bigint, then start + 2k mod p by u64 arithmetic.
        let residues: Vec<(u64, u64)> = sieve_table()
            .primes
            .iter()
            .map(|sp| {
                let r = (&start % sp.p).to_bytes_le();
                let r = r.iter().rev().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
                (sp.p, r)
            })
            .collect();
        for (k, &marked) in composite.iter().enumerate().step_by(3) {
            let has_factor = residues
                .iter()
                .any(|&(p, r)| (r + 2 * k as u64).is_multiple_of(p));
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
