//! A small evaluator for the Python expressions in feedparser's `Expect:` lines: literals, `not`,
//! `and`, `or`, comparisons (chained), `is`, `in`, `+`, subscripts, attribute access, `len`,
//! `ord`, `.get` and `.has_key`. Reading a key Verbatim does not model makes the whole expectation
//! "not applicable" (with the key named), so no case is silently counted as passed or failed.

use std::collections::BTreeMap;

/// How a string from Verbatim compares with a literal from the expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrKind {
    /// A literal written in the expectation.
    Literal,
    /// Compared exactly (links, ids, encodings).
    Exact,
    /// Verbatim keeps only the visible text: equal to the literal, or to the literal's visible
    /// text when feedparser answers with markup.
    VisibleText,
    /// Sanitized markup: equal to the literal once the literal goes through Verbatim's own
    /// sanitizer (Verbatim drops presentation attributes that feedparser keeps).
    Html,
    /// An encoding name: equal when both labels name the same decoder.
    Encoding,
}

/// The equivalences behind [`StrKind`], supplied by the harness.
pub struct Equivalence<'a> {
    pub sanitize: &'a dyn Fn(&str) -> String,
    pub visible_text: &'a dyn Fn(&str) -> String,
    pub same_encoding: &'a dyn Fn(&str, &str) -> bool,
}

#[derive(Debug, Clone)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String, StrKind),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Dict),
    /// A function or method waiting for its arguments.
    Callable(Callable),
}

#[derive(Debug, Clone)]
pub enum Callable {
    Len,
    Ord,
    Get(Dict),
    HasKey(Dict),
}

/// A feedparser result dictionary as Verbatim can fill it.
#[derive(Debug, Clone, Default)]
pub struct Dict {
    /// Keys Verbatim models; reading any other key is "not applicable".
    pub modelled: Vec<&'static str>,
    pub entries: BTreeMap<String, Value>,
    /// feedparser's key aliases (`description` is `summary`, `tagline` is `subtitle`, ...).
    pub aliases: &'static [(&'static str, &'static str)],
}

impl Dict {
    fn canonical<'a>(&self, key: &'a str) -> &'a str
    where
        'static: 'a,
    {
        self.aliases
            .iter()
            .find(|(alias, _)| *alias == key)
            .map(|(_, canonical)| *canonical)
            .unwrap_or(key)
    }

    /// `Ok(Some)` present, `Ok(None)` modelled but absent, `Err` not modelled.
    fn lookup(&self, key: &str) -> Result<Option<&Value>, Outcome> {
        let key = self.canonical(key);
        if !self.modelled.contains(&key) {
            return Err(Outcome::NotApplicable(format!(
                "feedparser's '{key}' has no counterpart in Verbatim's item"
            )));
        }
        Ok(self.entries.get(key))
    }
}

/// Why evaluation stopped early.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The expression reads something Verbatim does not model.
    NotApplicable(String),
    /// A Python exception (a missing key, an index out of range): the case fails.
    Raised(String),
    /// The expression is outside the supported subset.
    Unsupported(String),
}

type Eval<T> = Result<T, Outcome>;

