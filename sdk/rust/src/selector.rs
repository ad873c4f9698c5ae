//! Kubernetes label-selector expressions (`app=web,tier!=db,env in (a,b),!legacy`), parsed once
//! and matched against an object's labels or annotations. Flux and kustomize `target`s use this
//! syntax for `labelSelector` and `annotationSelector`; having our own small parser keeps the
//! guest free of any Kubernetes client crate.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Why a selector expression did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The expression is not valid selector syntax.
    #[error("cannot parse selector {selector:?}: {reason}")]
    ParseSelector {
        /// The whole expression.
        selector: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The operator of one [`Requirement`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `key`: the key is present.
    Exists,
    /// `!key`: the key is absent.
    DoesNotExist,
    /// `key=value` or `key==value`.
    Equals,
    /// `key!=value`: absent, or a different value.
    NotEquals,
    /// `key in (a,b)`: present with one of the values.
    In,
    /// `key notin (a,b)`: absent, or none of the values.
    NotIn,
    /// `key>3`: present with an integer value greater than the bound.
    GreaterThan,
    /// `key<3`: present with an integer value less than the bound.
    LessThan,
}

/// One comma-separated term of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The label (or annotation) key.
    pub key: String,
    /// How the key's value is compared.
    pub operator: Operator,
    /// The values compared against (empty for `Exists`/`DoesNotExist`).
    pub values: Vec<String>,
}

impl Requirement {
    /// True if `map` (labels or annotations) satisfies this term.
    pub fn matches(&self, map: Option<&Map<String, Value>>) -> bool {
        let value = map.and_then(|m| m.get(&self.key)).map(value_text);
        match self.operator {
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::Equals | Operator::In => value.is_some_and(|v| self.values.contains(&v)),
            Operator::NotEquals | Operator::NotIn => {
                value.is_none_or(|v| !self.values.contains(&v))
            }
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(v), Some(bound)) = (
                    value.and_then(|v| v.parse::<i64>().ok()),
                    self.values.first().and_then(|b| b.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    v > bound
                } else {
                    v < bound
                }
            }
        }
    }
}

/// Label values are strings; anything else (a YAML `true` that slipped through) is compared by
/// its JSON text so it can still be matched.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A parsed selector: all requirements must hold. The empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    source: String,
    requirements: Vec<Requirement>,
}

impl Selector {
    /// Parses a selector expression.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let fail = |reason: String| SelectorError::ParseSelector {
            selector: text.to_owned(),
            reason,
        };
        let tokens = lex(text);
        let mut parser = Parser { tokens, pos: 0 };
        let requirements = parser.parse().map_err(fail)?;
        Ok(Selector {
            source: text.to_owned(),
            requirements,
        })
    }

    /// The requirements, in source order.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True if `map` (labels or annotations; `None` when absent) satisfies every requirement.
    pub fn matches(&self, map: Option<&Map<String, Value>>) -> bool {
        self.requirements.iter().all(|r| r.matches(map))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::str::FromStr for Selector {
    type Err = SelectorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Selector::parse(s)
    }
}

impl<'de> Deserialize<'de> for Selector {
    /// Parses while deserializing, so a bad selector is reported at its config field path.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Selector::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Selector {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Not,
    Eq,
    DoubleEq,
    NotEq,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(w) => write!(f, "{w:?}"),
            Token::Not => f.write_str("'!'"),
            Token::Eq => f.write_str("'='"),
            Token::DoubleEq => f.write_str("'=='"),
            Token::NotEq => f.write_str("'!='"),
            Token::Gt => f.write_str("'>'"),
            Token::Lt => f.write_str("'<'"),
            Token::Open => f.write_str("'('"),
            Token::Close => f.write_str("')'"),
            Token::Comma => f.write_str("','"),
        }
    }
}

fn is_special(c: char) -> bool {
    matches!(c, '!' | '=' | '>' | '<' | '(' | ')' | ',')
}

