//! Positioned YAML loading: turns untrusted bytes into a tree of [`Node`]s that remember
//! their line and column, with hard limits so hostile input fails fast and cheaply.
//!
//! Scalars are resolved the way `kubectl` resolves them (go-yaml v2, YAML 1.1 rules:
//! `yes`/`on` are booleans, `0x1F` is an integer), because "valid" must mean what the
//! Kubernetes API server would accept from the same file.

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};
use std::fmt;

/// Largest file we read. Kubernetes refuses request bodies over 3 MiB; a policy bundle
/// larger than this is almost certainly not a policy, and reading it would cost memory.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// Policies nest about eight levels deep; anything past this is an attack or an accident.
pub const MAX_DEPTH: usize = 64;
/// Nodes that aliases may add by expansion, per document (billion-laughs guard).
pub const MAX_ALIAS_NODES: usize = 10_000;
/// Nodes per file, aliases included: bounds memory for the biggest file we accept.
pub const MAX_NODES: usize = 1_000_000;

/// 1-based line and column of a node or key in its file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

impl Pos {
    fn from_span(span: &Span) -> Pos {
        Pos {
            line: span.start.line() as u32,
            col: span.start.col() as u32 + 1,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

/// A mapping entry. Keys are strings, as in the JSON the API server sees.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

impl Node {
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "array",
            Value::Map(_) => "object",
        }
    }

    /// The entry for `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// JSON form with null-valued mapping entries pruned, as the API server does before
    /// validation and storage of a custom resource.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            // Go's JSON encoding writes 5.0 as 5, which is what the API server validates.
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 => {
                J::from(*f as i64)
            }
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or(J::Null),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .filter(|e| e.value.value != Value::Null)
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }
}

/// One YAML document of a (possibly multi-document) file.
#[derive(Clone, Debug)]
pub struct Document {
    /// 0-based index of the document in its file.
    pub index: usize,
    pub root: Node,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LoadError {
    #[error("file is {size} bytes, over the {limit}-byte limit for policy files")]
    TooLarge { size: u64, limit: usize },
    #[error("not UTF-8 text: invalid byte at {pos} (policies must be UTF-8 YAML)")]
    NotUtf8 { pos: Pos },
    #[error("NUL byte at {pos}: this is a binary file, not YAML")]
    NulByte { pos: Pos },
    #[error("YAML syntax error at {pos}: {msg}")]
    Syntax { pos: Pos, msg: String },
    #[error("nesting deeper than {MAX_DEPTH} levels at {pos}")]
    TooDeep { pos: Pos },
    #[error(
        "aliases at {pos} expand to more than {MAX_ALIAS_NODES} nodes (an alias bomb?); \
         write the values out instead"
    )]
    AliasBomb { pos: Pos },
    #[error("more than {MAX_NODES} YAML nodes (at {pos}); split the file")]
    TooManyNodes { pos: Pos },
    #[error("duplicate key '{key}' at {pos} (first set at {first})")]
    DuplicateKey { key: String, pos: Pos, first: Pos },
    #[error("unsupported mapping key at {pos}: keys must be plain strings")]
    ComplexKey { pos: Pos },
    #[error("unknown alias at {pos}")]
    UnknownAlias { pos: Pos },
}

impl LoadError {
    pub fn pos(&self) -> Option<Pos> {
        match self {
            LoadError::TooLarge { .. } => None,
            LoadError::NotUtf8 { pos }
            | LoadError::NulByte { pos }
            | LoadError::Syntax { pos, .. }
            | LoadError::TooDeep { pos }
            | LoadError::AliasBomb { pos }
            | LoadError::TooManyNodes { pos }
            | LoadError::DuplicateKey { pos, .. }
            | LoadError::ComplexKey { pos }
            | LoadError::UnknownAlias { pos } => Some(*pos),
        }
    }
}

