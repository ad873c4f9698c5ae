//! go-yaml v2's map key order for strings: a "natural" order where digit runs compare as numbers
//! and non-letters sort before letters. `toYaml` output is sorted this way, not bytewise.

use std::cmp::Ordering;

/// go-yaml v2 `keyList.Less` for two string keys.
pub(crate) fn key_less(a: &str, b: &str) -> bool {
    // Keys are nearly always ASCII: compare their bytes without collecting runes.
    if a.is_ascii() && b.is_ascii() {
        return runes_less(a.as_bytes(), b.as_bytes());
    }
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    runes_less(&ar, &br)
}

/// A rune of a key: a `char`, or an ASCII byte standing for one.
trait Rune: Copy + PartialEq + PartialOrd {
    fn char(self) -> char;
}

impl Rune for char {
    fn char(self) -> char {
        self
    }
}

impl Rune for u8 {
    fn char(self) -> char {
        char::from(self)
    }
}

fn runes_less<R: Rune>(ar: &[R], br: &[R]) -> bool {
    let digit = |r: R| r.char().is_ascii_digit();
    let value = |r: R| i64::from(r.char() as u8 - b'0');
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].char().is_alphabetic();
        let bl = br[i].char().is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            // go-yaml v2 (unlike v3) puts non-letters first regardless of a preceding digit.
            return bl;
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if ar[i].char() == '0' || br[i].char() == '0' {
            let mut j = i;
            while j > 0 && digit(ar[j - 1]) {
                j -= 1;
                if ar[j].char() != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && digit(ar[ai]) {
            an = an.wrapping_mul(10).wrapping_add(value(ar[ai]));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && digit(br[bi]) {
            bn = bn.wrapping_mul(10).wrapping_add(value(br[bi]));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

/// Sorts `items` by their string key with [`key_less`]. A merge sort that never panics even if
/// the order is not perfectly total for some exotic keys.
pub(crate) fn sort_by_key_less<T>(items: &mut Vec<(String, T)>) {
    // Keys usually come from a map sorted bytewise, which is go-yaml's order too unless digits
    // or punctuation differ: then there is nothing to move (the sort is stable).
    if items.windows(2).all(|w| !key_less(&w[1].0, &w[0].0)) {
        return;
    }
    let taken = std::mem::take(items);
    *items = merge_sort(taken);
}

fn merge_sort<T>(mut v: Vec<(String, T)>) -> Vec<(String, T)> {
    if v.len() <= 1 {
        return v;
    }
    let right = v.split_off(v.len() / 2);
    let left = merge_sort(v);
    let right = merge_sort(right);
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut l = left.into_iter().peekable();
    let mut r = right.into_iter().peekable();
    loop {
        let order = match (l.peek(), r.peek()) {
            (Some(a), Some(b)) => {
                if key_less(&b.0, &a.0) {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => break,
        };
        let next = if order == Ordering::Greater {
            r.next()
        } else {
            l.next()
        };
        if let Some(item) = next {
            out.push(item);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v: Vec<(String, ())> = ["b", "a10", "a2", "A", "_x", "a", "a1b", "a1_"]
            .iter()
            .map(|s| ((*s).to_owned(), ()))
            .collect();
        sort_by_key_less(&mut v);
        let keys: Vec<&str> = v.iter().map(|(k, ())| k.as_str()).collect();
        assert_eq!(keys, ["_x", "A", "a", "a1_", "a1b", "a2", "a10", "b"]);
    }

    /// ASCII keys are compared as bytes; the result is the rune comparison's.
    #[test]
    fn ascii_bytes_order_as_runes() {
        let keys = [
            "", "a", "b", "a1", "a01", "a001", "a10", "a9z", "_", "Z", "z0", "0", "00", "-1",
            "x.y", "x_y",
        ];
        for a in keys {
            for b in keys {
                let runes = |s: &str| s.chars().collect::<Vec<char>>();
                assert_eq!(
                    key_less(a, b),
                    runes_less(&runes(a), &runes(b)),
                    "{a:?} < {b:?}"
                );
            }
        }
        assert!(key_less("é", "z") != key_less("z", "é"));
    }
}