/// Evaluates `source` with `names` in scope.
pub fn evaluate(
    source: &str,
    names: &BTreeMap<&str, Value>,
    equivalence: &Equivalence<'_>,
) -> Eval<bool> {
    let tokens = tokenize(source)?;
    let mut parser = Parser {
        tokens,
        position: 0,
        names,
        equivalence,
    };
    let value = parser.or_expr()?;
    if parser.position != parser.tokens.len() {
        return Err(Outcome::Unsupported(format!(
            "unexpected {:?}",
            parser.tokens[parser.position]
        )));
    }
    Ok(truthy(&value))
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Str(String),
    Int(i64),
    Float(f64),
    Punct(&'static str),
}

fn tokenize(source: &str) -> Eval<Vec<Token>> {
    const PUNCTS: [&str; 17] = [
        "==", "!=", "<=", ">=", "<", ">", "(", ")", "[", "]", "{", "}", ",", ":", ".", "+", "-",
    ];
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        let ch = chars[index];
        if ch.is_whitespace() {
            index += 1;
            continue;
        }
        let is_quote = |at: usize| matches!(chars.get(at), Some('\'') | Some('"'));
        // String prefixes u'', b'', r'' (and their combinations).
        let mut prefix_end = index;
        while prefix_end < chars.len()
            && matches!(chars[prefix_end], 'u' | 'U' | 'b' | 'B' | 'r' | 'R')
            && prefix_end - index < 2
        {
            prefix_end += 1;
        }
        if is_quote(prefix_end) {
            let raw = chars[index..prefix_end]
                .iter()
                .any(|prefix| matches!(prefix, 'r' | 'R'));
            let (text, next) = string_literal(&chars, prefix_end, raw)?;
            // Adjacent literals concatenate, as in Python.
            match tokens.last_mut() {
                Some(Token::Str(previous)) => previous.push_str(&text),
                _ => tokens.push(Token::Str(text)),
            }
            index = next;
            continue;
        }
        if ch.is_ascii_digit() {
            let start = index;
            while index < chars.len() && (chars[index].is_ascii_digit() || chars[index] == '.') {
                index += 1;
            }
            let text: String = chars[start..index].iter().collect();
            let token = if text.contains('.') {
                text.parse()
                    .map(Token::Float)
                    .map_err(|_| Outcome::Unsupported(format!("number {text}")))?
            } else {
                text.parse()
                    .map(Token::Int)
                    .map_err(|_| Outcome::Unsupported(format!("number {text}")))?
            };
            tokens.push(token);
            continue;
        }
        if is_name_char(ch) {
            let start = index;
            while index < chars.len()
                && (is_name_char(chars[index]) || chars[index].is_ascii_digit())
            {
                index += 1;
            }
            tokens.push(Token::Name(chars[start..index].iter().collect()));
            continue;
        }
        let rest: String = chars[index..chars.len().min(index + 2)].iter().collect();
        let Some(punct) = PUNCTS.iter().find(|punct| rest.starts_with(**punct)) else {
            return Err(Outcome::Unsupported(format!("character {ch:?}")));
        };
        tokens.push(Token::Punct(punct));
        index += punct.len();
    }
    Ok(tokens)
}

fn is_name_char(ch: char) -> bool {
    ch.is_ascii_alphabetic() || ch == '_'
}

/// A quoted literal starting at `start`; returns its text and the index after it.
fn string_literal(chars: &[char], start: usize, raw: bool) -> Eval<(String, usize)> {
    let quote = chars[start];
    let mut text = String::new();
    let mut index = start + 1;
    let hex = |from: usize, digits: usize| -> Eval<char> {
        let code: String = chars
            .get(from..from + digits)
            .unwrap_or_default()
            .iter()
            .collect();
        u32::from_str_radix(&code, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| Outcome::Unsupported(format!("escape {code}")))
    };
    while index < chars.len() {
        let ch = chars[index];
        if ch == quote {
            return Ok((text, index + 1));
        }
        if ch == '\\' && !raw {
            let Some(&escaped) = chars.get(index + 1) else {
                break;
            };
            index += 2;
            match escaped {
                'n' => text.push('\n'),
                't' => text.push('\t'),
                'r' => text.push('\r'),
                '0' => text.push('\0'),
                'x' => {
                    text.push(hex(index, 2)?);
                    index += 2;
                }
                'u' => {
                    text.push(hex(index, 4)?);
                    index += 4;
                }
                'U' => {
                    text.push(hex(index, 8)?);
                    index += 8;
                }
                '\\' | '\'' | '"' => text.push(escaped),
                other => {
                    text.push('\\');
                    text.push(other);
                }
            }
            continue;
        }
        text.push(ch);
        index += 1;
    }
    Err(Outcome::Unsupported("an unterminated string".into()))
}