/// Line and column of byte offset `at` in `bytes` (counting characters, not bytes, on the
/// last line only as far as the prefix is valid UTF-8).
fn pos_of_byte(bytes: &[u8], at: usize) -> Pos {
    let before = &bytes[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count() as u32
        + 1;
    Pos { line, col }
}

/// Checks the raw bytes and parses every document.
pub fn load_bytes(bytes: &[u8]) -> Result<Vec<Document>, LoadError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            size: bytes.len() as u64,
            limit: MAX_FILE_BYTES,
        });
    }
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(LoadError::NulByte {
            pos: pos_of_byte(bytes, at),
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| LoadError::NotUtf8 {
        pos: pos_of_byte(bytes, e.valid_up_to()),
    })?;
    load_str(text.strip_prefix('\u{feff}').unwrap_or(text))
}

pub fn load_str(text: &str) -> Result<Vec<Document>, LoadError> {
    Loader::new(text).run()
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        pending_key: Option<(String, Pos)>,
        /// Key positions, built once a mapping is large enough that scanning would be
        /// quadratic (hostile files with 100,000 keys).
        index: Option<std::collections::HashMap<String, Pos>>,
    },
}

struct Loader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    stack: Vec<Frame>,
    anchors: Vec<(usize, Node)>,
    alias_nodes: usize,
    nodes: usize,
    docs: Vec<Document>,
}

fn syntax(e: ScanError) -> LoadError {
    let m = e.marker();
    let pos = Pos {
        line: m.line() as u32,
        col: m.col() as u32 + 1,
    };
    // The scanner has its own flow-nesting limit (255); report it like ours.
    if e.info().contains("recursion limit") {
        return LoadError::TooDeep { pos };
    }
    LoadError::Syntax {
        pos,
        msg: e.info().to_string(),
    }
}

fn node_count(n: &Node) -> usize {
    match &n.value {
        Value::Seq(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|e| node_count(&e.value)).sum::<usize>(),
        _ => 1,
    }
}

impl<'a> Loader<'a> {
    fn new(text: &'a str) -> Self {
        Loader {
            parser: Parser::new_from_str(text),
            stack: Vec::new(),
            anchors: Vec::new(),
            alias_nodes: 0,
            nodes: 0,
            docs: Vec::new(),
        }
    }

    fn run(mut self) -> Result<Vec<Document>, LoadError> {
        let mut root: Option<Node> = None;
        while let Some(ev) = self.parser.next_event() {
            let (event, span) = ev.map_err(syntax)?;
            let pos = Pos::from_span(&span);
            match event {
                Event::StreamStart | Event::Nothing => {}
                Event::StreamEnd => break,
                Event::DocumentStart(_) => {
                    root = None;
                    self.anchors.clear();
                    self.alias_nodes = 0;
                }
                Event::DocumentEnd => {
                    // An empty document (`---` alone) is kept as null so that callers can
                    // say "document 2 is empty" with its position.
                    let node = root.take().unwrap_or(Node {
                        value: Value::Null,
                        pos,
                    });
                    self.docs.push(Document {
                        index: self.docs.len(),
                        root: node,
                    });
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let tag = tag.map(|t| t.suffix.clone());
                    let node = Node {
                        value: resolve_scalar(&text, style, tag.as_deref()),
                        pos,
                    };
                    self.count(1, pos)?;
                    self.remember(anchor, &node)?;
                    self.push_node(node, &mut root, true, style)?;
                }
                Event::Alias(id) => {
                    let target = self
                        .anchors
                        .iter()
                        .rev()
                        .find(|(a, _)| *a == id)
                        .map(|(_, n)| n)
                        .ok_or(LoadError::UnknownAlias { pos })?;
                    let size = node_count(target);
                    self.alias_nodes += size;
                    if self.alias_nodes > MAX_ALIAS_NODES {
                        return Err(LoadError::AliasBomb { pos });
                    }
                    let mut node = target.clone();
                    node.pos = pos;
                    self.count(size, pos)?;
                    self.push_node(node, &mut root, false, ScalarStyle::Plain)?;
                }
                Event::SequenceStart(anchor, _) => {
                    self.enter(pos)?;
                    self.stack.push(Frame::Seq {
                        pos,
                        anchor,
                        items: Vec::new(),
                    });
                }
                Event::MappingStart(anchor, _) => {
                    self.enter(pos)?;
                    self.stack.push(Frame::Map {
                        pos,
                        anchor,
                        entries: Vec::new(),
                        pending_key: None,
                        index: None,
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let node = match self.stack.pop() {
                        Some(Frame::Seq { pos, anchor, items }) => {
                            let n = Node {
                                value: Value::Seq(items),
                                pos,
                            };
                            self.remember(anchor, &n)?;
                            n
                        }
                        Some(Frame::Map {
                            pos,
                            anchor,
                            entries,
                            ..
                        }) => {
                            let n = Node {
                                value: Value::Map(entries),
                                pos,
                            };
                            self.remember(anchor, &n)?;
                            n
                        }
                        None => continue,
                    };
                    self.push_node(node, &mut root, false, ScalarStyle::Plain)?;
                }
            }
        }
        Ok(self.docs)
    }

    fn enter(&mut self, pos: Pos) -> Result<(), LoadError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(LoadError::TooDeep { pos });
        }
        self.count(1, pos)
    }

