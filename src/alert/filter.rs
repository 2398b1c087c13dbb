//! Filter expressions over alerts (`--filter PolicyName=x`, `Resource~^/etc/`, `Severity>=5`)
//! and `--since` durations: parsing with errors that say what is wrong, and evaluation on an
//! [`Alert`]. The store pushes what SQL can answer into its query and calls [`Filter::matches`]
//! for the rest, so both paths share these semantics:
//!
//! - `=` / `!=` compare exactly (case-sensitive, as KubeArmor's values are fixed words) on text
//!   fields and numerically on numeric fields; `ATags` holds when any tag is (or none is) equal.
//! - `~` is an unanchored regular expression (Rust `regex` syntax; `(?i)` for case-insensitive).
//! - `>=`, `<=`, `>`, `<` exist only for the numeric fields. `Severity` is a string in the alert
//!   (`"10"`); a severity that is not a number satisfies no comparison except `!=`.

use super::Alert;
use crate::policy::suggest::suggest;
use regex::Regex;
use std::fmt;
use std::time::Duration;

/// A filterable alert field, named as in KubeArmor's JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Timestamp,
    UpdatedTime,
    ClusterName,
    HostName,
    NamespaceName,
    PodName,
    Labels,
    ContainerID,
    ContainerName,
    ContainerImage,
    HostPPID,
    HostPID,
    PPID,
    PID,
    UID,
    ParentProcessName,
    ProcessName,
    PolicyName,
    Severity,
    Tags,
    ATags,
    Message,
    Type,
    Source,
    Operation,
    Resource,
    Data,
    Enforcer,
    Action,
    Result,
    Cwd,
    TTY,
}

