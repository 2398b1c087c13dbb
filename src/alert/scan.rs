//! Judging exported KubeArmor JSON Lines against a query at the speed of the disk: the
//! line-level work of `alerts --from`.
//!
//! Three steps, each cheaper than the next one it saves:
//! 1. **Needles.** A `FIELD=VALUE` filter on a text field can only hold on a line that
//!    contains VALUE; JSON may escape some characters (`/` as `\/`, `<` as `\u003c`), so the
//!    needle is the longest run of VALUE that no encoder escapes. A line without every needle
//!    is skipped unparsed (after a check that it looks like one JSON object).
//! 2. **Only the named fields.** A candidate line is scanned once; the values of the fields
//!    the query names are kept as raw JSON, every other value is skipped without allocating,
//!    and only those few are decoded (with the same tolerance as a whole alert).
//! 3. **The whole alert** is decoded only for a line that matched, so that what is printed
//!    was checked as a KubeArmor alert.
//!
//! Consequence, stated in `alerts --help`: with filters, a line that cannot match is not
//! validated beyond its shape, so a malformed alert that a filter rules out is not reported.

use super::Alert;
use super::filter::{Field, Filter, Op, Operand, all_match};
use memchr::memmem::Finder;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// What one line turned out to be.
#[derive(Debug)]
pub enum Verdict {
    /// Not a match (or blank).
    Skip,
    /// A match, decoded whole.
    Match(Box<Alert>),
    /// Not a KubeArmor alert; the decoding error.
    Bad(serde_json::Error),
}

/// A query prepared for judging lines: its filters and time bounds, the needles they imply
/// and the JSON keys they read.
pub struct LineQuery {
    filters: Vec<Filter>,
    since: Option<i64>,
    until: Option<i64>,
    needles: Vec<Finder<'static>>,
    /// JSON keys the filters and bounds read; None when the query reads none (every line
    /// is decoded whole, which is also the validation).
    keys: Option<Vec<&'static str>>,
}

/// Characters that no JSON encoder in use writes as themselves in every case: the quote and
/// backslash (always escaped), `/` (optionally), `<>&` (Go's HTML-safe default), anything
/// that is not printable ASCII (may be `\uXXXX`).
fn escapable(b: u8) -> bool {
    matches!(b, b'"' | b'\\' | b'/' | b'<' | b'>' | b'&') || !(0x20..0x7f).contains(&b)
}

/// The longest run of `value` that any encoder writes verbatim, if long enough to be worth
/// searching for.
fn needle(value: &str) -> Option<&str> {
    let best = value
        .split(|c: char| !c.is_ascii() || escapable(c as u8))
        .max_by_key(|s| s.len())?;
    (best.len() >= 3).then_some(best)
}

impl LineQuery {
    pub fn new(filters: Vec<Filter>, since: Option<i64>, until: Option<i64>) -> LineQuery {
        let mut needles = Vec::new();
        for f in &filters {
            if let (Op::Eq, Operand::Text(want)) = (f.op, &f.operand)
                && let Some(n) = needle(want)
            {
                needles.push(Finder::new(n.as_bytes()).into_owned());
            }
        }
        let mut keys: Vec<&'static str> = filters.iter().map(|f| f.field.name()).collect();
        if since.is_some() || until.is_some() {
            keys.push(Field::Timestamp.name());
        }
        keys.sort_unstable();
        keys.dedup();
        LineQuery {
            filters,
            since,
            until,
            needles,
            keys: (!keys.is_empty()).then_some(keys),
        }
    }

    /// Whether `alert` (whole or partly decoded) satisfies the query.
    fn holds(&self, alert: &Alert) -> bool {
        self.since.is_none_or(|s| alert.timestamp >= s)
            && self.until.is_none_or(|u| alert.timestamp <= u)
            && all_match(&self.filters, alert)
    }

    /// Judges one line (without its newline, trimmed).
    pub fn judge(&self, line: &[u8]) -> Verdict {
        if line.is_empty() {
            return Verdict::Skip;
        }
        let Some(keys) = &self.keys else {
            return match super::parse_alert(line) {
                Ok(a) => Verdict::Match(Box::new(a)),
                Err(e) => Verdict::Bad(e),
            };
        };
        let object = line.first() == Some(&b'{') && line.last() == Some(&b'}');
        if object && !self.needles.iter().all(|n| n.find(line).is_some()) {
            return Verdict::Skip;
        }
        let partial = match partial(line, keys) {
            Ok(a) => a,
            Err(e) => return Verdict::Bad(e),
        };
        if !self.holds(&partial) {
            return Verdict::Skip;
        }
        match super::parse_alert(line) {
            Ok(a) => Verdict::Match(Box::new(a)),
            Err(e) => Verdict::Bad(e),
        }
    }
}