    fn count(&mut self, n: usize, pos: Pos) -> Result<(), LoadError> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            Err(LoadError::TooManyNodes { pos })
        } else {
            Ok(())
        }
    }

    /// Keeps a copy of an anchored node for its aliases. Copies count against the node
    /// budget, so nested anchors cannot multiply memory unnoticed.
    fn remember(&mut self, anchor: usize, node: &Node) -> Result<(), LoadError> {
        if anchor != 0 {
            self.count(node_count(node), node.pos)?;
            self.anchors.push((anchor, node.clone()));
        }
        Ok(())
    }

    fn push_node(
        &mut self,
        node: Node,
        root: &mut Option<Node>,
        is_scalar: bool,
        style: ScalarStyle,
    ) -> Result<(), LoadError> {
        match self.stack.last_mut() {
            None => *root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                index,
                ..
            }) => match pending_key.take() {
                Some((key, key_pos)) => {
                    let first = match index {
                        Some(ix) => ix.get(&key).copied(),
                        None => entries.iter().find(|e| e.key == key).map(|e| e.key_pos),
                    };
                    if let Some(first) = first {
                        return Err(LoadError::DuplicateKey {
                            key,
                            pos: key_pos,
                            first,
                        });
                    }
                    if let Some(ix) = index {
                        ix.insert(key.clone(), key_pos);
                    } else if entries.len() >= 32 {
                        let mut ix: std::collections::HashMap<String, Pos> =
                            entries.iter().map(|e| (e.key.clone(), e.key_pos)).collect();
                        ix.insert(key.clone(), key_pos);
                        *index = Some(ix);
                    }
                    entries.push(Entry {
                        key,
                        key_pos,
                        value: node,
                    });
                }
                None => {
                    if !is_scalar {
                        return Err(LoadError::ComplexKey { pos: node.pos });
                    }
                    // JSON keys are strings: `1:` or `true:` become "1" / "true", like
                    // sigs.k8s.io/yaml does.
                    let key = match (node.value, style) {
                        (Value::Str(s), _) => s,
                        (Value::Null, ScalarStyle::Plain) => "null".to_string(),
                        (Value::Bool(b), _) => b.to_string(),
                        (Value::Int(i), _) => i.to_string(),
                        (Value::Float(f), _) => f.to_string(),
                        _ => return Err(LoadError::ComplexKey { pos: node.pos }),
                    };
                    *pending_key = Some((key, node.pos));
                }
            },
        }
        Ok(())
    }
}