/// Splits like apimachinery's lexer: special characters are tokens, whitespace separates, and any
/// other run of characters is a word.
fn lex(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            c if c.is_whitespace() => continue,
            '!' if chars.peek() == Some(&'=') => {
                chars.next();
                Token::NotEq
            }
            '!' => Token::Not,
            '=' if chars.peek() == Some(&'=') => {
                chars.next();
                Token::DoubleEq
            }
            '=' => Token::Eq,
            '>' => Token::Gt,
            '<' => Token::Lt,
            '(' => Token::Open,
            ')' => Token::Close,
            ',' => Token::Comma,
            c => {
                let mut word = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || is_special(n) {
                        break;
                    }
                    word.push(n);
                    chars.next();
                }
                Token::Word(word)
            }
        };
        tokens.push(token);
    }
    tokens
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut out = Vec::new();
        if self.tokens.is_empty() {
            return Ok(out);
        }
        loop {
            out.push(self.requirement()?);
            match self.next() {
                None => return Ok(out),
                Some(Token::Comma) => {}
                Some(t) => return Err(format!("expected ',' or end of selector, found {t}")),
            }
        }
    }

    fn key(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Word(w)) => {
                validate_label_key(&w)?;
                Ok(w)
            }
            Some(t) => Err(format!("expected a key, found {t}")),
            None => Err("expected a key, found the end of the selector".to_owned()),
        }
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        if self.peek() == Some(&Token::Not) {
            self.next();
            let key = self.key()?;
            return Ok(Requirement {
                key,
                operator: Operator::DoesNotExist,
                values: Vec::new(),
            });
        }
        let key = self.key()?;
        let operator = match self.peek() {
            None | Some(Token::Comma) => {
                return Ok(Requirement {
                    key,
                    operator: Operator::Exists,
                    values: Vec::new(),
                });
            }
            Some(Token::Eq | Token::DoubleEq) => Operator::Equals,
            Some(Token::NotEq) => Operator::NotEquals,
            Some(Token::Gt) => Operator::GreaterThan,
            Some(Token::Lt) => Operator::LessThan,
            Some(Token::Word(w)) if w == "in" => Operator::In,
            Some(Token::Word(w)) if w == "notin" => Operator::NotIn,
            Some(t) => {
                return Err(format!(
                    "expected an operator (=, ==, !=, in, notin, >, <) after {key:?}, found {t}"
                ));
            }
        };
        self.next();
        let values = match operator {
            Operator::In | Operator::NotIn => self.value_set()?,
            Operator::GreaterThan | Operator::LessThan => {
                let v = self.single_value()?;
                if v.parse::<i64>().is_err() {
                    return Err(format!("{v:?} is not an integer (needed after '>' or '<')"));
                }
                vec![v]
            }
            _ => vec![self.single_value()?],
        };
        Ok(Requirement {
            key,
            operator,
            values,
        })
    }

    /// A value after `=`/`!=`; may be empty (`a=` matches an empty label value).
    fn single_value(&mut self) -> Result<String, String> {
        match self.peek() {
            None | Some(Token::Comma) => Ok(String::new()),
            Some(Token::Word(_)) => match self.next() {
                Some(Token::Word(w)) => {
                    validate_label_value(&w)?;
                    Ok(w)
                }
                _ => Err("expected a value".to_owned()),
            },
            Some(t) => Err(format!("expected a value, found {t}")),
        }
    }

    /// `(a, b, c)` after `in`/`notin`; must not be empty.
    fn value_set(&mut self) -> Result<Vec<String>, String> {
        match self.next() {
            Some(Token::Open) => {}
            Some(t) => return Err(format!("expected '(' after in/notin, found {t}")),
            None => return Err("expected '(' after in/notin".to_owned()),
        }
        let mut values = Vec::new();
        loop {
            match self.next() {
                Some(Token::Word(w)) => {
                    validate_label_value(&w)?;
                    values.push(w);
                    match self.next() {
                        Some(Token::Comma) => {}
                        Some(Token::Close) => break,
                        Some(t) => return Err(format!("expected ',' or ')', found {t}")),
                        None => return Err("missing ')'".to_owned()),
                    }
                }
                Some(Token::Close) if values.is_empty() => {
                    return Err("the value set of in/notin must not be empty".to_owned());
                }
                Some(t) => return Err(format!("expected a value, found {t}")),
                None => return Err("missing ')'".to_owned()),
            }
        }
        Ok(values)
    }
}

/// Checks a label (or annotation) key the way Kubernetes does: an optional DNS-subdomain prefix
/// and `/`, then a name of at most 63 characters of `[A-Za-z0-9_.-]`, starting and ending
/// alphanumeric.
pub fn validate_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let ok = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix.split('.').all(|part| {
                !part.is_empty()
                    && part.len() <= 63
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            });
        if !ok {
            return Err(format!(
                "invalid key {key:?}: the prefix must be a lowercase DNS subdomain"
            ));
        }
    }
    if name.is_empty() {
        return Err(format!(
            "invalid key {key:?}: the name part must not be empty"
        ));
    }
    check_name_chars(name).map_err(|why| format!("invalid key {key:?}: {why}"))
}

