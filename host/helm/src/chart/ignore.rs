//! `.helmignore` rules (Helm's `pkg/ignore`): gitignore-like patterns matched with Go's
//! `filepath.Match`, so files a chart author excluded never reach `.Files` or the templates.

/// One parsed `.helmignore` line.
#[derive(Debug, Clone)]
struct Rule {
    pattern: String,
    negate: bool,
    must_dir: bool,
    anchored_path: bool,
}

/// A parsed `.helmignore` file plus Helm's default rule (`templates/.?*`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Rules {
    rules: Vec<Rule>,
}

impl Rules {
    /// Parses `.helmignore` text and appends the default rules.
    pub(crate) fn parse(text: &str) -> Rules {
        let mut rules = Rules::default();
        for line in text.lines() {
            rules.add(line);
        }
        rules.add("templates/.?*");
        rules
    }

    fn add(&mut self, line: &str) {
        let mut p = line.trim();
        if p.is_empty() || p.starts_with('#') {
            return;
        }
        if p == "!" || p.contains("**") {
            return;
        }
        let mut negate = false;
        if let Some(rest) = p.strip_prefix('!') {
            negate = true;
            p = rest;
        }
        let mut must_dir = false;
        if let Some(rest) = p.strip_suffix('/') {
            must_dir = true;
            p = rest;
        }
        let anchored_path = p.contains('/');
        let p = p.strip_prefix('/').unwrap_or(p);
        self.rules.push(Rule {
            pattern: p.to_owned(),
            negate,
            must_dir,
            anchored_path,
        });
    }

    /// Whether `path` (slash-separated, relative to the chart root) is ignored.
    pub(crate) fn ignored(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for r in &self.rules {
            if r.negate && r.must_dir && !is_dir {
                return true;
            }
            if r.must_dir && !is_dir {
                continue;
            }
            let matched = if r.anchored_path {
                go_match(&r.pattern, path)
            } else {
                let base = path.rsplit('/').next().unwrap_or(path);
                go_match(&r.pattern, base)
            };
            // Helm's quirk: a negated rule ignores everything it does *not* match.
            if r.negate {
                if !matched {
                    return true;
                }
                continue;
            }
            if matched {
                return true;
            }
        }
        false
    }
}

/// Go's `path/filepath.Match` (with `/` as the separator); a malformed pattern matches nothing.
pub(crate) fn go_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    let (mut pi, mut ni) = (0, 0);
    let (mut star_p, mut star_n): (Option<usize>, usize) = (None, 0);
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star_p = Some(pi);
                    star_n = ni;
                    pi += 1;
                    continue;
                }
                '?' if n[ni] != '/' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((ok, len)) = class(&p[pi..], n[ni])
                        && ok
                        && n[ni] != '/'
                    {
                        pi += len;
                        ni += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == n[ni] => {
                    pi += 2;
                    ni += 1;
                    continue;
                }
                c if c != '?' && c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        // Backtrack: a star may not cross a separator.
        match star_p {
            Some(sp) if n[star_n] != '/' => {
                pi = sp + 1;
                star_n += 1;
                ni = star_n;
            }
            _ => return false,
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Matches a `[...]` class at the start of `p` against `c`; returns (matched, pattern length).
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = p.get(i) == Some(&'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let mut lo = p[i];
        if lo == '\\' {
            i += 1;
            lo = *p.get(i)?;
        }
        i += 1;
        let mut hi = lo;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|x| *x != ']') {
            hi = p[i + 1];
            if hi == '\\' {
                hi = *p.get(i + 2)?;
                i += 1;
            }
            i += 2;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matching() {
        assert!(go_match("*.txt", "a.txt"));
        assert!(!go_match("*.txt", "dir/a.txt"));
        assert!(go_match("files/*.conf", "files/x.conf"));
        assert!(go_match("a?c", "abc"));
        assert!(go_match("[a-c]x", "bx"));
        assert!(!go_match("[^a-c]x", "bx"));
    }

    #[test]
    fn helmignore_rules() {
        let r = Rules::parse("# c\n*.bak\n/secret/\n");
        assert!(r.ignored("x/y.bak", false));
        assert!(r.ignored("secret", true));
        assert!(!r.ignored("secret", false));
        assert!(r.ignored("templates/.hidden", false));
        assert!(!r.ignored("templates/ok.yaml", false));
    }
}
