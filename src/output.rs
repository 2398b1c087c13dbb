//! Terminal conventions shared by all commands: colour only on a TTY and never with
//! NO_COLOR, tables that fit the terminal, plain text when piped, and unified diffs.

use comfy_table::{ContentArrangement, Table, presets};
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

pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    if std::io::stdout().is_terminal() {
        t.load_style(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        // Piped: ASCII, no width limit, so scripts and logs get whole lines.
        t.load_style(presets::ASCII_MARKDOWN)
            .set_content_arrangement(ContentArrangement::Disabled);
    }
    t.set_header(header.to_vec());
    t
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

#[cfg(test)]
mod tests {
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
