//! The structural schemas of KubeArmor's CRDs (`security.kubearmor.com/v1`), written out as
//! data, and the walker that checks a YAML tree against them the way the Kubernetes API
//! server does (types, patterns, enums, ranges, required fields, null pruning).
//!
//! The schemas are ours, but they must equal the CRDs': `Schema::from_openapi` reads a CRD's
//! `openAPIV3Schema`, and the conformance test compares the two trees node by node.

use super::Kind;
use super::syscalls::SYSCALLS;
use crate::yaml::{Node, Pos, Value};
use regex::Regex;
use std::sync::OnceLock;

#[derive(Clone, Debug)]
pub struct Pattern {
    pub source: String,
    regex: Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Pattern {
    fn new(source: &str) -> Pattern {
        // The CRD regexes are RE2; Rust's regex crate has the same syntax and the same
        // unanchored-search semantics as Go's regexp.MatchString.
        Pattern {
            source: source.to_string(),
            regex: Regex::new(source).expect("schema regex"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Schema {
    Object {
        /// `None` means the schema lists no properties: any fields are accepted
        /// (`metadata`, whose checks are the API server's ObjectMeta rules).
        properties: Option<Vec<(String, Schema)>>,
        required: Vec<String>,
        additional: Option<Box<Schema>>,
    },
    Array {
        items: Box<Schema>,
        max_items: Option<usize>,
    },
    String {
        pattern: Option<Pattern>,
        one_of: Option<Vec<String>>,
        max_length: Option<usize>,
    },
    Integer {
        minimum: Option<i64>,
        maximum: Option<i64>,
        format: Option<String>,
    },
    Boolean,
}

// ---- builders: keep the schema below readable next to the CRD ----

fn obj(props: Vec<(&str, Schema)>) -> Schema {
    let mut props: Vec<(String, Schema)> =
        props.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    props.sort_by(|a, b| a.0.cmp(&b.0));
    Schema::Object {
        properties: Some(props),
        required: Vec::new(),
        additional: None,
    }
}

fn required(mut schema: Schema, names: &[&str]) -> Schema {
    if let Schema::Object { required, .. } = &mut schema {
        *required = names.iter().map(|s| s.to_string()).collect();
        required.sort();
    }
    schema
}

fn arr(items: Schema) -> Schema {
    Schema::Array {
        items: Box::new(items),
        max_items: None,
    }
}

fn string() -> Schema {
    Schema::String {
        pattern: None,
        one_of: None,
        max_length: None,
    }
}

fn pattern(re: &str) -> Schema {
    Schema::String {
        pattern: Some(Pattern::new(re)),
        one_of: None,
        max_length: None,
    }
}

fn one_of(values: &[&str]) -> Schema {
    Schema::String {
        pattern: None,
        one_of: Some(values.iter().map(|s| s.to_string()).collect()),
        max_length: None,
    }
}

fn boolean() -> Schema {
    Schema::Boolean
}

fn int32() -> Schema {
    Schema::Integer {
        minimum: None,
        maximum: None,
        format: Some("int32".into()),
    }
}

pub const PATH_RE: &str = r"^\/+.*[^\/]$";
pub const DIR_RE: &str = r"^\/$|^\/.*\/$";
pub const SYSCALL_PATH_RE: &str = r"(^\/+.*[^\/]$)|(^\/$|^\/.*\/$)";
pub const EXECNAME_RE: &str = r"^[^\/]+$";
pub const PROTOCOLS: &[&str] = &[
    "tcp",
    "TCP",
    "udp",
    "UDP",
    "raw",
    "RAW",
    "icmp",
    "ICMP",
    "icmpv6",
    "ICMPV6",
    "sctp",
    "SCTP",
    "stream",
    "STREAM",
    "dgram",
    "DGRAM",
    "rdm",
    "RDM",
    "seqpacket",
    "SEQPACKET",
    "dccp",
    "DCCP",
    "packet",
    "PACKET",
    "all",
    "ALL",
];
pub const CAPABILITIES: &[&str] = &[
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
];
pub const ACTIONS: &[&str] = &["Allow", "Audit", "Block"];

fn match_path() -> Schema {
    let Schema::String {
        pattern, one_of, ..
    } = pattern(PATH_RE)
    else {
        unreachable!()
    };
    Schema::String {
        pattern,
        one_of,
        max_length: Some(200),
    }
}

fn severity() -> Schema {
    Schema::Integer {
        minimum: Some(1),
        maximum: Some(10),
        format: None,
    }
}

fn from_source() -> Schema {
    arr(obj(vec![("path", match_path())]))
}

/// severity/tags/message (+ action) that every section and rule carries.
fn with_info(mut props: Vec<(&'static str, Schema)>, action: bool) -> Vec<(&'static str, Schema)> {
    props.push(("severity", severity()));
    props.push(("tags", arr(string())));
    props.push(("message", string()));
    if action {
        props.push(("action", one_of(ACTIONS)));
    }
    props
}

fn rule(props: Vec<(&'static str, Schema)>) -> Schema {
    obj(with_info(props, true))
}

fn section(props: Vec<(&'static str, Schema)>) -> Schema {
    obj(with_info(props, true))
}

fn process() -> Schema {
    section(vec![
        (
            "matchPaths",
            arr(rule(vec![
                ("path", match_path()),
                ("execname", pattern(EXECNAME_RE)),
                ("ownerOnly", boolean()),
                ("pts", boolean()),
                ("fromSource", from_source()),
                (
                    "allowedArgs",
                    Schema::Array {
                        items: Box::new(string()),
                        max_items: Some(20),
                    },
                ),
            ])),
        ),
        (
            "matchDirectories",
            arr(required(
                rule(vec![
                    ("dir", pattern(DIR_RE)),
                    ("recursive", boolean()),
                    ("ownerOnly", boolean()),
                    ("pts", boolean()),
                    ("fromSource", from_source()),
                ]),
                &["dir"],
            )),
        ),
        (
            "matchPatterns",
            arr(required(
                rule(vec![("pattern", string()), ("ownerOnly", boolean())]),
                &["pattern"],
            )),
        ),
    ])
}

fn file() -> Schema {
    section(vec![
        (
            "matchPaths",
            arr(required(
                rule(vec![
                    ("path", match_path()),
                    ("readOnly", boolean()),
                    ("ownerOnly", boolean()),
                    ("pts", boolean()),
                    ("fromSource", from_source()),
                ]),
                &["path"],
            )),
        ),
        (
            "matchDirectories",
            arr(required(
                rule(vec![
                    ("dir", pattern(DIR_RE)),
                    ("recursive", boolean()),
                    ("readOnly", boolean()),
                    ("ownerOnly", boolean()),
                    ("pts", boolean()),
                    ("fromSource", from_source()),
                ]),
                &["dir"],
            )),
        ),
        (
            "matchPatterns",
            arr(required(
                rule(vec![
                    ("pattern", string()),
                    ("readOnly", boolean()),
                    ("ownerOnly", boolean()),
                ]),
                &["pattern"],
            )),
        ),
    ])
}

fn protocol_pattern() -> String {
    format!("({})$", PROTOCOLS.join("|"))
}

fn capability_pattern() -> String {
    format!("({})$", CAPABILITIES.join("|"))
}

fn network(host: bool) -> Schema {
    let protocols = if host {
        required(
            rule(vec![
                ("protocol", pattern(&protocol_pattern())),
                ("fromSource", from_source()),
            ]),
            &["protocol", "fromSource"],
        )
    } else {
        required(
            rule(vec![
                ("protocol", pattern(&protocol_pattern())),
                ("pts", boolean()),
                ("fromSource", from_source()),
            ]),
            &["protocol"],
        )
    };
    section(vec![
        ("matchProtocols", arr(protocols)),
        (
            "matchDNSQueries",
            arr(required(
                rule(vec![("domain", string()), ("fromSource", from_source())]),
                &["domain"],
            )),
        ),
    ])
}

fn capabilities(host: bool) -> Schema {
    let item = rule(vec![
        ("capability", pattern(&capability_pattern())),
        ("fromSource", from_source()),
    ]);
    let item = if host {
        required(item, &["capability", "fromSource"])
    } else {
        required(item, &["capability"])
    };
    section(vec![("matchCapabilities", arr(item))])
}

fn syscalls() -> Schema {
    let names = arr(one_of(SYSCALLS));
    let source = arr(obj(vec![
        ("path", match_path()),
        ("dir", string()),
        ("recursive", boolean()),
    ]));
    obj(with_info(
        vec![
            (
                "matchSyscalls",
                arr(obj(vec![
                    ("syscall", names.clone()),
                    ("fromSource", source.clone()),
                ])),
            ),
            (
                "matchPaths",
                arr(obj(vec![
                    ("path", pattern(SYSCALL_PATH_RE)),
                    ("recursive", boolean()),
                    ("syscall", names),
                    ("fromSource", source),
                ])),
            ),
        ],
        false,
    ))
}

fn device() -> Schema {
    let level = Schema::Integer {
        minimum: Some(1),
        maximum: None,
        format: Some("int32".into()),
    };
    section(vec![(
        "matchDevice",
        arr(required(
            rule(vec![
                ("class", string()),
                ("subClass", int32()),
                ("protocol", int32()),
                ("level", level),
            ]),
            &["class"],
        )),
    )])
}

fn presets() -> Schema {
    arr(obj(vec![("name", string()), ("action", one_of(ACTIONS))]))
}

fn spec(kind: Kind) -> Schema {
    let mut props: Vec<(&str, Schema)> = vec![
        ("process", process()),
        ("file", file()),
        ("syscalls", syscalls()),
        ("apparmor", string()),
        ("severity", severity()),
        ("tags", arr(string())),
        ("message", string()),
        ("action", one_of(ACTIONS)),
    ];
    let labels = || Schema::Object {
        properties: None,
        required: Vec::new(),
        additional: Some(Box::new(string())),
    };
    match kind {
        Kind::KubeArmorPolicy | Kind::KubeArmorClusterPolicy => {
            let keys: &[&str] = if kind == Kind::KubeArmorPolicy {
                &["label"]
            } else {
                &["namespace", "label"]
            };
            let expr = obj(vec![
                ("key", one_of(keys)),
                ("operator", one_of(&["In", "NotIn"])),
                ("values", arr(string())),
            ]);
            let mut selector = vec![("matchExpressions", arr(expr))];
            if kind == Kind::KubeArmorPolicy {
                selector.push(("matchLabels", labels()));
            }
            props.push(("selector", obj(selector)));
            props.push(("network", network(false)));
            props.push(("capabilities", capabilities(false)));
            props.push(("presets", presets()));
            obj(props)
        }
        Kind::KubeArmorHostPolicy => {
            props.push(("nodeSelector", obj(vec![("matchLabels", labels())])));
            props.push(("network", network(true)));
            props.push(("capabilities", capabilities(true)));
            props.push(("device", device()));
            required(obj(props), &["nodeSelector"])
        }
    }
}

fn build(kind: Kind) -> Schema {
    let any_object = Schema::Object {
        properties: None,
        required: Vec::new(),
        additional: None,
    };
    obj(vec![
        ("apiVersion", string()),
        ("kind", string()),
        ("metadata", any_object),
        ("spec", spec(kind)),
        ("status", obj(vec![("status", string())])),
    ])
}

/// The schema of one kind, built once.
pub fn for_kind(kind: Kind) -> &'static Schema {
    static KSP: OnceLock<Schema> = OnceLock::new();
    static HSP: OnceLock<Schema> = OnceLock::new();
    static CSP: OnceLock<Schema> = OnceLock::new();
    let cell = match kind {
        Kind::KubeArmorPolicy => &KSP,
        Kind::KubeArmorHostPolicy => &HSP,
        Kind::KubeArmorClusterPolicy => &CSP,
    };
    cell.get_or_init(|| build(kind))
}

impl Schema {
    /// Reads an OpenAPI v3 schema (as found in a CRD's `openAPIV3Schema`), keeping only the
    /// parts that affect validation. Errors name the first construct we do not model, so a
    /// CRD that grows a new kind of constraint makes the conformance test fail loudly.
    pub fn from_openapi(node: &Node) -> Result<Schema, String> {
        let field = |k: &str| node.get(k).map(|e| &e.value);
        for e in match &node.value {
            Value::Map(entries) => entries,
            _ => return Err(format!("schema at {} is not a mapping", node.pos)),
        } {
            let known = [
                "type",
                "properties",
                "required",
                "items",
                "additionalProperties",
                "pattern",
                "enum",
                "maxLength",
                "maxItems",
                "minimum",
                "maximum",
                "format",
                "description",
            ];
            if !known.contains(&e.key.as_str()) {
                return Err(format!(
                    "unsupported schema keyword '{}' at {}",
                    e.key, e.key_pos
                ));
            }
        }
        let strings = |n: Option<&Node>| -> Result<Option<Vec<String>>, String> {
            match n.map(|n| &n.value) {
                None => Ok(None),
                Some(Value::Seq(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| format!("non-string at {}", i.pos))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => Err(format!("expected a list at {}", node.pos)),
            }
        };
        let int = |k: &str| match field(k).map(|n| &n.value) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        };
        let ty = field("type").and_then(Node::as_str).unwrap_or("");
        Ok(match ty {
            "object" => {
                let properties = match field("properties").map(|n| &n.value) {
                    Some(Value::Map(entries)) => {
                        let mut props = entries
                            .iter()
                            .map(|e| Ok((e.key.clone(), Schema::from_openapi(&e.value)?)))
                            .collect::<Result<Vec<_>, String>>()?;
                        props.sort_by(|a, b| a.0.cmp(&b.0));
                        Some(props)
                    }
                    _ => None,
                };
                let mut required = strings(field("required"))?.unwrap_or_default();
                required.sort();
                let additional = match field("additionalProperties") {
                    Some(n) => Some(Box::new(Schema::from_openapi(n)?)),
                    None => None,
                };
                Schema::Object {
                    properties,
                    required,
                    additional,
                }
            }
            "array" => {
                let items =
                    field("items").ok_or_else(|| format!("array without items at {}", node.pos))?;
                Schema::Array {
                    items: Box::new(Schema::from_openapi(items)?),
                    max_items: int("maxItems").map(|v| v as usize),
                }
            }
            "string" => Schema::String {
                pattern: field("pattern").and_then(Node::as_str).map(Pattern::new),
                one_of: strings(field("enum"))?,
                max_length: int("maxLength").map(|v| v as usize),
            },
            "integer" => Schema::Integer {
                minimum: int("minimum"),
                maximum: int("maximum"),
                format: field("format").and_then(Node::as_str).map(str::to_string),
            },
            "boolean" => Schema::Boolean,
            other => return Err(format!("unsupported type '{other}' at {}", node.pos)),
        })
    }

    /// Names of the properties, for did-you-mean hints.
    pub fn property_names(&self) -> Vec<&str> {
        match self {
            Schema::Object {
                properties: Some(p),
                ..
            } => p.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    pub fn property(&self, name: &str) -> Option<&Schema> {
        match self {
            Schema::Object {
                properties: Some(p),
                ..
            } => p
                .binary_search_by(|(k, _)| k.as_str().cmp(name))
                .ok()
                .map(|i| &p[i].1),
            _ => None,
        }
    }
}

/// What the schema walk found wrong at one place.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    pub pos: Pos,
    pub field: String,
    pub problem: Problem,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    /// A field the schema does not define: pruned by the API server (warning), or an
    /// error in strict mode. Carries the known sibling names for a hint.
    Unknown {
        known: Vec<String>,
    },
    Required,
    Type {
        expected: &'static str,
        found: &'static str,
    },
    Pattern {
        value: String,
        pattern: String,
    },
    Enum {
        value: String,
        allowed: Vec<String>,
    },
    MaxLength {
        len: usize,
        max: usize,
    },
    MaxItems {
        len: usize,
        max: usize,
    },
    Minimum {
        value: i64,
        min: i64,
    },
    Maximum {
        value: i64,
        max: i64,
    },
}

fn join_field(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Walks `node` against `schema`, appending violations. Nulls in object fields are pruned
/// first (the API server does the same), so `tags:` with no value is fine unless required.
pub fn check(schema: &Schema, node: &Node, field: &str, out: &mut Vec<Violation>) {
    let mut push = |problem| {
        out.push(Violation {
            pos: node.pos,
            field: field.to_string(),
            problem,
        })
    };
    match schema {
        Schema::Object {
            properties,
            required,
            additional,
        } => {
            let Value::Map(entries) = &node.value else {
                return push(Problem::Type {
                    expected: "object",
                    found: node.type_name(),
                });
            };
            for name in required {
                let present = entries
                    .iter()
                    .any(|e| &e.key == name && e.value.value != Value::Null);
                if !present {
                    out.push(Violation {
                        pos: node.pos,
                        field: join_field(field, name),
                        problem: Problem::Required,
                    });
                }
            }
            for e in entries {
                if e.value.value == Value::Null {
                    continue;
                }
                let sub = join_field(field, &e.key);
                match (properties, additional) {
                    (Some(_), _) => match schema.property(&e.key) {
                        Some(s) => check(s, &e.value, &sub, out),
                        None => match additional {
                            Some(a) => check(a, &e.value, &sub, out),
                            None => out.push(Violation {
                                pos: e.key_pos,
                                field: sub,
                                problem: Problem::Unknown {
                                    known: schema
                                        .property_names()
                                        .iter()
                                        .map(|s| s.to_string())
                                        .collect(),
                                },
                            }),
                        },
                    },
                    (None, Some(a)) => check(a, &e.value, &sub, out),
                    (None, None) => {}
                }
            }
        }
        Schema::Array { items, max_items } => {
            let Value::Seq(list) = &node.value else {
                return push(Problem::Type {
                    expected: "array",
                    found: node.type_name(),
                });
            };
            if let Some(max) = max_items
                && list.len() > *max
            {
                push(Problem::MaxItems {
                    len: list.len(),
                    max: *max,
                });
            }
            for (i, item) in list.iter().enumerate() {
                check(items, item, &format!("{field}[{i}]"), out);
            }
        }
        Schema::String {
            pattern,
            one_of,
            max_length,
        } => {
            let Value::Str(s) = &node.value else {
                return push(Problem::Type {
                    expected: "string",
                    found: node.type_name(),
                });
            };
            if let Some(max) = max_length {
                let len = s.chars().count();
                if len > *max {
                    push(Problem::MaxLength { len, max: *max });
                }
            }
            if let Some(values) = one_of
                && !values.iter().any(|v| v == s)
            {
                push(Problem::Enum {
                    value: s.clone(),
                    allowed: values.clone(),
                });
            }
            if let Some(p) = pattern
                && !p.regex.is_match(s)
            {
                push(Problem::Pattern {
                    value: s.clone(),
                    pattern: p.source.clone(),
                });
            }
        }
        Schema::Integer {
            minimum, maximum, ..
        } => {
            let v = match node.value {
                Value::Int(i) => i,
                // JSON has one number type: 5.0 is an acceptable integer to the API server.
                Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => f as i64,
                _ => {
                    return push(Problem::Type {
                        expected: "integer",
                        found: node.type_name(),
                    });
                }
            };
            if let Some(min) = minimum
                && v < *min
            {
                push(Problem::Minimum {
                    value: v,
                    min: *min,
                });
            }
            if let Some(max) = maximum
                && v > *max
            {
                push(Problem::Maximum {
                    value: v,
                    max: *max,
                });
            }
        }
        Schema::Boolean => {
            if !matches!(node.value, Value::Bool(_)) {
                push(Problem::Type {
                    expected: "boolean",
                    found: node.type_name(),
                });
            }
        }
    }
}

/// The JSON the API server would store: fields the schema does not define are pruned
/// (recursively), as are nulls, so that nothing the CRD drops reaches the rule set.
pub fn pruned_json(schema: &Schema, node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match (schema, &node.value) {
        (
            Schema::Object {
                properties,
                additional,
                ..
            },
            Value::Map(entries),
        ) => J::Object(
            entries
                .iter()
                .filter(|e| e.value.value != Value::Null)
                .filter_map(|e| {
                    let sub = match properties {
                        Some(_) => schema.property(&e.key).or(additional.as_deref()),
                        None => additional.as_deref(),
                    };
                    match (sub, properties) {
                        (Some(s), _) => Some((e.key.clone(), pruned_json(s, &e.value))),
                        // No properties listed at all (metadata): kept as written.
                        (None, None) => Some((e.key.clone(), e.value.to_json())),
                        (None, Some(_)) => None,
                    }
                })
                .collect(),
        ),
        (Schema::Array { items, .. }, Value::Seq(list)) => {
            J::Array(list.iter().map(|i| pruned_json(items, i)).collect())
        }
        _ => node.to_json(),
    }
}