/// YAML 1.1 scalar resolution as go-yaml v2 does it (what kubectl uses).
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    match tag {
        Some("str") => return Value::Str(text.to_string()),
        Some("null") => return Value::Null,
        Some("bool") => {
            return resolve_plain(text)
                .filter(|v| matches!(v, Value::Bool(_)))
                .unwrap_or_else(|| Value::Str(text.to_string()));
        }
        Some("int") | Some("float") => {
            return resolve_plain(text)
                .filter(|v| matches!(v, Value::Int(_) | Value::Float(_)))
                .unwrap_or_else(|| Value::Str(text.to_string()));
        }
        // Any other tag (`!foo 5`): go-yaml decodes the scalar as a string.
        Some(_) => return Value::Str(text.to_string()),
        None => {}
    }
    if style != ScalarStyle::Plain {
        return Value::Str(text.to_string());
    }
    resolve_plain(text).unwrap_or_else(|| Value::Str(text.to_string()))
}

fn resolve_plain(text: &str) -> Option<Value> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Some(Value::Bool(true));
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Some(Value::Bool(false));
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Some(Value::Float(f64::INFINITY));
        }
        "-.inf" | "-.Inf" | "-.INF" => return Some(Value::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Some(Value::Float(f64::NAN)),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return None;
    }
    resolve_int(text)
        .map(Value::Int)
        .or_else(|| resolve_float(text).map(Value::Float))
}