/// The value of one field of one alert, borrowed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldValue<'a> {
    Str(&'a str),
    Int(i64),
    List(&'a [String]),
}

impl Field {
    pub const ALL: [Field; 32] = [
        Field::Timestamp,
        Field::UpdatedTime,
        Field::ClusterName,
        Field::HostName,
        Field::NamespaceName,
        Field::PodName,
        Field::Labels,
        Field::ContainerID,
        Field::ContainerName,
        Field::ContainerImage,
        Field::HostPPID,
        Field::HostPID,
        Field::PPID,
        Field::PID,
        Field::UID,
        Field::ParentProcessName,
        Field::ProcessName,
        Field::PolicyName,
        Field::Severity,
        Field::Tags,
        Field::ATags,
        Field::Message,
        Field::Type,
        Field::Source,
        Field::Operation,
        Field::Resource,
        Field::Data,
        Field::Enforcer,
        Field::Action,
        Field::Result,
        Field::Cwd,
        Field::TTY,
    ];

    /// The JSON name, as KubeArmor spells it.
    pub fn name(self) -> &'static str {
        match self {
            Field::Timestamp => "Timestamp",
            Field::UpdatedTime => "UpdatedTime",
            Field::ClusterName => "ClusterName",
            Field::HostName => "HostName",
            Field::NamespaceName => "NamespaceName",
            Field::PodName => "PodName",
            Field::Labels => "Labels",
            Field::ContainerID => "ContainerID",
            Field::ContainerName => "ContainerName",
            Field::ContainerImage => "ContainerImage",
            Field::HostPPID => "HostPPID",
            Field::HostPID => "HostPID",
            Field::PPID => "PPID",
            Field::PID => "PID",
            Field::UID => "UID",
            Field::ParentProcessName => "ParentProcessName",
            Field::ProcessName => "ProcessName",
            Field::PolicyName => "PolicyName",
            Field::Severity => "Severity",
            Field::Tags => "Tags",
            Field::ATags => "ATags",
            Field::Message => "Message",
            Field::Type => "Type",
            Field::Source => "Source",
            Field::Operation => "Operation",
            Field::Resource => "Resource",
            Field::Data => "Data",
            Field::Enforcer => "Enforcer",
            Field::Action => "Action",
            Field::Result => "Result",
            Field::Cwd => "Cwd",
            Field::TTY => "TTY",
        }
    }

    /// Case-insensitive lookup by JSON name.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// The values a field can have, for fields KubeArmor fills from a fixed set: a filter
    /// value is matched against them whatever its case (`Action=block`), and one outside
    /// them is refused.
    pub fn values(self) -> Option<&'static [&'static str]> {
        match self {
            Field::Action => Some(&["Block", "Audit", "Allow", "Audit (Block)"]),
            Field::Operation => Some(&["Process", "File", "Network", "Capabilities", "Syscall"]),
            _ => None,
        }
    }

    /// Fields compared as integers and allowed with `<`, `<=`, `>`, `>=`.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Field::Timestamp
                | Field::PID
                | Field::PPID
                | Field::HostPID
                | Field::HostPPID
                | Field::UID
                | Field::Severity
        )
    }

    pub fn value(self, a: &Alert) -> FieldValue<'_> {
        use FieldValue::{Int, List, Str};
        match self {
            Field::Timestamp => Int(a.timestamp),
            Field::UpdatedTime => Str(&a.updated_time),
            Field::ClusterName => Str(&a.cluster_name),
            Field::HostName => Str(&a.host_name),
            Field::NamespaceName => Str(&a.namespace_name),
            Field::PodName => Str(&a.pod_name),
            Field::Labels => Str(&a.labels),
            Field::ContainerID => Str(&a.container_id),
            Field::ContainerName => Str(&a.container_name),
            Field::ContainerImage => Str(&a.container_image),
            Field::HostPPID => Int(a.host_ppid.into()),
            Field::HostPID => Int(a.host_pid.into()),
            Field::PPID => Int(a.ppid.into()),
            Field::PID => Int(a.pid.into()),
            Field::UID => Int(a.uid.into()),
            Field::ParentProcessName => Str(&a.parent_process_name),
            Field::ProcessName => Str(&a.process_name),
            Field::PolicyName => Str(&a.policy_name),
            Field::Severity => Str(&a.severity),
            Field::Tags => Str(&a.tags),
            Field::ATags => List(&a.atags),
            Field::Message => Str(&a.message),
            Field::Type => Str(&a.kind),
            Field::Source => Str(&a.source),
            Field::Operation => Str(&a.operation),
            Field::Resource => Str(&a.resource),
            Field::Data => Str(&a.data),
            Field::Enforcer => Str(&a.enforcer),
            Field::Action => Str(&a.action),
            Field::Result => Str(&a.result),
            Field::Cwd => Str(&a.cwd),
            Field::TTY => Str(&a.tty),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Regex,
    /// `!~`: the value does not match the regular expression (no element does, for lists).
    NotRegex,
    Ge,
    Le,
    Gt,
    Lt,
}

impl Op {
    /// Every operator (the man page lists them from here).
    pub const ALL: [Op; 8] = [
        Op::Eq,
        Op::Ne,
        Op::Regex,
        Op::NotRegex,
        Op::Ge,
        Op::Le,
        Op::Gt,
        Op::Lt,
    ];

    pub fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Regex => "~",
            Op::NotRegex => "!~",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Lt => "<",
        }
    }

    fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Op::Eq => ord == Equal,
            Op::Ne => ord != Equal,
            Op::Ge => ord != Less,
            Op::Le => ord != Greater,
            Op::Gt => ord == Greater,
            Op::Lt => ord == Less,
            Op::Regex | Op::NotRegex => unreachable!("regex is not an ordering"),
        }
    }
}

/// What a filter compares with, decided at parse time.
#[derive(Clone, Debug)]
pub enum Operand {
    Text(String),
    Int(i64),
    Regex(Regex),
}

/// One parsed `--filter` expression.
#[derive(Clone, Debug)]
pub struct Filter {
    pub field: Field,
    pub op: Op,
    pub operand: Operand,
}

