//! `knoxctl alerts summary`: what a person looks at first — how many alerts a window holds,
//! by policy (with its Block/Audit split, first and last time, and a count per time bucket
//! for a sparkline), by action, by operation and by process. One pass over the alerts,
//! memory bounded by the number of distinct policies and processes, not of alerts.

use super::Alert;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// About this many buckets per sparkline (plus the one `until` falls in): an hour each up
/// to two days, longer beyond.
pub const MAX_BUCKETS: usize = 48;
/// Processes listed, the busiest first; the rest are counted under `others`.
pub const TOP_PROCESSES: usize = 10;

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The window, epoch seconds.
    pub since: i64,
    pub until: i64,
    /// Where the first bucket starts: `since` rounded down to a whole bucket (clock hours),
    /// so that buckets are the same hours whenever the summary is asked for.
    pub bucket_start: i64,
    /// Seconds per bucket of `PolicySummary::buckets`.
    pub bucket_secs: i64,
    pub total: u64,
    pub actions: BTreeMap<String, u64>,
    pub operations: BTreeMap<String, u64>,
    /// Busiest first.
    pub policies: Vec<PolicySummary>,
    /// Busiest first, at most [`TOP_PROCESSES`].
    pub processes: Vec<Count>,
    /// Alerts of processes not in `processes`.
    pub other_processes: u64,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PolicySummary {
    pub policy: String,
    pub alerts: u64,
    pub block: u64,
    pub audit: u64,
    pub first: i64,
    pub last: i64,
    pub buckets: Vec<u64>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Count {
    pub name: String,
    pub alerts: u64,
}

/// Folds alerts (in any order) into a [`Summary`] of the window `since..=until`.
pub struct Summarizer {
    since: i64,
    until: i64,
    start: i64,
    bucket_secs: i64,
    buckets: usize,
    total: u64,
    actions: BTreeMap<String, u64>,
    operations: BTreeMap<String, u64>,
    policies: HashMap<String, PolicySummary>,
    processes: HashMap<String, u64>,
}

impl Summarizer {
    pub fn new(since: i64, until: i64) -> Summarizer {
        let span = (until - since).max(1);
        // Whole hours per bucket, so that the sparkline reads "per hour" up to two days.
        let hours = (span + 3599) / 3600;
        let per_bucket = ((hours + MAX_BUCKETS as i64 - 1) / MAX_BUCKETS as i64).max(1);
        let bucket_secs = per_bucket * 3600;
        let start = since - since.rem_euclid(bucket_secs);
        let buckets = ((until - start) / bucket_secs + 1).max(1) as usize;
        Summarizer {
            since,
            until,
            start,
            bucket_secs,
            buckets,
            total: 0,
            actions: BTreeMap::new(),
            operations: BTreeMap::new(),
            policies: HashMap::new(),
            processes: HashMap::new(),
        }
    }

    pub fn add(&mut self, a: &Alert) {
        // A throttled summary stands for the alerts it folded (`count=K`).
        let n = folded_count(a);
        self.total += n;
        // Actions as the alerts say them: `Audit (Block)` (a Block rule the enforcer could
        // not apply) is its own line, and an audit in the per-policy split.
        let action = if a.action.is_empty() { "-" } else { &a.action };
        *self.actions.entry(action.to_string()).or_default() += n;
        let operation = if a.operation.is_empty() {
            "-"
        } else {
            &a.operation
        };
        *self.operations.entry(operation.to_string()).or_default() += n;
        let process = if a.process_name.is_empty() {
            "-"
        } else {
            &a.process_name
        };
        *self.processes.entry(process.to_string()).or_default() += n;
        let policy = if a.policy_name.is_empty() {
            "-"
        } else {
            &a.policy_name
        };
        let buckets = self.buckets;
        let p = self
            .policies
            .entry(policy.to_string())
            .or_insert_with(|| PolicySummary {
                policy: policy.to_string(),
                alerts: 0,
                block: 0,
                audit: 0,
                first: a.timestamp,
                last: a.timestamp,
                buckets: vec![0; buckets],
            });
        p.alerts += n;
        if a.action == "Block" {
            p.block += n;
        } else if a.action.starts_with("Audit") {
            p.audit += n;
        }
        p.first = p.first.min(a.timestamp);
        p.last = p.last.max(a.timestamp);
        if (self.since..=self.until).contains(&a.timestamp) {
            let i = ((a.timestamp - self.start) / self.bucket_secs) as usize;
            p.buckets[i.min(buckets - 1)] += n;
        }
    }

    pub fn finish(self) -> Summary {
        let mut policies: Vec<PolicySummary> = self.policies.into_values().collect();
        policies.sort_by(|a, b| b.alerts.cmp(&a.alerts).then(a.policy.cmp(&b.policy)));
        let mut processes: Vec<Count> = (self.processes.into_iter())
            .map(|(name, alerts)| Count { name, alerts })
            .collect();
        processes.sort_by(|a, b| b.alerts.cmp(&a.alerts).then(a.name.cmp(&b.name)));
        let other_processes = processes.iter().skip(TOP_PROCESSES).map(|c| c.alerts).sum();
        processes.truncate(TOP_PROCESSES);
        Summary {
            since: self.since,
            until: self.until,
            bucket_start: self.start,
            bucket_secs: self.bucket_secs,
            total: self.total,
            actions: self.actions,
            operations: self.operations,
            policies,
            processes,
            other_processes,
        }
    }
}

/// How many alerts `a` stands for: K for a throttled summary (`ATags` holds `throttled`
/// and `count=K`), else 1.
fn folded_count(a: &Alert) -> u64 {
    if !a.atags.iter().any(|t| t == super::throttle::TAG) {
        return 1;
    }
    (a.atags.iter())
        .find_map(|t| t.strip_prefix("count=")?.parse().ok())
        .unwrap_or(1)
}

/// One block character per bucket, scaled to the busiest bucket; an empty bucket is a
/// space-like `·` so that a quiet hour is not mistaken for a small one.
pub fn sparkline(buckets: &[u64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = buckets.iter().copied().max().unwrap_or(0);
    buckets
        .iter()
        .map(|&n| {
            if n == 0 || max == 0 {
                '·'
            } else {
                // 1..=max onto 0..=7, rounding up: any alert shows at least the lowest
                // bar, and only the busiest bucket the full one.
                BARS[((n * 8).div_ceil(max) - 1).min(7) as usize]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(t: i64, policy: &str, action: &str, op: &str, process: &str) -> Alert {
        Alert {
            timestamp: t,
            policy_name: policy.into(),
            action: action.into(),
            operation: op.into(),
            process_name: process.into(),
            ..Alert::default()
        }
    }

    #[test]
    fn counts_by_policy_action_operation_and_process() {
        let since = 3600 * 1000;
        let mut s = Summarizer::new(since, since + 24 * 3600);
        for i in 0..5 {
            s.add(&alert(
                since + 10 + i,
                "block-apt",
                "Block",
                "Process",
                "/usr/bin/apt",
            ));
        }
        s.add(&alert(
            since + 5 * 3600,
            "fim",
            "Audit",
            "File",
            "/usr/bin/vi",
        ));
        s.add(&alert(
            since + 23 * 3600 + 5,
            "fim",
            "Audit (Block)",
            "File",
            "/usr/bin/vi",
        ));
        let sum = s.finish();
        assert_eq!(sum.total, 7);
        assert_eq!(sum.bucket_secs, 3600);
        assert_eq!(sum.actions["Block"], 5);
        assert_eq!(sum.actions["Audit (Block)"], 1);
        assert_eq!(sum.operations["File"], 2);
        assert_eq!(sum.policies[0].policy, "block-apt");
        assert_eq!(sum.policies[0].block, 5);
        assert_eq!(sum.policies[0].buckets[0], 5);
        let fim = &sum.policies[1];
        assert_eq!((fim.alerts, fim.audit, fim.block), (2, 2, 0));
        assert_eq!(fim.buckets.len(), 25, "the hour `until` is in counts too");
        assert_eq!((fim.buckets[5], fim.buckets[23]), (1, 1));
        assert_eq!(
            (fim.first, fim.last),
            (since + 5 * 3600, since + 23 * 3600 + 5)
        );
        assert_eq!(sum.processes[0].name, "/usr/bin/apt");
        assert_eq!(sum.other_processes, 0);
    }

    #[test]
    fn long_windows_use_longer_buckets_and_many_processes_are_cut() {
        let mut s = Summarizer::new(0, 7 * 24 * 3600);
        for i in 0..(TOP_PROCESSES as i64 + 3) {
            s.add(&alert(i, "p", "Block", "Process", &format!("/bin/p{i:02}")));
        }
        let sum = s.finish();
        assert!(sum.policies[0].buckets.len() <= MAX_BUCKETS + 1);
        assert_eq!(sum.bucket_secs, 4 * 3600);
        assert_eq!(sum.processes.len(), TOP_PROCESSES);
        assert_eq!(sum.other_processes, 3);
    }

    #[test]
    fn a_throttled_summary_counts_for_the_alerts_it_folded() {
        let mut s = Summarizer::new(0, 3600);
        let mut folded = alert(10, "p", "Block", "File", "/bin/x");
        folded.atags = vec![super::super::throttle::TAG.into(), "count=40".into()];
        s.add(&folded);
        s.add(&alert(11, "p", "Block", "File", "/bin/x"));
        let sum = s.finish();
        assert_eq!(sum.total, 41);
        assert_eq!(
            (sum.policies[0].block, sum.policies[0].buckets[0]),
            (41, 41)
        );
        assert_eq!(sum.processes[0].alerts, 41);
    }

    #[test]
    fn sparkline_scales_to_the_busiest_bucket() {
        assert_eq!(sparkline(&[0, 1, 8, 4]), "·▁█▄");
        assert_eq!(sparkline(&[0, 0]), "··");
        assert_eq!(sparkline(&[3]), "█");
    }
}