struct Parser<'a> {
    tokens: Vec<Token>,
    position: usize,
    names: &'a BTreeMap<&'a str, Value>,
    equivalence: &'a Equivalence<'a>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn peek_is(&self, expected: &Token) -> bool {
        self.peek() == Some(expected)
    }

    fn eat_punct(&mut self, punct: &str) -> bool {
        if matches!(self.peek(), Some(Token::Punct(found)) if *found == punct) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    fn eat_name(&mut self, name: &str) -> bool {
        if matches!(self.peek(), Some(Token::Name(found)) if found == name) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, punct: &str) -> Eval<()> {
        if self.eat_punct(punct) {
            Ok(())
        } else {
            Err(Outcome::Unsupported(format!(
                "expected {punct}, found {:?}",
                self.peek()
            )))
        }
    }

    // `or` and `and` short-circuit as in Python: an operand that is not needed is read past
    // without its errors counting, so an unmodelled key there cannot hide a decided result.
    fn or_expr(&mut self) -> Eval<Value> {
        let mut value = self.and_expr()?;
        while self.eat_name("or") {
            if truthy(&value) {
                self.skip_operand(Self::and_expr);
            } else {
                value = self.and_expr()?;
            }
        }
        Ok(value)
    }

    fn and_expr(&mut self) -> Eval<Value> {
        let mut value = self.not_expr()?;
        while self.eat_name("and") {
            if truthy(&value) {
                value = self.not_expr()?;
            } else {
                self.skip_operand(Self::not_expr);
            }
        }
        Ok(value)
    }

    fn skip_operand(&mut self, operand: fn(&mut Self) -> Eval<Value>) {
        let start = self.position;
        if operand(self).is_err() {
            self.skip_to_end_of_operand(start);
        }
    }

    /// After an operand that raised but did not matter, moves to the next `and`/`or` at depth 0.
    fn skip_to_end_of_operand(&mut self, start: usize) {
        let mut depth = 0i32;
        self.position = start;
        while let Some(token) = self.peek() {
            match token {
                Token::Punct("(") | Token::Punct("[") | Token::Punct("{") => depth += 1,
                Token::Punct(")") | Token::Punct("]") | Token::Punct("}") => {
                    if depth == 0 {
                        return;
                    }
                    depth -= 1;
                }
                Token::Name(name) if depth == 0 && (name == "and" || name == "or") => return,
                _ => {}
            }
            self.position += 1;
        }
    }

    fn not_expr(&mut self) -> Eval<Value> {
        if self.eat_name("not") {
            let value = self.not_expr()?;
            return Ok(Value::Bool(!truthy(&value)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Eval<Value> {
        let mut left = self.sum()?;
        let mut result = true;
        let mut compared = false;
        loop {
            let operator = if self.eat_punct("==") {
                "=="
            } else if self.eat_punct("!=") {
                "!="
            } else if self.eat_name("is") {
                if self.eat_name("not") { "is not" } else { "is" }
            } else if self.eat_name("in") {
                "in"
            } else if self.peek_is(&Token::Name("not".into()))
                && matches!(self.tokens.get(self.position + 1), Some(Token::Name(name)) if name == "in")
            {
                self.position += 2;
                "not in"
            } else if self.eat_punct("<=")
                || self.eat_punct(">=")
                || self.eat_punct("<")
                || self.eat_punct(">")
            {
                return Err(Outcome::Unsupported("ordering comparisons".into()));
            } else {
                break;
            };
            let right = self.sum()?;
            let holds = match operator {
                "==" | "is" => self.equal(&left, &right),
                "!=" | "is not" => !self.equal(&left, &right),
                "in" => contains(&right, &left)?,
                _ => !contains(&right, &left)?,
            };
            result &= holds;
            compared = true;
            left = right;
        }
        Ok(if compared { Value::Bool(result) } else { left })
    }

    fn sum(&mut self) -> Eval<Value> {
        let mut value = self.unary()?;
        while self.eat_punct("+") {
            let right = self.unary()?;
            value = match (value, right) {
                (Value::Str(left, kind), Value::Str(right, _)) => Value::Str(left + &right, kind),
                (Value::Int(left), Value::Int(right)) => Value::Int(left + right),
                _ => return Err(Outcome::Unsupported("+ on these types".into())),
            };
        }
        Ok(value)
    }

    fn unary(&mut self) -> Eval<Value> {
        if self.eat_punct("-") {
            return match self.unary()? {
                Value::Int(number) => Ok(Value::Int(-number)),
                Value::Float(number) => Ok(Value::Float(-number)),
                _ => Err(Outcome::Unsupported("unary minus".into())),
            };
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Eval<Value> {
        let mut value = self.atom()?;
        loop {
            if self.eat_punct("[") {
                let index = self.or_expr()?;
                self.expect_punct("]")?;
                value = subscript(&value, &index)?;
            } else if self.eat_punct(".") {
                let Some(Token::Name(name)) = self.peek().cloned() else {
                    return Err(Outcome::Unsupported("attribute name".into()));
                };
                self.position += 1;
                value = match (&value, name.as_str()) {
                    (Value::Dict(dict), "get") => Value::Callable(Callable::Get(dict.clone())),
                    (Value::Dict(dict), "has_key") => {
                        Value::Callable(Callable::HasKey(dict.clone()))
                    }
                    (Value::Dict(dict), key) => match dict.lookup(key)? {
                        Some(found) => found.clone(),
                        None => return Err(Outcome::Raised(format!("no attribute '{key}'"))),
                    },
                    _ => return Err(Outcome::NotApplicable(format!("attribute .{name}"))),
                };
            } else if self.eat_punct("(") {
                let mut arguments = Vec::new();
                while !self.eat_punct(")") {
                    arguments.push(self.or_expr()?);
                    if !self.eat_punct(",") {
                        self.expect_punct(")")?;
                        break;
                    }
                }
                value = call(&value, &arguments)?;
            } else {
                return Ok(value);
            }
        }
    }

    fn atom(&mut self) -> Eval<Value> {
        let Some(token) = self.peek().cloned() else {
            return Err(Outcome::Unsupported("an empty expression".into()));
        };
        self.position += 1;
        match token {
            Token::Str(text) => Ok(Value::Str(text, StrKind::Literal)),
            Token::Int(number) => Ok(Value::Int(number)),
            Token::Float(number) => Ok(Value::Float(number)),
            Token::Name(name) => match name.as_str() {
                "None" => Ok(Value::None),
                "True" => Ok(Value::Bool(true)),
                "False" => Ok(Value::Bool(false)),
                "len" => Ok(Value::Callable(Callable::Len)),
                "ord" => Ok(Value::Callable(Callable::Ord)),
                other => self
                    .names
                    .get(other)
                    .cloned()
                    .ok_or_else(|| Outcome::NotApplicable(format!("name '{other}'"))),
            },
            Token::Punct("(") => {
                let mut items = Vec::new();
                let mut tuple = false;
                while !self.eat_punct(")") {
                    items.push(self.or_expr()?);
                    if self.eat_punct(",") {
                        tuple = true;
                    } else {
                        self.expect_punct(")")?;
                        break;
                    }
                }
                if !tuple && items.len() == 1 {
                    Ok(items.remove(0))
                } else {
                    Ok(Value::Tuple(items))
                }
            }
            Token::Punct("[") => {
                let mut items = Vec::new();
                while !self.eat_punct("]") {
                    items.push(self.or_expr()?);
                    if !self.eat_punct(",") {
                        self.expect_punct("]")?;
                        break;
                    }
                }
                Ok(Value::List(items))
            }
            Token::Punct("{") => {
                let mut dict = Dict::default();
                while !self.eat_punct("}") {
                    let Value::Str(key, _) = self.or_expr()? else {
                        return Err(Outcome::Unsupported("a non-string dict key".into()));
                    };
                    self.expect_punct(":")?;
                    let value = self.or_expr()?;
                    dict.entries.insert(key, value);
                    if !self.eat_punct(",") {
                        self.expect_punct("}")?;
                        break;
                    }
                }
                Ok(Value::Dict(dict))
            }
            other => Err(Outcome::Unsupported(format!("{other:?}"))),
        }
    }

    fn equal(&self, left: &Value, right: &Value) -> bool {
        match (left, right) {
            (Value::Str(ours, kind), Value::Str(literal, StrKind::Literal))
            | (Value::Str(literal, StrKind::Literal), Value::Str(ours, kind)) => match kind {
                StrKind::Literal | StrKind::Exact => ours == literal,
                StrKind::VisibleText => {
                    ours == literal
                        || ours.trim() == literal.trim()
                        || *ours == (self.equivalence.visible_text)(literal)
                }
                // Leading and trailing white space around markup is not visible.
                StrKind::Html => ours.trim() == (self.equivalence.sanitize)(literal).trim(),
                StrKind::Encoding => (self.equivalence.same_encoding)(ours, literal),
            },
            (Value::Str(left, _), Value::Str(right, _)) => left == right,
            (Value::None, Value::None) => true,
            (Value::Bool(left), Value::Bool(right)) => left == right,
            (Value::Int(left), Value::Int(right)) => left == right,
            (Value::Float(left), Value::Float(right)) => left == right,
            (Value::Int(left), Value::Float(right)) | (Value::Float(right), Value::Int(left)) => {
                *left as f64 == *right
            }
            (Value::Bool(left), Value::Int(right)) | (Value::Int(right), Value::Bool(left)) => {
                i64::from(*left) == *right
            }
            (Value::Tuple(left), Value::Tuple(right)) | (Value::List(left), Value::List(right)) => {
                left.len() == right.len()
                    && left
                        .iter()
                        .zip(right)
                        .all(|(left, right)| self.equal(left, right))
            }
            (Value::Dict(left), Value::Dict(right)) => {
                left.entries.len() == right.entries.len()
                    && left.entries.iter().all(|(key, value)| {
                        right
                            .entries
                            .get(key)
                            .is_some_and(|other| self.equal(value, other))
                    })
            }
            _ => false,
        }
    }
}

pub fn truthy(value: &Value) -> bool {
    match value {
        Value::None => false,
        Value::Bool(flag) => *flag,
        Value::Int(number) => *number != 0,
        Value::Float(number) => *number != 0.0,
        Value::Str(text, _) => !text.is_empty(),
        Value::Tuple(items) | Value::List(items) => !items.is_empty(),
        Value::Dict(dict) => !dict.entries.is_empty(),
        Value::Callable(_) => true,
    }
}

fn subscript(value: &Value, index: &Value) -> Eval<Value> {
    match (value, index) {
        (Value::Dict(dict), Value::Str(key, _)) => match dict.lookup(key)? {
            Some(found) => Ok(found.clone()),
            None => Err(Outcome::Raised(format!("KeyError '{key}'"))),
        },
        (Value::List(items) | Value::Tuple(items), Value::Int(position)) => {
            let resolved = if *position < 0 {
                items.len() as i64 + position
            } else {
                *position
            };
            usize::try_from(resolved)
                .ok()
                .and_then(|position| items.get(position))
                .cloned()
                .ok_or_else(|| Outcome::Raised(format!("IndexError {position}")))
        }
        (Value::Str(text, kind), Value::Int(position)) => usize::try_from(*position)
            .ok()
            .and_then(|position| text.chars().nth(position))
            .map(|ch| Value::Str(ch.to_string(), *kind))
            .ok_or_else(|| Outcome::Raised(format!("IndexError {position}"))),
        _ => Err(Outcome::Unsupported("this subscript".into())),
    }
}

fn contains(container: &Value, needle: &Value) -> Eval<bool> {
    match (container, needle) {
        (Value::Dict(dict), Value::Str(key, _)) => Ok(dict.lookup(key)?.is_some()),
        (Value::Str(haystack, _), Value::Str(needle, _)) => Ok(haystack.contains(needle.as_str())),
        (Value::List(items) | Value::Tuple(items), needle) => Ok(items
            .iter()
            .any(|item| format!("{item:?}") == format!("{needle:?}"))),
        _ => Err(Outcome::Unsupported("this 'in'".into())),
    }
}

fn call(function: &Value, arguments: &[Value]) -> Eval<Value> {
    let Value::Callable(function) = function else {
        return Err(Outcome::Unsupported("calling a non-function".into()));
    };
    match (function, arguments) {
        (Callable::Len, [Value::Str(text, _)]) => Ok(Value::Int(text.chars().count() as i64)),
        (Callable::Len, [Value::List(items) | Value::Tuple(items)]) => {
            Ok(Value::Int(items.len() as i64))
        }
        (Callable::Len, [Value::Dict(dict)]) => Ok(Value::Int(dict.entries.len() as i64)),
        (Callable::Ord, [Value::Str(text, _)]) if text.chars().count() == 1 => {
            Ok(Value::Int(text.chars().next().map_or(0, |ch| ch as i64)))
        }
        (Callable::Get(dict), [Value::Str(key, _)]) => {
            Ok(dict.lookup(key)?.cloned().unwrap_or(Value::None))
        }
        (Callable::Get(dict), [Value::Str(key, _), default]) => Ok(dict
            .lookup(key)?
            .cloned()
            .unwrap_or_else(|| default.clone())),
        (Callable::HasKey(dict), [Value::Str(key, _)]) => {
            Ok(Value::Bool(dict.lookup(key)?.is_some()))
        }
        _ => Err(Outcome::Unsupported("this call".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EQUIVALENCE: Equivalence<'static> = Equivalence {
        sanitize: &|html| html.to_string(),
        visible_text: &|html| html.replace("<b>", "").replace("</b>", ""),
        same_encoding: &|ours, label| ours == label,
    };

    fn run(source: &str) -> Eval<bool> {
        let mut feed = Dict {
            modelled: vec!["title"],
            ..Dict::default()
        };
        feed.entries.insert(
            "title".into(),
            Value::Str("Café".into(), StrKind::VisibleText),
        );
        let mut names = BTreeMap::new();
        names.insert("bozo", Value::Bool(false));
        names.insert("feed", Value::Dict(feed));
        evaluate(source, &names, &EQUIVALENCE)
    }

    #[test]
    fn literals_escapes_and_operators() {
        assert_eq!(run(r"not bozo and feed['title'] == u'Caf\xe9'"), Ok(true));
        assert_eq!(run(r"feed['title'] == 'Caf\u00e9' == feed.title"), Ok(true));
        assert_eq!(run(r"feed['title'] == '<b>Café</b>'"), Ok(true));
        assert_eq!(run(r"feed['title'] == 'Cafe'"), Ok(false));
        assert_eq!(run("bozo or len(feed['title']) == 4"), Ok(true));
        assert_eq!(
            run("(1, 2, -3) == (1, 2, -3) and 'a' 'b' == 'ab'"),
            Ok(true)
        );
        assert_eq!(run("'title' in feed and not 'title' not in feed"), Ok(true));
    }

    #[test]
    fn unmodelled_keys_are_not_applicable_and_missing_ones_raise() {
        assert!(matches!(
            run("not bozo and feed['generator'] == 'x'"),
            Err(Outcome::NotApplicable(_))
        ));
        assert_eq!(run("bozo and feed['generator'] == 'x'"), Ok(false));
        let mut names = BTreeMap::new();
        names.insert(
            "feed",
            Value::Dict(Dict {
                modelled: vec!["link"],
                ..Dict::default()
            }),
        );
        let result = evaluate("feed['link'] == 'x'", &names, &EQUIVALENCE);
        assert!(matches!(result, Err(Outcome::Raised(_))));
    }
}