/// Why a `--filter` expression was rejected. Display names the expression.
#[derive(Debug, thiserror::Error)]
#[error("invalid filter '{expr}': {kind}")]
pub struct FilterError {
    pub expr: String,
    pub kind: FilterErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub enum FilterErrorKind {
    #[error(
        "empty expression; expected FIELD=VALUE, FIELD!=VALUE, FIELD~REGEX, FIELD!~REGEX or FIELD>=N"
    )]
    Empty,
    #[error("no field name before '{0}'; expected FIELD{0}VALUE, e.g. PolicyName{0}...")]
    MissingField(&'static str),
    #[error(
        "no operator after '{field}'; expected one of = == != ~ !~ >= <= > < (e.g. {field}=VALUE)"
    )]
    MissingOperator { field: String },
    #[error(
        "{field} has no value '{value}'; its values are {} (case does not matter)",
        .values.join(", ")
    )]
    UnknownValue {
        field: Field,
        value: String,
        values: &'static [&'static str],
    },
    #[error("unknown field '{name}'{}", did_you_mean(.suggestion))]
    UnknownField {
        name: String,
        suggestion: Option<&'static str>,
    },
    #[error(
        "'{op}' compares numbers, and {field} is text; use = != ~ or !~ (numeric fields: Timestamp, PID, PPID, HostPID, HostPPID, UID, Severity)"
    )]
    NotNumeric { field: Field, op: &'static str },
    #[error("{field} is numeric, so '{value}' must be an integer{}", if *.field == Field::Timestamp { " (seconds since the epoch; see also --since)" } else { "" })]
    NotAnInteger { field: Field, value: String },
    #[error("bad regular expression: {0}")]
    BadRegex(String),
}

/// Whether `s` begins with a known field name followed by an operator (after a comma,
/// that starts a new expression).
fn starts_expression(s: &str) -> bool {
    let s = s.trim_start();
    let end = s.find(['=', '!', '~', '<', '>']).unwrap_or(s.len());
    end > 0 && end < s.len() && Field::from_name(s[..end].trim()).is_some()
}

fn did_you_mean(s: &Option<&'static str>) -> String {
    match s {
        Some(s) => format!(" (did you mean '{s}'?)"),
        None => {
            let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
            format!("; the fields are {}", names.join(", "))
        }
    }
}

impl Filter {
    /// Parses one `--filter` argument: one `Field<op>value`, or several joined by commas as
    /// kubectl's field selectors are (`PolicyName=a,Action=Block`: all must hold). A comma
    /// separates expressions only where a known field name and an operator follow it, so a
    /// value keeps its commas (`Data=flags=O_RDONLY,O_CLOEXEC`).
    pub fn parse_all(expr: &str) -> Result<Vec<Filter>, FilterError> {
        let mut parts: Vec<&str> = Vec::new();
        let mut start = 0;
        for (i, _) in expr.match_indices(',') {
            if starts_expression(&expr[i + 1..]) {
                parts.push(&expr[start..i]);
                start = i + 1;
            }
        }
        parts.push(&expr[start..]);
        parts.into_iter().map(Filter::parse).collect()
    }

