//! Terminal conventions shared by all commands: colour only on a TTY and never with
//! NO_COLOR, and tables as kubectl prints them.
//!
//! A table is plain columns separated by three spaces under an UPPERCASE header, one line
//! per row, and a value is never split across lines: on a terminal too narrow for the
//! table, the widest columns are cut short with `…` (whole values with `-o json`, or when
//! piped); piped output is never cut, so `awk`, `cut` and `grep` see whole values. An empty
//! value prints as `-`, so every row has the same number of fields.

use std::io::IsTerminal;

pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
        && std::io::stdout().is_terminal()
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
}

pub fn table(header: &[&str]) -> Table {
    Table {
        header: header.iter().map(|h| h.to_uppercase()).collect(),
        rows: Vec::new(),
        width: terminal_width(),
        pinned: vec![false; header.len()],
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
        let mut widths: Vec<usize> = (0..ncols)
            .map(|i| {
                body.iter()
                    .map(|r| chars(&r[i]))
                    .chain([chars(&header[i])])
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
        std::iter::once(&header)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
