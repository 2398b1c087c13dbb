//! Terminal conventions shared by all commands: colour only on a TTY and never with
//! NO_COLOR, tables as kubectl prints them, and unified diffs (`policy diff`).
//!
//! A table is plain columns separated by three spaces under an UPPERCASE header, one line
//! per row, and a value is never split across lines: on a terminal too narrow for the
//! table, the widest columns are cut short with `…` (whole values with `-o json`, or when
//! piped); piped output is never cut, so `awk`, `cut` and `grep` see whole values. An empty
//! value prints as `-`, so every row has the same number of fields.
//!
//! Questions (`confirm`, skipped with --yes, never asked without a terminal) and progress
//! bars appear only on a terminal.
//!
//! Documents for scripts (`-o json|yaml`) are printed by `print_document`, so every
//! command's JSON is pretty-printed the same way and its YAML comes from the same emitter.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

/// The document formats of `-o json` and `-o yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    Json,
    Yaml,
}

/// Prints `value` on stdout as one pretty JSON document or one YAML document. JSON is
/// serialised straight from the value, so struct fields keep their declared order.
pub fn print_document<T: serde::Serialize + ?Sized>(
    value: &T,
    format: Document,
) -> serde_json::Result<()> {
    match format {
        Document::Json => println!("{}", serde_json::to_string_pretty(value)?),
        Document::Yaml => print!("{}", crate::yaml::to_yaml(&serde_json::to_value(value)?)),
    }
    Ok(())
}

/// `--no-headers`: one switch for the whole process, set once from the command line.
static NO_HEADERS: AtomicBool = AtomicBool::new(false);

pub fn set_no_headers(on: bool) {
    NO_HEADERS.store(on, Ordering::Relaxed);
}

pub fn no_headers() -> bool {
    NO_HEADERS.load(Ordering::Relaxed)
}

pub fn color_enabled() -> bool {
    color_enabled_on(&std::io::stdout())
}

/// Colour on `stream`: only on a terminal, never with NO_COLOR or TERM=dumb.
pub fn color_enabled_on(stream: &impl IsTerminal) -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
        && stream.is_terminal()
}

/// Wraps `text` in an ANSI colour when colour is enabled.
pub fn paint(text: &str, code: &str) -> String {
    if color_enabled() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// Columns are separated by this many spaces, as kubectl does.
const GAP: usize = 3;
/// A column cut short on a narrow terminal keeps at least this many characters (or its
/// header's width, if wider), so that what is left still says something.
const MIN_CUT: usize = 8;

/// A table to print on standard output. `Display` renders it for standard output: fitted
/// to the terminal's width on a terminal, whole values otherwise (or with [`Table::whole`]).
#[derive(Clone, Debug)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    width: Option<usize>,
    /// Columns never cut: values that mean nothing in part (times, actions, names of kinds).
    pinned: Vec<bool>,
    /// Whether the header line is printed (and counts for the widths).
    headers: bool,
}

pub fn table(header: &[&str]) -> Table {
    Table {
        header: header.iter().map(|h| h.to_uppercase()).collect(),
        rows: Vec::new(),
        width: terminal_width(),
        pinned: vec![false; header.len()],
        headers: !no_headers(),
    }
}

impl Table {
    pub fn add_row(&mut self, row: Vec<String>) -> &mut Table {
        self.rows.push(row);
        self
    }

    /// Renders to at most `width` columns (None: no limit).
    pub fn fit(&mut self, width: Option<usize>) -> &mut Table {
        self.width = width;
        self
    }

    /// Whole values in every column, whatever the terminal (`-o wide`).
    pub fn whole(&mut self) -> &mut Table {
        self.fit(None)
    }

    /// Print the header line or not (default: unless `--no-headers`).
    pub fn headers(&mut self, on: bool) -> &mut Table {
        self.headers = on;
        self
    }

    /// Never cut the columns with these headers (case-insensitive).
    pub fn pin(&mut self, headers: &[&str]) -> &mut Table {
        for (i, h) in self.header.iter().enumerate() {
            if headers.iter().any(|p| p.eq_ignore_ascii_case(h)) {
                self.pinned[i] = true;
            }
        }
        self
    }