/// Decodes only `keys` of one JSON object. The values of other keys are stepped over by
/// their brackets and quotes, not decoded; a line the quick walk cannot follow is read by
/// serde_json instead, which says precisely what is wrong with it.
fn partial(line: &[u8], keys: &[&'static str]) -> Result<Alert, serde_json::Error> {
    let mut picked = Vec::with_capacity(128);
    if pick(line, keys, &mut picked).is_some() {
        return super::parse_alert(&picked);
    }
    partial_strict(line, keys)
}

/// The quick walk over one JSON object's top level: appends `"key":value` of each wanted
/// key to `picked` (as an object). None when the line is not a flat walk's JSON (an escape
/// in a key, a missing colon or comma, text after the object).
fn pick(line: &[u8], keys: &[&'static str], picked: &mut Vec<u8>) -> Option<()> {
    let ws = |i: &mut usize| {
        while line.get(*i).is_some_and(|b| b.is_ascii_whitespace()) {
            *i += 1;
        }
    };
    picked.push(b'{');
    let mut i = 1;
    ws(&mut i);
    if line.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            if line.get(i) != Some(&b'"') {
                return None;
            }
            let end = string_end(line, i)?;
            let key = &line[i + 1..end - 1];
            if memchr::memchr(b'\\', key).is_some() {
                return None;
            }
            i = end;
            ws(&mut i);
            if line.get(i) != Some(&b':') {
                return None;
            }
            i += 1;
            ws(&mut i);
            let start = i;
            i = value_end(line, i)?;
            if keys.iter().any(|k| k.as_bytes() == key) {
                if picked.len() > 1 {
                    picked.push(b',');
                }
                picked.push(b'"');
                picked.extend_from_slice(key);
                picked.extend_from_slice(b"\":");
                picked.extend_from_slice(&line[start..i]);
            }
            ws(&mut i);
            match line.get(i) {
                Some(b',') => {
                    i += 1;
                    ws(&mut i);
                }
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    ws(&mut i);
    picked.push(b'}');
    (i == line.len()).then_some(())
}

/// The index after the string that starts (with its quote) at `i`.
fn string_end(line: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        j += memchr::memchr2(b'"', b'\\', line.get(j..)?)?;
        if line[j] == b'"' {
            return Some(j + 1);
        }
        j += 2;
    }
}

/// The index after the JSON value that starts at `i`: a string, an object or array
/// (brackets counted, strings inside stepped over), or a bare literal or number.
fn value_end(line: &[u8], i: usize) -> Option<usize> {
    match *line.get(i)? {
        b'"' => string_end(line, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match *line.get(j)? {
                    b'"' => {
                        j = string_end(line, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let n = line[i..]
                .iter()
                .position(|&b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())?;
            (n > 0).then_some(i + n)
        }
    }
}

/// [`partial`] by serde_json: the whole line checked as JSON, the other values skipped.
fn partial_strict(line: &[u8], keys: &[&'static str]) -> Result<Alert, serde_json::Error> {
    struct Pick<'k> {
        keys: &'k [&'static str],
    }
    impl<'de> Visitor<'de> for Pick<'_> {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a KubeArmor alert (a JSON object)")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<u8>, A::Error> {
            let mut picked = b"{".to_vec();
            while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                if self.keys.contains(&key.as_ref()) {
                    let raw: &'de RawValue = map.next_value()?;
                    if picked.len() > 1 {
                        picked.push(b',');
                    }
                    serde_json::to_writer(&mut picked, key.as_ref()).map_err(de::Error::custom)?;
                    picked.push(b':');
                    picked.extend_from_slice(raw.get().as_bytes());
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            picked.push(b'}');
            Ok(picked)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(line);
    let picked = (&mut de).deserialize_map(Pick { keys })?;
    de.end()?;
    super::parse_alert(&picked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(exprs: &[&str]) -> LineQuery {
        let filters = exprs.iter().map(|e| Filter::parse(e).unwrap()).collect();
        LineQuery::new(filters, None, None)
    }

    const LINE: &str = r#"{"Timestamp":1700000000,"HostName":"vm","PolicyName":"block-pkg","Severity":"8","Operation":"Process","Resource":"/usr/bin/apt","Action":"Block","Result":"Permission denied","ATags":["NIST"]}"#;

    fn verdict(exprs: &[&str], line: &str) -> &'static str {
        match q(exprs).judge(line.as_bytes()) {
            Verdict::Skip => "skip",
            Verdict::Match(_) => "match",
            Verdict::Bad(_) => "bad",
        }
    }

    #[test]
    fn needles_skip_only_lines_that_cannot_match() {
        assert_eq!(needle("Block"), Some("Block"));
        assert_eq!(needle("/usr/bin/apt-get"), Some("apt-get"));
        assert_eq!(needle("/a/b"), None);
        assert_eq!(needle("grüße-policy"), Some("e-policy"));
        assert_eq!(verdict(&["Action=Block"], LINE), "match");
        assert_eq!(verdict(&["Action=Audit"], LINE), "skip");
        // An encoder that escapes '/' still matches: the needle avoids it.
        let escaped = LINE.replace("/usr/bin/apt", r"\/usr\/bin\/apt");
        assert_eq!(verdict(&["Resource=/usr/bin/apt"], &escaped), "match");
        let unicode = LINE.replace("block-pkg", r"block\u002dpkg");
        assert_eq!(verdict(&["PolicyName=block-pkg"], &unicode), "skip");
        // Needles are necessary, not sufficient: the field itself decides.
        assert_eq!(verdict(&["HostName=Block"], LINE), "skip");
        assert_eq!(verdict(&["ATags=NIST", "Severity>=8"], LINE), "match");
        assert_eq!(verdict(&["Severity>=9"], LINE), "skip");
        assert_eq!(verdict(&["Operation!=Process"], LINE), "skip");
    }

    #[test]
    fn what_is_printed_was_checked_whole_and_garbage_is_reported() {
        // A match whose unfiltered field is not an alert's is bad, never printed.
        let bad_pid = LINE.replace(r#""HostName":"vm""#, r#""HostName":"vm","PID":"many""#);
        assert_eq!(verdict(&["Action=Block"], &bad_pid), "bad");
        // A line that is not one JSON object is reported even when no needle is in it.
        assert_eq!(verdict(&["Action=Block"], "not json"), "bad");
        assert_eq!(verdict(&["Action=Block"], "[1,2]"), "bad");
        assert_eq!(verdict(&["Action=Block"], "{"), "bad");
        assert_eq!(verdict(&["Action=Block"], r#"{"Action":"Block""#), "bad");
        assert_eq!(verdict(&[], "not json"), "bad");
        assert_eq!(verdict(&[], LINE), "match");
        // Numbers as strings and nulls, as other exporters write them.
        let lax = LINE.replace("1700000000", r#""1700000000""#) + "";
        let lax = lax.replace(r#""HostName":"vm""#, r#""HostName":null"#);
        let filters = vec![Filter::parse("Action=Block").unwrap()];
        let q = LineQuery::new(filters, Some(1_699_999_999), None);
        assert!(matches!(q.judge(lax.as_bytes()), Verdict::Match(_)));
        let q = LineQuery::new(Vec::new(), Some(1_700_000_001), None);
        assert!(matches!(q.judge(lax.as_bytes()), Verdict::Skip));
    }

    #[test]
    fn the_quick_walk_picks_what_serde_would() {
        let keys = ["Action", "ATags", "Severity"];
        let mut got = Vec::new();
        let line = br#"{ "X" : {"a":["}",{"b":"\"]"}]}, "Action":"Block" ,"ATags":["a","b"],"Severity":8,"Y":null }"#;
        assert!(pick(line, &keys, &mut got).is_some());
        assert_eq!(got, br#"{"Action":"Block","ATags":["a","b"],"Severity":8}"#);
        for bad in [
            &br#"{"Action":"Block"} x"#[..],
            br#"{"Action" "Block"}"#,
            br#"{"Action":"Block",}"#,
            br#"{"Act\u0069on":"Block"}"#,
            br#"{"Action":"Blo"#,
            br#"{"Action":}"#,
            br#"{"A":[1,2}"#,
        ] {
            got.clear();
            assert!(
                pick(bad, &keys, &mut got).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        // Where the walk gives up, serde_json decides, with the same answers.
        let escaped_key = br#"{"Act\u0069on":"Block"}"#;
        assert_eq!(partial(escaped_key, &keys).unwrap().action, "Block");
        assert!(partial(br#"{"Action":"Block",}"#, &keys).is_err());
    }

    #[test]
    fn never_panics_on_garbage() {
        let q = q(&["Action=Block", "Severity>=8"]);
        for line in [
            &b"{\xff\xfe}"[..],
            b"{\"Action\":\"Block\",\"Action\":\"Block\"}",
            b"{\"Action\":}",
            b"{}",
            b"{\"Severity\":[\"Block\"]}",
            b"{\"Severity\":]]]}",
            b"{\"Severity\":\"\\",
            b"{\"Block\":{{{{",
        ] {
            let _ = q.judge(line);
        }
    }
}