    /// Parses `Field<op>value`. The operator is the first of `= == != ~ !~ >= <= > <` in the
    /// text; everything after it is the value (spaces around it trimmed, further `=` kept),
    /// so `Message=Someone accessed running process` and `Data=flags=O_RDONLY` work. Values of
    /// fields with a fixed set of values (Action, Operation) match whatever their case, and
    /// a value outside the set is an error rather than a query that can never match.
    pub fn parse(expr: &str) -> Result<Filter, FilterError> {
        let err = |kind| FilterError {
            expr: expr.to_string(),
            kind,
        };
        if expr.trim().is_empty() {
            return Err(err(FilterErrorKind::Empty));
        }
        // The name ends at the first operator character: names have none, values may.
        let Some(pos) = expr.find(['=', '!', '~', '<', '>']) else {
            return Err(err(FilterErrorKind::MissingOperator {
                field: expr.trim().to_string(),
            }));
        };
        let (name, rest) = (expr[..pos].trim(), &expr[pos..]);
        const OPS: [(&str, Op); 9] = [
            // `==` as in kubectl's field selectors; before `=`, so that it is not `=` with a
            // value starting with `=`.
            ("==", Op::Eq),
            ("!~", Op::NotRegex),
            ("!=", Op::Ne),
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("=", Op::Eq),
            ("~", Op::Regex),
            (">", Op::Gt),
            ("<", Op::Lt),
        ];
        let Some(&(symbol, op)) = OPS.iter().find(|(s, _)| rest.starts_with(s)) else {
            // A lone '!'.
            return Err(err(FilterErrorKind::MissingOperator {
                field: name.to_string(),
            }));
        };
        if name.is_empty() {
            return Err(err(FilterErrorKind::MissingField(symbol)));
        }
        let value = rest[symbol.len()..].trim();
        let Some(field) = Field::from_name(name) else {
            return Err(err(FilterErrorKind::UnknownField {
                name: name.to_string(),
                // `Policy Name` and `policy_name` mean PolicyName.
                suggestion: suggest(
                    &name.replace([' ', '_', '-'], ""),
                    Field::ALL.iter().map(|f| f.name()),
                ),
            }));
        };
        let operand = match op {
            Op::Regex | Op::NotRegex => Operand::Regex(
                Regex::new(value).map_err(|e| err(FilterErrorKind::BadRegex(e.to_string())))?,
            ),
            _ if field.is_numeric() => match value.trim().parse::<i64>() {
                Ok(n) => Operand::Int(n),
                Err(_) => {
                    return Err(err(FilterErrorKind::NotAnInteger {
                        field,
                        value: value.to_string(),
                    }));
                }
            },
            Op::Eq | Op::Ne => match field.values() {
                Some(values) => match values.iter().find(|v| v.eq_ignore_ascii_case(value)) {
                    Some(v) => Operand::Text(v.to_string()),
                    None => {
                        return Err(err(FilterErrorKind::UnknownValue {
                            field,
                            value: value.to_string(),
                            values,
                        }));
                    }
                },
                None => Operand::Text(value.to_string()),
            },
            _ => return Err(err(FilterErrorKind::NotNumeric { field, op: symbol })),
        };
        Ok(Filter { field, op, operand })
    }

    pub fn matches(&self, alert: &Alert) -> bool {
        self.matches_value(self.field.value(alert))
    }

    /// Evaluates the filter on one field value; the store calls this with column values.
    pub fn matches_value(&self, v: FieldValue<'_>) -> bool {
        match (&self.operand, v) {
            (Operand::Regex(re), FieldValue::Str(s)) => re.is_match(s) == (self.op == Op::Regex),
            (Operand::Regex(re), FieldValue::Int(n)) => {
                re.is_match(&n.to_string()) == (self.op == Op::Regex)
            }
            (Operand::Regex(re), FieldValue::List(l)) => {
                l.iter().any(|s| re.is_match(s)) == (self.op == Op::Regex)
            }
            (Operand::Int(want), FieldValue::Int(n)) => self.op.holds(n.cmp(want)),
            // Severity: a number carried as a string.
            (Operand::Int(want), FieldValue::Str(s)) => match s.trim().parse::<i64>() {
                Ok(n) => self.op.holds(n.cmp(want)),
                Err(_) => self.op == Op::Ne,
            },
            (Operand::Text(want), FieldValue::Str(s)) => (s == want) == (self.op == Op::Eq),
            (Operand::Text(want), FieldValue::List(l)) => {
                l.iter().any(|s| s == want) == (self.op == Op::Eq)
            }
            // Parsing never pairs a text operand with a numeric field or the reverse.
            (Operand::Text(_), FieldValue::Int(_)) | (Operand::Int(_), FieldValue::List(_)) => {
                false
            }
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = match &self.operand {
            Operand::Text(s) => s.clone(),
            Operand::Int(n) => n.to_string(),
            Operand::Regex(r) => r.as_str().to_string(),
        };
        write!(f, "{}{}{}", self.field, self.op.symbol(), value)
    }
}

/// True when every filter holds (an empty list holds for every alert).
pub fn all_match(filters: &[Filter], alert: &Alert) -> bool {
    filters.iter().all(|f| f.matches(alert))
}

/// Why a `--since` duration was rejected.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid duration '{input}': {reason}; expected a number and a unit (s, m, h, d, w), e.g. 30s, 10m, 2h, 7d or 1h30m"
)]
pub struct DurationError {
    pub input: String,
    pub reason: &'static str,
}