    /// The rendered lines (no trailing newline).
    pub fn lines(&self) -> Vec<String> {
        let ncols = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let cell = |row: &[String], i: usize| -> String {
            let v = row.get(i).map(|v| clean(v)).unwrap_or_default();
            if v.is_empty() { "-".to_string() } else { v }
        };
        let body: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| (0..ncols).map(|i| cell(r, i)).collect())
            .collect();
        let header: Vec<String> = (0..ncols)
            .map(|i| self.header.get(i).cloned().unwrap_or_default())
            .collect();
        let shown_header = self.headers.then_some(&header);
        let mut widths: Vec<usize> = (0..ncols)
            .map(|i| {
                body.iter()
                    .chain(shown_header)
                    .map(|r| chars(&r[i]))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        if let Some(limit) = self.width {
            let floor: Vec<usize> = (0..ncols)
                .map(|i| {
                    if self.pinned.get(i).copied().unwrap_or(false) {
                        widths[i]
                    } else {
                        widths[i].min(chars(&header[i]).max(MIN_CUT))
                    }
                })
                .collect();
            shrink(&mut widths, &floor, limit);
        }
        shown_header
            .into_iter()
            .chain(body.iter())
            .map(|r| render_row(r, &widths))
            .collect()
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.lines().join("\n"))
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// One line per value: control characters (a newline in a path) would break the row.
fn clean(v: &str) -> String {
    if v.chars().any(char::is_control) {
        v.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    } else {
        v.to_string()
    }
}

/// Cuts the widest columns, one character at a time, until the table fits `limit` or no
/// column can lose more (none is cut below its `floor`). Narrow columns keep their width;
/// long paths and prose give it up.
fn shrink(widths: &mut [usize], floor: &[usize], limit: usize) {
    let total = |w: &[usize]| w.iter().sum::<usize>() + GAP * w.len().saturating_sub(1);
    while total(widths) > limit {
        let widest = (0..widths.len())
            .filter(|&i| widths[i] > floor[i])
            .max_by_key(|&i| (widths[i], std::cmp::Reverse(i)));
        match widest {
            Some(i) => widths[i] -= 1,
            None => return,
        }
    }
}

fn render_row(row: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (i, (v, &w)) in row.iter().zip(widths).enumerate() {
        let n = chars(v);
        let shown = if n > w {
            let mut s: String = v.chars().take(w.saturating_sub(1)).collect();
            s.push('…');
            s
        } else {
            v.clone()
        };
        line.push_str(&shown);
        if i + 1 < row.len() {
            let pad = w - chars(&shown) + GAP;
            line.extend(std::iter::repeat_n(' ', pad));
        }
    }
    line
}

/// Standard output's terminal width, when standard output is a terminal (COLUMNS wins, as
/// in most tools; then the terminal's own size).
fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|&c| c > 0)
    {
        return Some(c);
    }
    // SAFETY: TIOCGWINSZ fills a winsize we own; fd 1 is a terminal (checked above).
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0).then_some(ws.ws_col as usize)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Same,
    Old,
    New,
}

/// The line edit script from `a` to `b`: common prefix and suffix, and a longest common
/// subsequence in between. Past a few million cells the middle is shown replaced whole:
/// still a correct diff, only a longer one, and memory stays bounded.
fn edit_script<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<(Op, &'a str)> {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let mut out: Vec<(Op, &str)> = a[..pre].iter().map(|l| (Op::Same, *l)).collect();
    if am.len().saturating_mul(bm.len()) > 4_000_000 {
        out.extend(am.iter().map(|l| (Op::Old, *l)));
        out.extend(bm.iter().map(|l| (Op::New, *l)));
    } else {
        let (n, m) = (am.len(), bm.len());
        // lcs[i][j]: the LCS length of am[i..] and bm[j..].
        let mut lcs = vec![0u32; (n + 1) * (m + 1)];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i * (m + 1) + j] = if am[i] == bm[j] {
                    lcs[(i + 1) * (m + 1) + j + 1] + 1
                } else {
                    lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && am[i] == bm[j] {
                out.push((Op::Same, am[i]));
                i += 1;
                j += 1;
            } else if i < n && (j == m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) {
                // Removals first, as diff -u shows a changed line.
                out.push((Op::Old, am[i]));
                i += 1;
            } else {
                out.push((Op::New, bm[j]));
                j += 1;
            }
        }
    }
    out.extend(a[a.len() - suf..].iter().map(|l| (Op::Same, *l)));
    out
}