/// Checks a label value: empty, or at most 63 characters of `[A-Za-z0-9_.-]`, starting and ending
/// alphanumeric.
pub fn validate_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    check_name_chars(value).map_err(|why| format!("invalid value {value:?}: {why}"))
}

fn check_name_chars(s: &str) -> Result<(), &'static str> {
    if s.len() > 63 {
        return Err("must be at most 63 characters");
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err("may only contain letters, digits, '-', '_' and '.'");
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(s.chars().next()) || !alnum(s.chars().last()) {
        return Err("must start and end with a letter or digit");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mk_labels(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("test labels must be a map"),
        }
    }

    fn sel(s: &str) -> Selector {
        Selector::parse(s).expect("selector parses")
    }

    #[test]
    fn equality_and_inequality() {
        let l = mk_labels(json!({"app": "web", "tier": "front"}));
        assert!(sel("app=web").matches(Some(&l)));
        assert!(sel("app==web").matches(Some(&l)));
        assert!(sel("app = web , tier=front").matches(Some(&l)));
        assert!(!sel("app=db").matches(Some(&l)));
        assert!(sel("app!=db").matches(Some(&l)));
        assert!(!sel("app!=web").matches(Some(&l)));
        // `!=` matches objects without the key, like Kubernetes.
        assert!(sel("missing!=x").matches(Some(&l)));
        assert!(sel("missing!=x").matches(None));
        assert!(!sel("app=web").matches(None));
    }

    #[test]
    fn set_based() {
        let l = mk_labels(json!({"env": "prod"}));
        assert!(sel("env in (dev, prod)").matches(Some(&l)));
        assert!(!sel("env in (dev)").matches(Some(&l)));
        assert!(sel("env notin (dev,qa)").matches(Some(&l)));
        assert!(!sel("env notin (prod)").matches(Some(&l)));
        assert!(sel("other notin (prod)").matches(Some(&l)));
        assert!(!sel("other in (prod)").matches(Some(&l)));
    }

    #[test]
    fn existence() {
        let l = mk_labels(json!({"env": "prod", "example.com/team": "a"}));
        assert!(sel("env").matches(Some(&l)));
        assert!(sel("example.com/team").matches(Some(&l)));
        assert!(!sel("!env").matches(Some(&l)));
        assert!(sel("!legacy,env").matches(Some(&l)));
        assert!(sel("!legacy").matches(None));
    }

    #[test]
    fn empty_selector_matches_all_and_empty_values() {
        assert!(sel("").matches(None));
        assert!(sel("  ").matches(None));
        let l = mk_labels(json!({"flag": ""}));
        assert!(sel("flag=").matches(Some(&l)));
        assert!(!sel("flag=x").matches(Some(&l)));
    }

    #[test]
    fn numeric_comparisons() {
        let l = mk_labels(json!({"replicas": "5"}));
        assert!(sel("replicas>3").matches(Some(&l)));
        assert!(!sel("replicas<3").matches(Some(&l)));
        assert!(!sel("absent>3").matches(Some(&l)));
    }

    #[test]
    fn bad_selectors_say_why() {
        for (text, needle) in [
            ("app in ()", "must not be empty"),
            ("app in (a", "missing ')'"),
            ("app in a", "expected '('"),
            ("=web", "expected a key"),
            ("app=web,", "expected a key"),
            ("app web", "expected an operator"),
            ("app=we b", "expected ',' or end"),
            ("-app=web", "must start and end"),
            ("app=web$", "may only contain"),
            ("Bad_Prefix/app=x", "DNS subdomain"),
            ("n>x", "not an integer"),
        ] {
            let err = Selector::parse(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{text}: {err}");
            assert!(err.contains(&format!("{text:?}")), "{text}: {err}");
        }
    }

    #[test]
    fn deserializes_from_a_string() {
        let s: Selector = serde_json::from_value(json!("app=web")).expect("deserializes");
        assert_eq!(s.requirements()[0].operator, Operator::Equals);
        assert_eq!(s.to_string(), "app=web");
        let err = serde_json::from_value::<Selector>(json!("app in ()")).expect_err("bad");
        assert!(err.to_string().contains("must not be empty"), "{err}");
    }

    #[test]
    fn label_key_and_value_checks() {
        assert!(validate_label_key("app.kubernetes.io/name").is_ok());
        assert!(validate_label_key("/name").is_err());
        assert!(validate_label_key("a/").is_err());
        assert!(validate_label_value("").is_ok());
        assert!(validate_label_value(&"x".repeat(64)).is_err());
    }
}
