//! Fixed-width Montgomery arithmetic for RSA key generation (issue #12): almost all of a key's
//! time is modular squaring in Miller–Rabin tests of 1024-bit candidates, and a generic bignum
//! (run-time lengths, heap digits, loops the compiler cannot unroll) spends it two to three times
//! over. Here a residue is `[u64; L]` (little-endian limbs), products are summed column by column
//! (product scanning, each product added with its carry into a three-word sum), and for `L` ≤ 32
//! (primes of up to 2048 bits: keys of up to 4096) every column is expanded with a literal index,
//! so its inner loops have constant bounds and unroll into straight-line code (−43% instructions
//! for a 4096-bit key against the same loops with run-time bounds).
//!
//! Not constant-time: like Go's `isPrime`, it tests random candidates whose timing reveals
//! nothing a template's output does not already print.

/// A column sum `lo + hi·2^64`. A product is added as `a·b + lo`, which fits in 128 bits, so
/// LLVM emits one add and two add-with-carries per product (−13% instructions per 1024-bit
/// squaring against summing the products' low and high halves in two 128-bit sums).
#[derive(Clone, Copy, Default)]
struct Acc {
    lo: u64,
    hi: u128,
}

impl Acc {
    /// `self += a · b`.
    #[inline(always)]
    fn add_mul(&mut self, a: u64, b: u64) {
        let p = u128::from(a) * u128::from(b) + u128::from(self.lo);
        self.lo = p as u64;
        self.hi += p >> 64;
    }

    #[inline(always)]
    fn add(&mut self, other: Acc) {
        let p = u128::from(self.lo) + u128::from(other.lo);
        self.lo = p as u64;
        self.hi += (p >> 64) + other.hi;
    }

    /// `self *= 2`; the sums doubled here are below 2^(128 + 4).
    #[inline(always)]
    fn double(&mut self) {
        self.hi = (self.hi << 1) | u128::from(self.lo >> 63);
        self.lo <<= 1;
    }

    /// The column's low word.
    #[inline(always)]
    fn word(&self) -> u64 {
        self.lo
    }

    /// The carry into the next column: the sum shifted down by one word.
    #[inline(always)]
    fn shift(&self) -> Acc {
        Acc {
            lo: self.hi as u64,
            hi: self.hi >> 64,
        }
    }
}

/// An odd modulus `m` > 1 of at most `64·L` bits, with what Montgomery multiplication needs
/// (`R = 2^(64·L)`).
#[derive(Clone)]
pub(super) struct Modulus<const L: usize> {
    m: [u64; L],
    /// `-m⁻¹ mod 2⁶⁴`.
    m_inv: u64,
    /// `R mod m`: 1 in Montgomery form.
    one: [u64; L],
    /// `m - (R mod m)`: −1 in Montgomery form.
    minus_one: [u64; L],
}