/// A unified diff (`diff -u` format, 3 lines of context) of two texts, or an empty string
/// when they are equal.
pub fn unified_diff(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    const CONTEXT: usize = 3;
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let script = edit_script(&a, &b);
    let changed: Vec<usize> = (0..script.len())
        .filter(|&k| script[k].0 != Op::Same)
        .collect();
    if changed.is_empty() {
        return String::new();
    }
    let mut out = format!("--- {old_label}\n+++ {new_label}\n");
    // Hunks: runs of changes whose contexts touch or overlap.
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(CONTEXT);
        let mut end = changed[k];
        while k < changed.len() && changed[k] <= end + 2 * CONTEXT + 1 {
            end = changed[k];
            k += 1;
        }
        let end = (end + CONTEXT + 1).min(script.len());
        // 1-based line numbers where the hunk starts in each text.
        let before = &script[..start];
        let old_start = before.iter().filter(|(o, _)| *o != Op::New).count();
        let new_start = before.iter().filter(|(o, _)| *o != Op::Old).count();
        let hunk = &script[start..end];
        let old_len = hunk.iter().filter(|(o, _)| *o != Op::New).count();
        let new_len = hunk.iter().filter(|(o, _)| *o != Op::Old).count();
        // diff -u numbers an empty side by the line before it.
        let first = |s: usize, len: usize| if len == 0 { s } else { s + 1 };
        out.push_str(&format!(
            "@@ -{},{old_len} +{},{new_len} @@\n",
            first(old_start, old_len),
            first(new_start, new_len)
        ));
        for (op, line) in hunk {
            let mark = match op {
                Op::Same => ' ',
                Op::Old => '-',
                Op::New => '+',
            };
            out.push(mark);
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The answer to "go ahead?".
pub enum Consent {
    Given,
    Declined,
    /// No terminal to ask on and no --yes.
    NoTerminal,
}

/// Asks on the terminal unless `yes`; never guesses when there is no terminal.
pub fn confirm(question: &str, yes: bool) -> Consent {
    if yes {
        return Consent::Given;
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Consent::NoTerminal;
    }
    match dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact_opt()
    {
        Ok(Some(true)) => Consent::Given,
        _ => Consent::Declined,
    }
}

/// A progress bar on a terminal (stderr), nothing otherwise.
pub fn progress_bar(steps: u64) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(steps);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{bar:20}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// `2024-05-28T17:33:52Z` from epoch seconds: how every table shows a time (RFC 3339, UTC,
/// the zone KubeArmor's UpdatedTime uses; kubectl's timestamps look the same).
pub fn format_time(secs: i64) -> String {
    let full = crate::alert::format_rfc3339(secs, 0);
    format!("{}Z", full.split('.').next().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_rfc3339() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1716918832), "2024-05-28T17:53:52Z");
        assert_eq!(format_time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_time(-1), "1969-12-31T23:59:59Z");
    }

    fn t() -> Table {
        let mut t = table(&["Time", "Policy", "Resource"]);
        t.add_row(vec![
            "2026-12-06T08:55:14Z".into(),
            "block-pkg".into(),
            "/usr/local/very/long/path/to/some/binary/that/goes/on".into(),
        ]);
        t.add_row(vec![
            "2026-12-06T08:55:15Z".into(),
            String::new(),
            "/x".into(),
        ]);
        t
    }

    #[test]
    fn whole_values_when_not_fitted() {
        let lines = t().fit(None).lines();
        assert_eq!(
            lines,
            [
                "TIME                   POLICY      RESOURCE",
                "2026-12-06T08:55:14Z   block-pkg   /usr/local/very/long/path/to/some/binary/that/goes/on",
                "2026-12-06T08:55:15Z   -           /x",
            ]
        );
    }

    #[test]
    fn the_widest_column_is_cut_never_split() {
        let lines = t().fit(Some(60)).lines();
        assert_eq!(lines.len(), 3, "one line per row");
        for l in &lines {
            assert!(l.chars().count() <= 60, "{l}");
        }
        assert!(lines[1].starts_with("2026-12-06T08:55:14Z   block-pkg   /usr/local/very/"));
        assert!(lines[1].ends_with('…'), "{}", lines[1]);
        // Far too narrow: columns stop at their floor rather than vanish; a pinned column
        // is never cut.
        let lines = t().fit(Some(10)).lines();
        assert!(lines[1].starts_with("2026-12… "), "{lines:?}");
        let lines = t().pin(&["time"]).fit(Some(10)).lines();
        assert!(lines[1].starts_with("2026-12-06T08:55:14Z   "), "{lines:?}");
    }

    #[test]
    fn control_characters_stay_on_the_row() {
        let mut t = table(&["a", "b"]);
        t.add_row(vec!["x\ny".into(), "z".into()]);
        assert_eq!(t.fit(None).lines(), ["A     B", "x y   z"]);
    }

    use super::unified_diff;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified_diff("a\nb\n", "a\nb\n", "x", "y"), "");
    }

    #[test]
    fn hunks_have_context_and_numbers() {
        let lines = |v: &[&str]| v.iter().map(|l| format!("{l}\n")).collect::<String>();
        let old: Vec<String> = (1..=15).map(|i| i.to_string()).collect();
        let old: Vec<&str> = old.iter().map(|s| s.as_str()).collect();
        let mut new = old.clone();
        new[5] = "six";
        new.push("16");
        assert_eq!(
            unified_diff(&lines(&old), &lines(&new), "old", "new"),
            "--- old\n+++ new\n@@ -3,7 +3,7 @@\n 3\n 4\n 5\n-6\n+six\n 7\n 8\n 9\n@@ -13,3 +13,4 @@\n 13\n 14\n 15\n+16\n"
        );
        // Six unchanged lines between two changes: their contexts touch, one hunk.
        let mut close = old.clone();
        close[5] = "six";
        close[12] = "thirteen";
        assert_eq!(
            unified_diff(&lines(&old), &lines(&close), "old", "new")
                .matches("@@ -")
                .count(),
            1
        );
    }

    #[test]
    fn creation_diffs_against_nothing() {
        assert_eq!(
            unified_diff("", "a\nb\n", "/dev/null", "new"),
            "--- /dev/null\n+++ new\n@@ -0,0 +1,2 @@\n+a\n+b\n"
        );
    }
}