/// Parses `30s`, `10m`, `2h`, `7d`, `1w` and sums like `1h30m`.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let err = |reason| DurationError {
        input: input.to_string(),
        reason,
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err("it is empty"));
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(err("a unit must follow a number"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| err("the number is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let secs: u64 = match &rest[..unit_len] {
            "" => return Err(err("the unit is missing")),
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return Err(err("unknown unit")),
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(secs)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| err("the duration is too large"))?;
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        Alert {
            timestamp: 1716918832,
            host_name: "ubuntu-2gb-hel1-1".into(),
            host_pid: 15117,
            pid: 15117,
            uid: 0,
            process_name: "/usr/bin/apt".into(),
            policy_name: "block-pkg-mgmt-tools".into(),
            severity: "10".into(),
            atags: vec!["NIST".into(), "CM-7".into()],
            kind: "MatchedHostPolicy".into(),
            operation: "Process".into(),
            resource: "/usr/bin/apt".into(),
            action: "Block".into(),
            result: "Permission denied".into(),
            message: "apt was attempted to be executed".into(),
            ..Alert::default()
        }
    }

    fn m(expr: &str) -> bool {
        Filter::parse(expr).unwrap().matches(&alert())
    }

    fn e(expr: &str) -> String {
        Filter::parse(expr).unwrap_err().to_string()
    }

    #[test]
    fn operators_on_text_and_numbers() {
        assert!(m("PolicyName=block-pkg-mgmt-tools"));
        assert!(!m("PolicyName=block"));
        assert!(m("Action!=Audit"));
        assert!(!m("Action!=Block"));
        assert!(m("Resource~^/usr/bin/"));
        assert!(!m("Resource~^/etc/"));
        assert!(m("Severity>=5") && m("Severity>9") && m("Severity<=10") && !m("Severity<10"));
        assert!(m("Severity=10") && m("Severity!=9"));
        assert!(m("PID>15000") && m("HostPID=15117") && m("UID=0") && m("UID<1"));
        assert!(m("Timestamp>=1716918832") && !m("Timestamp>1716918832"));
        assert!(m("ATags=NIST") && !m("ATags=MITRE") && m("ATags!=MITRE") && m("ATags~^CM"));
        // Empty fields are the empty string.
        assert!(m("ContainerName=") && !m("ContainerName!="));
    }

    #[test]
    fn field_names_are_case_insensitive_and_free_text_values_verbatim() {
        assert!(m("policyname=block-pkg-mgmt-tools"));
        assert!(m("ACTION=Block"));
        // Action has a fixed set of values: case does not matter there; elsewhere it does.
        assert!(m("action=block"));
        assert!(!m("PolicyName=Block-pkg-mgmt-tools"));
        assert!(m("action~(?i)^block$"));
        assert!(m("Message=apt was attempted to be executed"));
        let f = Filter::parse("hostpid>=1").unwrap();
        assert_eq!(f.field, Field::HostPID);
        assert_eq!(f.to_string(), "HostPID>=1");
        // Only the first operator counts: the value may contain more.
        let f = Filter::parse("Data=flags=O_RDONLY").unwrap();
        assert_eq!(f.op, Op::Eq);
        assert!(matches!(f.operand, Operand::Text(ref s) if s == "flags=O_RDONLY"));
    }

    #[test]
    fn a_severity_that_is_not_a_number_fails_comparisons() {
        let f = Filter::parse("Severity>=1").unwrap();
        let a = Alert::default();
        assert!(!f.matches(&a));
        assert!(Filter::parse("Severity!=1").unwrap().matches(&a));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert!(e("").contains("empty expression"));
        assert!(e("=x").contains("no field name before '='"));
        assert!(e("PolicyName").contains("no operator after 'PolicyName'"));
        assert!(e("PolicyName!x").contains("no operator after 'PolicyName'"));
        assert!(
            e("Policy Name=x").contains("unknown field 'Policy Name' (did you mean 'PolicyName'?)")
        );
        let s = e("Polcyname=x");
        assert!(s.starts_with("invalid filter 'Polcyname=x': unknown field 'Polcyname'"));
        assert!(s.contains("did you mean 'PolicyName'?"), "{s}");
        assert!(e("Sevrity>=5").contains("did you mean 'Severity'?"));
        assert!(e("Zzzz=1").contains("the fields are Timestamp, UpdatedTime, ClusterName"));
        assert!(e("Resource>=5").contains("Resource is text"));
        assert!(e("PID=abc").contains("PID is numeric, so 'abc' must be an integer"));
        assert!(e("Timestamp>=yesterday").contains("seconds since the epoch"));
        assert!(e("Resource~(").contains("bad regular expression"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_duration("1w").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        for bad in ["", "10", "m", "10x", "-5m", "1.5h", "99999999999999999999s"] {
            let msg = parse_duration(bad).unwrap_err().to_string();
            assert!(msg.contains(&format!("invalid duration '{bad}'")), "{msg}");
        }
        assert!(
            parse_duration("10")
                .unwrap_err()
                .to_string()
                .contains("unit is missing")
        );
    }

    #[test]
    fn kubectl_habits_work_or_are_refused_loudly() {
        let a = alert();
        let all = |e: &str| Filter::parse_all(e).unwrap().iter().all(|f| f.matches(&a));
        // `==`, spaces around the operator and value, and case in fixed-set fields.
        assert!(all("PolicyName==block-pkg-mgmt-tools"));
        assert!(all("Resource = /usr/bin/apt"));
        assert!(all("Action=block") && all("action=BLOCK") && all("Operation=process"));
        assert!(!all("Action=Audit"));
        // A comma between expressions is AND; inside a value it stays.
        assert_eq!(
            Filter::parse_all("PolicyName=block-pkg-mgmt-tools,Action=Block")
                .unwrap()
                .len(),
            2
        );
        assert!(all("PolicyName=block-pkg-mgmt-tools,Action=Block"));
        assert!(!all("PolicyName=block-pkg-mgmt-tools, Action=Audit"));
        let f = Filter::parse_all("Data=flags=O_RDONLY,O_CLOEXEC").unwrap();
        assert_eq!(f.len(), 1);
        assert!(matches!(f[0].operand, Operand::Text(ref s) if s == "flags=O_RDONLY,O_CLOEXEC"));
        // A negated regex.
        assert!(all("Resource!~^/tmp/") && !all("Resource!~apt$"));
        assert!(all("ATags!~^PCI") && !all("ATags!~NIST"));
        // Numeric fields accept == too.
        assert!(all("Severity==10"));
        // A value a fixed-set field never has is an error, not an empty answer.
        let e = Filter::parse("Action=Blocked").unwrap_err().to_string();
        assert!(
            e.contains(
                "Action has no value 'Blocked'; its values are Block, Audit, Allow, Audit (Block)"
            ),
            "{e}"
        );
    }
}