impl<const L: usize> Modulus<L> {
    /// `None` when `m` is even or 1.
    pub(super) fn new(m: [u64; L]) -> Option<Self> {
        if m[0] & 1 == 0 || (m[0] == 1 && m[1..].iter().all(|&w| w == 0)) {
            return None;
        }
        // Newton's iteration doubles the correct low bits of m⁻¹ mod 2⁶⁴ each step (m·m ≡ 1
        // mod 8 gives 3 to start with: 3, 6, 12, 24, 48, 96).
        let mut inv = m[0];
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(m[0].wrapping_mul(inv)));
        }
        let mut modulus = Self {
            m,
            m_inv: inv.wrapping_neg(),
            one: [0; L],
            minus_one: [0; L],
        };
        // R mod m: 2^(bits − 1) is below m; double it up to 2^(64·L) (once for a full-width m).
        let bits = bit_len(&m);
        let mut one = [0u64; L];
        one[(bits - 1) / 64] = 1 << ((bits - 1) % 64);
        for _ in bits - 1..64 * L {
            one = modulus.double(&one);
        }
        modulus.one = one;
        modulus.minus_one = m;
        sub_assign(&mut modulus.minus_one, &one);
        Some(modulus)
    }

    pub(super) fn modulus(&self) -> &[u64; L] {
        &self.m
    }

    pub(super) fn one(&self) -> &[u64; L] {
        &self.one
    }

    pub(super) fn minus_one(&self) -> &[u64; L] {
        &self.minus_one
    }

    /// `2a mod m` for `a < m` (in or out of Montgomery form alike).
    #[inline]
    pub(super) fn double(&self, a: &[u64; L]) -> [u64; L] {
        let mut out = [0u64; L];
        let mut carry = 0;
        for (o, &w) in out.iter_mut().zip(a) {
            *o = (w << 1) | carry;
            carry = w >> 63;
        }
        if carry != 0 || !less(&out, &self.m) {
            sub_assign(&mut out, &self.m);
        }
        out
    }

    /// The result of a Montgomery product, `t + carry·R < 2m`, reduced below `m`.
    #[inline(always)]
    fn finish(&self, mut t: [u64; L], carry: u64) -> [u64; L] {
        if carry != 0 || !less(&t, &self.m) {
            sub_assign(&mut t, &self.m);
        }
        t
    }

    /// `a·b·R⁻¹ mod m` for `a, b < m`.
    #[inline]
    pub(super) fn mul(&self, a: &[u64; L], b: &[u64; L]) -> [u64; L] {
        let mut s = Columns::<L>::default();
        if L <= 32 {
            macro_rules! columns {
                ($($k:literal)*) => { $( if $k < 2 * L - 1 { s.mul_column($k, a, b, self); } )* };
            }
            columns!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62);
        } else {
            let mut k = 0;
            while k < 2 * L - 1 {
                s.mul_column(k, a, b, self);
                k += 1;
            }
        }
        let carry = s.close();
        self.finish(s.t, carry)
    }

    /// `a²·R⁻¹ mod m` for `a < m`.
    #[inline]
    pub(super) fn sqr(&self, a: &[u64; L]) -> [u64; L] {
        let mut s = Columns::<L>::default();
        if L <= 32 {
            macro_rules! columns {
                ($($k:literal)*) => { $( if $k < 2 * L - 1 { s.sqr_column($k, a, self); } )* };
            }
            columns!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62);
        } else {
            let mut k = 0;
            while k < 2 * L - 1 {
                s.sqr_column(k, a, self);
                k += 1;
            }
        }
        let carry = s.close();
        self.finish(s.t, carry)
    }

    /// `a` (any value below `m`) in Montgomery form: `a·R mod m`.
    pub(super) fn to_montgomery(&self, a: &[u64; L]) -> [u64; L] {
        // R² mod m is the Montgomery form of R = 2^(64·L): square the form of 2, log2(64·L)
        // times (64·L is a power of two for every L in use; other L double the rest).
        let mut r2 = self.double(&self.one);
        let mut exp = 1usize;
        while exp * 2 <= 64 * L {
            r2 = self.sqr(&r2);
            exp *= 2;
        }
        for _ in exp..64 * L {
            r2 = self.double(&r2);
        }
        self.mul(a, &r2)
    }

    /// `2^e` in Montgomery form: a square per bit of `e` and a modular doubling (an addition) per
    /// set bit — the base-2 Miller–Rabin round needs no multiplications at all.
    pub(super) fn pow2(&self, e: &[u64; L]) -> [u64; L] {
        let mut x = self.one;
        for i in (0..bit_len(e)).rev() {
            x = self.sqr(&x);
            if bit(e, i) {
                x = self.double(&x);
            }
        }
        x
    }

    /// `base^e` with `base` in Montgomery form, by sliding windows of up to 5 bits (16 odd
    /// powers precomputed; ~1 multiplication per 6 bits of exponent).
    pub(super) fn pow(&self, base: &[u64; L], e: &[u64; L]) -> [u64; L] {
        const WINDOW: usize = 5;
        let mut odd = [[0u64; L]; 1 << (WINDOW - 1)];
        odd[0] = *base;
        let base2 = self.sqr(base);
        for i in 1..odd.len() {
            odd[i] = self.mul(&odd[i - 1], &base2);
        }
        let mut x = self.one;
        let mut i = bit_len(e);
        while i > 0 {
            if !bit(e, i - 1) {
                x = self.sqr(&x);
                i -= 1;
                continue;
            }
            // The window is bits [j, i) with its lowest bit set.
            let mut j = i.saturating_sub(WINDOW);
            while !bit(e, j) {
                j += 1;
            }
            let mut value = 0usize;
            for k in (j..i).rev() {
                x = self.sqr(&x);
                value = (value << 1) | usize::from(bit(e, k));
            }
            x = self.mul(&x, &odd[value >> 1]);
            i = j;
        }
        x
    }
}

/// The state of a product-scanning Montgomery product: the carry into the next column, the
/// quotient digits found so far and the result words.
struct Columns<const L: usize> {
    carry: Acc,
    q: [u64; L],
    t: [u64; L],
}

impl<const L: usize> Default for Columns<L> {
    fn default() -> Self {
        Self {
            carry: Acc::default(),
            q: [0; L],
            t: [0; L],
        }
    }
}

