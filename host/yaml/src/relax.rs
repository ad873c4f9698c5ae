//! libyaml (go-yaml v2) does not check the indentation of lines inside flow collections and
//! multi-line quoted scalars: a closing `]` at the key's column, or continuation lines at column
//! 0, are accepted. `saphyr-parser` follows YAML 1.2 and rejects them with "invalid
//! indentation". Leading spaces on such lines carry no meaning (flow context and quoted scalars
//! fold them away), so a document that fails only for that reason is re-read with those lines
//! indented past their opening bracket or quote. Line numbers stay the same.

/// The text with every line that starts inside a flow collection or a quoted scalar indented
/// to at least one column past the bracket or quote that opened it; `None` when no line needed
/// it. Block scalars (`|`, `>`) and comments are skipped over.
pub(crate) fn indent_flow_lines(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut changed = false;
    // Column of the innermost open flow collection's bracket (None: block context).
    let mut flow: Vec<usize> = Vec::new();
    // Open quoted scalar: (quote char, column of the quote).
    let mut quote: Option<(char, usize)> = None;
    // Open block scalar: lines indented deeper than this belong to it.
    let mut block_scalar: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let body = line.trim_end_matches(['\n', '\r']);
        let blank = body.trim().is_empty();
        if let Some(parent) = block_scalar {
            if blank || indent > parent {
                out.push_str(line);
                continue;
            }
            block_scalar = None;
        }
        let opened_at = quote.map(|(_, col)| col).or_else(|| flow.last().copied());
        let is_marker = body.starts_with("---") || body.starts_with("...");
        let pad = match opened_at {
            Some(col) if !blank && !is_marker && !line.starts_with('\t') && indent <= col => {
                col + 1 - indent
            }
            _ => 0,
        };
        if pad > 0 {
            changed = true;
            out.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line);
        scan_line(body, &mut flow, &mut quote, &mut block_scalar, indent);
    }
    changed.then_some(out)
}

/// Follows brackets, quotes, comments and block scalar indicators through one line.
fn scan_line(
    body: &str,
    flow: &mut Vec<usize>,
    quote: &mut Option<(char, usize)>,
    block_scalar: &mut Option<usize>,
    indent: usize,
) {
    let chars: Vec<char> = body.chars().collect();
    // Whether the next character starts a token (a flow collection, a quoted scalar or a
    // block scalar indicator may begin there).
    let mut token_start = true;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some((q, _)) = *quote {
            if q == '\'' && c == '\'' {
                if chars.get(i + 1) == Some(&'\'') {
                    i += 2;
                    continue;
                }
                *quote = None;
            } else if q == '"' && c == '\\' {
                i += 2;
                continue;
            } else if q == '"' && c == '"' {
                *quote = None;
            }
            token_start = false;
            i += 1;
            continue;
        }
        match c {
            ' ' | '\t' => {
                token_start = true;
                i += 1;
                continue;
            }
            '#' if token_start => return,
            '"' | '\'' if token_start => *quote = Some((c, i)),
            '[' | '{' if token_start || !flow.is_empty() => flow.push(i),
            ']' | '}' if !flow.is_empty() => {
                flow.pop();
            }
            '|' | '>' if token_start && flow.is_empty() => {
                let rest: String = chars[i + 1..].iter().collect();
                let rest =
                    rest.trim_start_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-');
                let rest = rest.trim_start();
                if rest.is_empty() || rest.starts_with('#') {
                    *block_scalar = Some(indent);
                    return;
                }
            }
            _ => {}
        }
        // In flow context, `,` `[` `{` `:` end a token; in block context `-`, `?`, `:` followed
        // by a space do (handled by the space above).
        token_start = !flow.is_empty() && matches!(c, ',' | '[' | '{' | ':');
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::indent_flow_lines;

    #[test]
    fn closing_bracket_at_key_column_is_indented() {
        let text = "a:\n  b: [\n  1,\n  2\n  ]\nc: 1\n";
        assert_eq!(
            indent_flow_lines(text).as_deref(),
            Some("a:\n  b: [\n      1,\n      2\n      ]\nc: 1\n")
        );
    }

    #[test]
    fn quoted_continuations_and_untouched_text() {
        assert_eq!(
            indent_flow_lines("a:\n  b: \"x\nline\"\n").as_deref(),
            Some("a:\n  b: \"x\n      line\"\n")
        );
        // Block scalars, brackets inside plain scalars and comments are not flow context.
        assert_eq!(
            indent_flow_lines("a: |\n  [\nb: x[0]\nc: 1 # [\nd: it's\n"),
            None
        );
    }
}
