//! go-yaml v2's (libyaml's) character rules for writing double-quoted scalars: which characters
//! it writes raw ([`is_printable`]), which a YAML 1.1 reader treats as line breaks
//! ([`is_break`]), and how the rest are escaped ([`write_escape`]). Both writers follow them —
//! the manifest writer here (so a tenant string can never end its scalar early and be read as
//! more YAML) and Helm's `toYaml` in `capstan-helm` (so its output is byte-identical to Helm's) —
//! and this is their one copy.

use std::fmt::Write as _;

/// libyaml's `is_printable` on UTF-8: what it writes unescaped in a double-quoted scalar. Tab,
/// DEL, the C0 and C1 controls (NEL among them), U+FEFF, U+FFFE/U+FFFF and — because libyaml
/// only knows up to three-byte UTF-8 — everything outside the Basic Multilingual Plane are not.
pub fn is_printable(c: char) -> bool {
    matches!(u32::from(c), 0x0A | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD) && c != '\u{feff}'
}

/// A line break to a YAML 1.1 reader: CR, LF, NEL, U+2028 and U+2029.
pub fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Writes `c` escaped as libyaml's emitter escapes it inside a double-quoted scalar: its table
/// of one-letter escapes (`\0 \a \b \t \n \v \f \r \e \" \\ \N \_ \L \P`), otherwise `\xXX`,
/// `\uXXXX` or `\UXXXXXXXX` in upper-case hex. Always ASCII.
pub fn write_escape(out: &mut String, c: char) {
    out.push('\\');
    let v = u32::from(c);
    let letter = match v {
        0x00 => Some('0'),
        0x07 => Some('a'),
        0x08 => Some('b'),
        0x09 => Some('t'),
        0x0A => Some('n'),
        0x0B => Some('v'),
        0x0C => Some('f'),
        0x0D => Some('r'),
        0x1B => Some('e'),
        0x22 => Some('"'),
        0x5C => Some('\\'),
        0x85 => Some('N'),
        0xA0 => Some('_'),
        0x2028 => Some('L'),
        0x2029 => Some('P'),
        _ => None,
    };
    let _ = match (letter, v) {
        (Some(letter), _) => write!(out, "{letter}"),
        (None, 0..=0xFF) => write!(out, "x{v:02X}"),
        (None, 0x100..=0xFFFF) => write!(out, "u{v:04X}"),
        (None, _) => write!(out, "U{v:08X}"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_match_go_yaml() {
        let mut out = String::new();
        for c in "\0\u{7}\u{8}\t\n\u{b}\u{c}\r\u{1b}\"\\\u{85}\u{a0}\u{2028}\u{2029}\u{7f}\u{9f}\u{1}\u{feff}\u{fffe}\u{1f600}".chars() {
            write_escape(&mut out, c);
        }
        assert_eq!(
            out,
            r#"\0\a\b\t\n\v\f\r\e\"\\\N\_\L\P\x7F\x9F\x01\uFEFF\uFFFE\U0001F600"#
        );
    }

    #[test]
    fn printable_and_breaks() {
        for c in ['a', ' ', '\n', 'é', '\u{a0}', '\u{fffd}'] {
            assert!(is_printable(c), "{c:?}");
        }
        for c in [
            '\t',
            '\u{7f}',
            '\u{85}',
            '\u{feff}',
            '\u{fffe}',
            '\u{1f600}',
            '\u{1}',
        ] {
            assert!(!is_printable(c), "{c:?}");
        }
        for c in ['\r', '\n', '\u{85}', '\u{2028}', '\u{2029}'] {
            assert!(is_break(c), "{c:?}");
        }
        assert!(!is_break(' '));
    }
}
