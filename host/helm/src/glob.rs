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

/// One state of the pattern's automaton.
#[derive(Debug, Clone)]
enum State {
    /// Consumes one character that `Tok` (a `Lit`, `Single` or `Class`) accepts.
    One(Tok, usize),
    /// `*` (`segment`: not across `/`) or `**`: consumes any character and stays, or moves on
    /// without consuming.
    Star { segment: bool, next: usize },
    /// `{a,b}`: moves to every alternative without consuming.
    Split(Vec<usize>),
    /// The whole name matched.
    Accept,
}

/// Builds the states for `toks` followed by state `next`; the index of the first state.
fn compile(toks: &[Tok], next: usize, states: &mut Vec<State>) -> usize {
    let mut next = next;
    for tok in toks.iter().rev() {
        let state = match tok {
            Tok::Any => State::Star {
                segment: true,
                next,
            },
            Tok::Super => State::Star {
                segment: false,
                next,
            },
            Tok::Alt(alts) => State::Split(alts.iter().map(|a| compile(a, next, states)).collect()),
            one => State::One(one.clone(), next),
        };
        states.push(state);
        next = states.len() - 1;
    }
    next
}

/// Adds `state` and everything reachable from it without consuming a character.
fn close(states: &[State], state: usize, set: &mut [bool], list: &mut Vec<usize>) {
    let mut stack = vec![state];
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut set[i], true) {
            continue;
        }
        list.push(i);
        match &states[i] {
            State::Star { next, .. } => stack.push(*next),
            State::Split(alts) => stack.extend(alts.iter().copied()),
            State::One(..) | State::Accept => {}
        }
    }
}

fn accepts(tok: &Tok, c: char) -> bool {
    match tok {
        Tok::Lit(l) => *l == c,
        Tok::Single => c != '/',
        Tok::Class(neg, ranges) => ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *neg,
        Tok::Any | Tok::Super | Tok::Alt(_) => false,
    }
}

/// Whether `name` matches the glob `pattern`. Runs the pattern as an automaton over all its
/// states at once: time is linear in the name for a given pattern (Helm's matcher is too), so
/// no pattern can make it backtrack exponentially.
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let toks = parse(&p, &mut i, false);
    let mut states = vec![State::Accept];
    let start = compile(&toks, 0, &mut states);
    let mut set = vec![false; states.len()];
    let mut current = Vec::new();
    close(&states, start, &mut set, &mut current);
    for c in name.chars() {
        set.iter_mut().for_each(|s| *s = false);
        let mut next = Vec::new();
        for &i in &current {
            match &states[i] {
                State::One(tok, to) if accepts(tok, c) => close(&states, *to, &mut set, &mut next),
                State::Star { segment, .. } if !(*segment && c == '/') => {
                    close(&states, i, &mut set, &mut next);
                }
                _ => {}
            }
        }
        if next.is_empty() {
            return false;
        }
        current = next;
    }
    current.iter().any(|&i| matches!(states[i], State::Accept))
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
        assert!(matches("a{b,c{d,e}}f", "acef"));
        assert!(!matches("a{b,c{d,e}}f", "acf"));
        assert!(matches("**/*.yaml", "a/b/c.yaml"));
        assert!(!matches("*.yaml", "a/c.yaml"));
        assert!(matches("", ""));
        assert!(!matches("", "a"));
    }

    #[test]
    fn backtracking_patterns_stay_linear() {
        // A backtracking matcher takes exponential time on this; Helm takes 0.1 s.
        let pattern = format!("{}b", "*a".repeat(30));
        let name = "a".repeat(5_000);
        let started = std::time::Instant::now();
        assert!(!matches(&pattern, &name));
        let pattern = format!("{}b", "**a".repeat(30));
        assert!(!matches(&pattern, &name));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