impl<const L: usize> Columns<L> {
    /// Column `k` of `a·b + q·m`: after adding the products of the column, a low column
    /// (`k < L`) picks its quotient digit so the column's word becomes zero; a high column is a
    /// word of the result.
    #[inline(always)]
    fn mul_column(&mut self, k: usize, a: &[u64; L], b: &[u64; L], m: &Modulus<L>) {
        let mut col = Acc::default();
        // `while` rather than ranges: unoptimized test builds run these loops millions of times.
        let (mut j, end) = ((k + 1).saturating_sub(L), k.min(L - 1));
        while j <= end {
            col.add_mul(a[j], b[k - j]);
            j += 1;
        }
        self.reduce_column(k, col, m);
    }

    /// Column `k` of `a² + q·m`: the products `a[j]·a[k-j]` with `j < k-j` are summed once and
    /// doubled, then the square `a[k/2]²` of an even column is added.
    #[inline(always)]
    fn sqr_column(&mut self, k: usize, a: &[u64; L], m: &Modulus<L>) {
        let mut col = Acc::default();
        let (mut j, end) = ((k + 1).saturating_sub(L), k.div_ceil(2));
        while j < end {
            col.add_mul(a[j], a[k - j]);
            j += 1;
        }
        col.double();
        if k.is_multiple_of(2) {
            col.add_mul(a[k / 2], a[k / 2]);
        }
        self.reduce_column(k, col, m);
    }

    /// Adds the carry of the column before and the products `q[j]·m[k-j]`, then picks the
    /// quotient digit (low column) or stores the result word (high column).
    #[inline(always)]
    fn reduce_column(&mut self, k: usize, mut col: Acc, m: &Modulus<L>) {
        col.add(self.carry);
        let (mut j, end) = ((k + 1).saturating_sub(L), k.min(L));
        while j < end {
            col.add_mul(self.q[j], m.m[k - j]);
            j += 1;
        }
        if k < L {
            let q = col.word().wrapping_mul(m.m_inv);
            self.q[k] = q;
            col.add_mul(q, m.m[0]);
        } else {
            self.t[k - L] = col.word();
        }
        self.carry = col.shift();
    }

    /// Stores the last word and returns the carry above it (0 or 1).
    #[inline(always)]
    fn close(&mut self) -> u64 {
        self.t[L - 1] = self.carry.lo;
        self.carry.hi as u64
    }
}

/// `a < b`.
#[inline]
pub(super) fn less<const L: usize>(a: &[u64; L], b: &[u64; L]) -> bool {
    for i in (0..L).rev() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
    }
    false
}

/// `a -= b`, returning the borrow.
#[inline]
fn sub_assign<const L: usize>(a: &mut [u64; L], b: &[u64; L]) -> bool {
    let mut borrow = false;
    for (x, &y) in a.iter_mut().zip(b) {
        let (d, b1) = x.overflowing_sub(y);
        let (d, b2) = d.overflowing_sub(u64::from(borrow));
        *x = d;
        borrow = b1 | b2;
    }
    borrow
}

/// Bit `i` of `e`.
#[inline(always)]
fn bit<const L: usize>(e: &[u64; L], i: usize) -> bool {
    (e[i / 64] >> (i % 64)) & 1 == 1
}

