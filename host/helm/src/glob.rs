//! The `gobwas/glob` dialect used by `.Files.Glob` (with `/` as separator): `*` stays within a
//! path segment, `**` crosses segments, `?`, `[…]`/`[!…]` classes and `{a,b}` alternatives.

#[derive(Debug, Clone)]
enum Tok {
    Lit(char),
    Any,
    Super,
    Single,
    Class(bool, Vec<(char, char)>),
    Alt(Vec<Vec<Tok>>),
}

fn parse(p: &[char], i: &mut usize, in_alt: bool) -> Vec<Tok> {
    let mut out = Vec::new();
    while *i < p.len() {
        let c = p[*i];
        match c {
            ',' | '}' if in_alt => return out,
            '*' => {
                if p.get(*i + 1) == Some(&'*') {
                    out.push(Tok::Super);
                    *i += 2;
                } else {
                    out.push(Tok::Any);
                    *i += 1;
                }
            }
            '?' => {
                out.push(Tok::Single);
                *i += 1;
            }
            '\\' => {
                if let Some(n) = p.get(*i + 1) {
                    out.push(Tok::Lit(*n));
                }
                *i += 2;
            }
            '[' => {
                let mut j = *i + 1;
                let neg = p.get(j) == Some(&'!');
                if neg {
                    j += 1;
                }
                let mut ranges = Vec::new();
                while j < p.len() && p[j] != ']' {
                    let lo = p[j];
                    if p.get(j + 1) == Some(&'-') && p.get(j + 2).is_some_and(|c| *c != ']') {
                        ranges.push((lo, p[j + 2]));
                        j += 3;
                    } else {
                        ranges.push((lo, lo));
                        j += 1;
                    }
                }
                out.push(Tok::Class(neg, ranges));
                *i = j + 1;
            }
            '{' => {
                *i += 1;
                let mut alts = Vec::new();
                loop {
                    alts.push(parse(p, i, true));
                    match p.get(*i) {
                        Some(',') => *i += 1,
                        Some('}') => {
                            *i += 1;
                            break;
                        }
                        _ => break,
                    }
                }
                out.push(Tok::Alt(alts));
            }
            _ => {
                out.push(Tok::Lit(c));
                *i += 1;
            }
        }
    }
    out
}

fn flatten_match(toks: &[Tok], rest: &[Tok], s: &[char]) -> bool {
    // Expands alternatives lazily: `toks` followed by `rest`.
    let Some((first, tail)) = toks.split_first() else {
        return if rest.is_empty() {
            s.is_empty()
        } else {
            flatten_match(rest, &[], s)
        };
    };
    match first {
        Tok::Lit(c) => s.first() == Some(c) && flatten_match(tail, rest, &s[1..]),
        Tok::Single => s.first().is_some_and(|c| *c != '/') && flatten_match(tail, rest, &s[1..]),
        Tok::Class(neg, ranges) => {
            s.first().is_some_and(|c| {
                let inr = ranges.iter().any(|(lo, hi)| lo <= c && c <= hi);
                inr != *neg
            }) && flatten_match(tail, rest, &s[1..])
        }
        Tok::Any => {
            for k in 0..=s.len() {
                if k > 0 && s[k - 1] == '/' {
                    break;
                }
                if flatten_match(tail, rest, &s[k..]) {
                    return true;
                }
            }
            false
        }
        Tok::Super => (0..=s.len()).any(|k| flatten_match(tail, rest, &s[k..])),
        Tok::Alt(alts) => alts.iter().any(|alt| {
            let mut combined: Vec<Tok> = alt.clone();
            combined.extend_from_slice(tail);
            flatten_match(&combined, rest, s)
        }),
    }
}

/// Whether `name` matches the glob `pattern`.
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let toks = parse(&p, &mut i, false);
    let s: Vec<char> = name.chars().collect();
    flatten_match(&toks, &[], &s)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn gobwas_dialect() {
        assert!(matches("files/*.txt", "files/a.txt"));
        assert!(!matches("files/*.txt", "files/sub/a.txt"));
        assert!(matches("files/**.txt", "files/sub/a.txt"));
        assert!(matches("**.{yaml,json}", "conf/x.json"));
        assert!(matches("f?le", "file"));
        assert!(matches("[!a]x", "bx"));
    }
}
