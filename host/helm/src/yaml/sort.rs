//! go-yaml v2's map key order for strings: a "natural" order where digit runs compare as numbers
//! and non-letters sort before letters. `toYaml` output is sorted this way, not bytewise.

use std::cmp::Ordering;

/// go-yaml v2 `keyList.Less` for two string keys.
pub(crate) fn key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            // go-yaml v2 (unlike v3) puts non-letters first regardless of a preceding digit.
            return bl;
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(br[bi] as u8 - b'0'));
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
}