/// The number of significant bits of `e`.
pub(super) fn bit_len<const L: usize>(e: &[u64; L]) -> usize {
    (0..L)
        .rev()
        .find(|&i| e[i] != 0)
        .map_or(0, |i| 64 * i + 64 - e[i].leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use num_bigint_dig::{BigUint, ModInverse};

    use super::*;
    use crate::sprig::crypto::fill_random;

    fn random<const L: usize>() -> [u64; L] {
        let mut bytes = vec![0u8; 8 * L];
        fill_random(&mut bytes);
        std::array::from_fn(|i| u64::from_le_bytes(std::array::from_fn(|j| bytes[8 * i + j])))
    }

    fn big<const L: usize>(a: &[u64; L]) -> BigUint {
        let bytes: Vec<u8> = a.iter().flat_map(|w| w.to_le_bytes()).collect();
        BigUint::from_bytes_le(&bytes)
    }

    fn limbs<const L: usize>(a: &BigUint) -> [u64; L] {
        let mut bytes = a.to_bytes_le();
        bytes.resize(8 * L, 0);
        std::array::from_fn(|i| u64::from_le_bytes(std::array::from_fn(|j| bytes[8 * i + j])))
    }

    /// Odd moduli of several shapes: full width, top bits clear, a single significant limb,
    /// all-ones limbs.
    fn moduli<const L: usize>() -> Vec<[u64; L]> {
        let mut out = Vec::new();
        let mut full = random::<L>();
        full[0] |= 1;
        full[L - 1] |= 1 << 63;
        out.push(full);
        let mut short = random::<L>();
        short[L - 1] >>= 9;
        short[0] |= 1;
        out.push(short);
        let mut small = [0u64; L];
        small[0] = random::<1>()[0] | 1 | (1 << 40);
        out.push(small);
        out.push([u64::MAX; L]);
        let mut low = [0u64; L];
        low[0] = 3;
        out.push(low);
        out
    }

    /// Values below `m`: 0, 1, m − 1, random, all-ones low words.
    fn values<const L: usize>(m: &[u64; L]) -> Vec<[u64; L]> {
        let mb = big(m);
        let mut out = vec![[0u64; L], limbs(&BigUint::from(1u8))];
        out.push(limbs(&(&mb - 1u8)));
        for _ in 0..4 {
            out.push(limbs(&(big(&random::<L>()) % &mb)));
        }
        out.push(limbs(&(big(&[u64::MAX; L]) % &mb)));
        out
    }

    fn check_arithmetic<const L: usize>() {
        for m in moduli::<L>() {
            let md = Modulus::new(m).expect("odd modulus");
            let mb = big(&m);
            let r = BigUint::from(1u8) << (64 * L);
            let r_inv = r
                .clone()
                .mod_inverse(&mb)
                .and_then(|x| x.to_biguint())
                .expect("R is invertible modulo an odd number");
            assert_eq!(big(md.one()), &r % &mb, "R mod m, L={L}");
            assert_eq!(big(md.minus_one()), (&mb - &r % &mb) % &mb, "−R mod m");
            let vals = values(&m);
            for a in &vals {
                let ab = big(a);
                assert_eq!(big(&md.sqr(a)), &ab * &ab * &r_inv % &mb, "sqr, L={L}");
                assert_eq!(big(&md.double(a)), (&ab * 2u8) % &mb, "double");
                assert_eq!(big(&md.to_montgomery(a)), &ab * &r % &mb, "to_montgomery");
                for b in &vals {
                    assert_eq!(
                        big(&md.mul(a, b)),
                        &ab * big(b) * &r_inv % &mb,
                        "mul, L={L}"
                    );
                }
            }
            for _ in 0..3 {
                let e = random::<L>();
                let eb = big(&e);
                let want = BigUint::from(2u8).modpow(&eb, &mb) * &r % &mb;
                assert_eq!(big(&md.pow2(&e)), want, "pow2, L={L}");
                let a = &vals[3];
                let want = big(a).modpow(&eb, &mb) * &r % &mb;
                assert_eq!(big(&md.pow(&md.to_montgomery(a), &e)), want, "pow, L={L}");
            }
            // Short exponents and the empty one.
            for e in [0u64, 1, 2, 3, 31, 32, 33, 0x1f3] {
                let mut ew = [0u64; L];
                ew[0] = e;
                let a = &vals[4];
                let want = big(a).modpow(&BigUint::from(e), &mb) * &r % &mb;
                assert_eq!(big(&md.pow(&md.to_montgomery(a), &ew)), want, "pow ^{e}");
                let want = BigUint::from(2u8).modpow(&BigUint::from(e), &mb) * &r % &mb;
                assert_eq!(big(&md.pow2(&ew)), want, "pow2 ^{e}");
            }
        }
    }

    #[test]
    fn arithmetic_agrees_with_num_bigint_at_every_width() {
        check_arithmetic::<1>();
        check_arithmetic::<2>();
        check_arithmetic::<4>();
        check_arithmetic::<8>();
        check_arithmetic::<16>();
        check_arithmetic::<32>();
    }

    #[test]
    fn even_moduli_and_one_are_refused() {
        assert!(Modulus::new([4u64, 1]).is_none());
        assert!(Modulus::new([1u64, 0]).is_none());
        assert!(Modulus::new([1u64]).is_none());
        assert!(Modulus::new([3u64]).is_some());
    }

    #[test]
    fn bit_helpers() {
        assert_eq!(bit_len(&[0u64; 3]), 0);
        assert_eq!(bit_len(&[1u64, 0, 0]), 1);
        assert_eq!(bit_len(&[0u64, 1 << 5, 0]), 70);
        assert!(bit(&[0u64, 1 << 5], 69));
        assert!(!bit(&[0u64, 1 << 5], 68));
        let mut a = [0u64, 1];
        assert!(!sub_assign(&mut a, &[1, 0]));
        assert_eq!(a, [u64::MAX, 0]);
        assert!(sub_assign(&mut a, &[0, 1]));
        assert!(less(&[5u64, 1], &[0, 2]));
        assert!(!less(&[5u64, 1], &[5, 1]));
    }
}
