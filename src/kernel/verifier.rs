//! The BPF verifier's log, shrunk for error messages: the log is hundreds of lines (logged
//! once in full where it matters), and its last finding says why a program was refused.

/// Lines the verifier prints after its verdict: statistics, not reasons.
fn is_statistic(line: &str) -> bool {
    line.starts_with("verification time")
        || line.starts_with("stack depth")
        || line.starts_with("processed ")
}

/// The last `lines` meaningful lines of a verifier log, joined with ` | `; None for an
/// empty log (the kernel refused the program before verifying it).
pub fn verdict(log: &str, lines: usize) -> Option<String> {
    let mut kept: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_statistic(l))
        .rev()
        .take(lines)
        .collect();
    if kept.is_empty() {
        return None;
    }
    kept.reverse();
    Some(kept.join(" | "))
}

/// A load error as one line: an error chain that embeds the log after
/// `Verifier output:` keeps its head and the log's last finding.
pub fn shorten(message: &str) -> String {
    let Some((head, log)) = message.split_once("Verifier output:") else {
        return message.to_string();
    };
    let verdict = verdict(log, 1).unwrap_or_else(|| "(no log)".to_string());
    format!(
        "{}verifier: {verdict}",
        head.trim_end().trim_end_matches('.').to_string() + ". "
    )
}

/// An aya load error: the kernel's errno and the log's last findings.
pub fn load_error(e: &aya::programs::ProgramError) -> String {
    match e {
        aya::programs::ProgramError::LoadError {
            io_error,
            verifier_log,
        } => match verdict(&verifier_log.to_string(), 12) {
            Some(tail) => format!("{io_error}; verifier: {tail}"),
            // Seen on kernels that list bpf among their LSMs but refuse BPF trampolines
            // (fentry/LSM attachment) outright.
            None => format!(
                "the kernel refused the program before verifying it ({io_error}, no verifier log): \
                 this kernel does not let BPF programs attach to LSM hooks"
            ),
        },
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_logs_shrink_to_their_verdict() {
        let long = "program sc_enter: the BPF_PROG_LOAD syscall returned Permission denied (os error 13). Verifier output: 0: R1=ctx() R10=fp0\n78: (79) r2 = *(u64 *)(r2 +0)\ndereference of modified ctx ptr R2 off=32 disallowed\nverification time 446 usec\nstack depth 152+0\nprocessed 42 insns\n";
        assert_eq!(
            shorten(long),
            "program sc_enter: the BPF_PROG_LOAD syscall returned Permission denied (os error 13). verifier: dereference of modified ctx ptr R2 off=32 disallowed"
        );
        assert_eq!(shorten("no BTF"), "no BTF");
    }

    #[test]
    fn tails_skip_statistics() {
        let log = "a\nb\n\nc\nverification time 1 usec\nprocessed 3 insns\n";
        assert_eq!(verdict(log, 2).as_deref(), Some("b | c"));
        assert_eq!(verdict(log, 12).as_deref(), Some("a | b | c"));
        assert_eq!(verdict("  \n", 12), None);
    }
}