/// go-yaml v2 resolves integers with `strconv.ParseInt(s, 0, 64)` after removing `_`:
/// `0x`/`0X`, `0o`/`0O`, `0b`/`0B` prefixes and a leading `0` for octal.
fn resolve_int(text: &str) -> Option<i64> {
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    let (neg, body) = match clean.as_bytes().first()? {
        b'-' => (true, &clean[1..]),
        b'+' => (false, &clean[1..]),
        _ => (false, clean.as_str()),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i128::from_str_radix(digits, radix).ok()?;
    i64::try_from(if neg { -v } else { v }).ok()
}

fn resolve_float(text: &str) -> Option<f64> {
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    let body = clean.trim_start_matches(['-', '+']);
    let valid = !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        && body.chars().any(|c| c.is_ascii_digit());
    if !valid {
        return None;
    }
    // Out-of-range numbers (`1e400`) stay strings, as in go-yaml.
    clean.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// A string that reads back as the same string when written plain (unquoted).
fn plain_safe(s: &str) -> bool {
    !s.is_empty()
        && resolve_plain(s).is_none()
        && !s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@` ".contains(c))
        && !s.ends_with([' ', ':'])
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.chars().any(|c| c.is_control())
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) if plain_safe(s) => s.clone(),
        // JSON string escapes are valid YAML double-quoted escapes.
        serde_json::Value::String(s) => serde_json::Value::String(s.clone()).to_string(),
        other => other.to_string(),
    }
}

fn emit(v: &serde_json::Value, indent: usize, out: &mut String) {
    use serde_json::Value as J;
    let pad = " ".repeat(indent);
    match v {
        J::Object(map) => {
            for (k, val) in map {
                out.push_str(&pad);
                out.push_str(&scalar(&J::String(k.clone())));
                out.push(':');
                emit_child(val, indent, out);
            }
        }
        J::Array(items) => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                match item {
                    J::Object(m) if !m.is_empty() => {
                        // First key on the dash line, the rest aligned under it.
                        let mut inner = String::new();
                        emit(item, indent + 2, &mut inner);
                        out.push(' ');
                        out.push_str(inner.trim_start());
                    }
                    _ => emit_child(item, indent, out),
                }
            }
        }
        other => {
            out.push_str(&pad);
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn emit_child(v: &serde_json::Value, indent: usize, out: &mut String) {
    use serde_json::Value as J;
    match v {
        J::Object(m) if !m.is_empty() => {
            out.push('\n');
            emit(v, indent + 2, out);
        }
        J::Array(a) if !a.is_empty() => {
            out.push('\n');
            emit(v, indent, out);
        }
        J::Object(_) => out.push_str(" {}\n"),
        J::Array(_) => out.push_str(" []\n"),
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

/// Block-style YAML for a JSON value (`policy get -o yaml`, written configs). Reads back
/// through [`load_str`] as the same value.
pub fn to_yaml(v: &serde_json::Value) -> String {
    let mut out = String::new();
    match v {
        serde_json::Value::Object(m) if !m.is_empty() => emit(v, 0, &mut out),
        serde_json::Value::Array(a) if !a.is_empty() => emit(v, 0, &mut out),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let mut docs = load_str(text).unwrap();
        assert_eq!(docs.len(), 1);
        docs.remove(0).root
    }

    #[test]
    fn resolves_yaml_1_1_scalars_like_kubectl() {
        let n = one("a: yes\nb: 'yes'\nc: 012\nd: 0x1f\ne: 1.5\nf: ~\ng: 1_000\nh: /usr/bin\n");
        let get = |k: &str| n.get(k).unwrap().value.value.clone();
        assert_eq!(get("a"), Value::Bool(true));
        assert_eq!(get("b"), Value::Str("yes".into()));
        assert_eq!(get("c"), Value::Int(10));
        assert_eq!(get("d"), Value::Int(31));
        assert_eq!(get("e"), Value::Float(1.5));
        assert_eq!(get("f"), Value::Null);
        assert_eq!(get("g"), Value::Int(1000));
        assert_eq!(get("h"), Value::Str("/usr/bin".into()));
    }

    #[test]
    fn positions_are_one_based() {
        let n = one("kind: X\nspec:\n  severity: 5\n");
        let spec = n.get("spec").unwrap();
        assert_eq!(spec.key_pos, Pos { line: 2, col: 1 });
        let sev = spec.value.get("severity").unwrap();
        assert_eq!(sev.key_pos, Pos { line: 3, col: 3 });
        assert_eq!(sev.value.pos, Pos { line: 3, col: 13 });
    }

    #[test]
    fn multi_document_and_empty_documents() {
        let docs = load_str("a: 1\n---\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[1].root.value, Value::Null);
        assert!(load_str("").unwrap().is_empty());
        assert!(load_str("# only a comment\n").unwrap().is_empty());
    }

    #[test]
    fn hostile_inputs_fail_cleanly() {
        assert!(matches!(
            load_str("a: 1\na: 2\n"),
            Err(LoadError::DuplicateKey { .. })
        ));
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(matches!(load_str(&deep), Err(LoadError::TooDeep { .. })));
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            bomb += &format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            );
        }
        assert!(matches!(load_str(&bomb), Err(LoadError::AliasBomb { .. })));
        assert!(matches!(
            load_bytes(b"a: \x00"),
            Err(LoadError::NulByte {
                pos: Pos { line: 1, col: 4 }
            })
        ));
        assert!(matches!(
            load_bytes(b"a: b\nc: \xff"),
            Err(LoadError::NotUtf8 {
                pos: Pos { line: 2, col: 4 }
            })
        ));
        assert!(matches!(
            load_str("a: [1, 2"),
            Err(LoadError::Syntax { .. })
        ));
        assert!(matches!(
            load_str("? [a]\n: 1\n"),
            Err(LoadError::ComplexKey { .. })
        ));
    }

    #[test]
    fn yaml_round_trips() {
        let v = serde_json::json!({
            "apiVersion": "security.kubearmor.com/v1",
            "metadata": {"name": "x", "labels": {}},
            "spec": {"severity": 5, "tags": ["NIST", "yes", "a: b", "", "-x", "1.5"], "empty": [],
                     "process": {"matchPaths": [{"path": "/bin/a", "fromSource": [{"path": "/bin/b"}]}, {"path": "/bin/c"}]},
                     "message": "line\nbreak", "flag": true}
        });
        let text = to_yaml(&v);
        let back = load_str(&text).unwrap().remove(0).root.to_json();
        assert_eq!(back, v, "{text}");
    }

    #[test]
    fn json_prunes_nulls() {
        let n = one("a: 1\nb:\nc: [x]\n");
        assert_eq!(n.to_json().to_string(), r#"{"a":1,"c":["x"]}"#);
    }
}
