//! Throttling that never hides: past a rate limit per policy and container, alerts are
//! folded into one summary alert that carries how many there were and when the first and
//! last happened, instead of being dropped as KubeArmor's throttling drops them (#905,
//! #2789). Runs in the store's writer thread, which sees every alert in order, so it needs
//! no lock and costs two hash lookups per alert (no allocation for a key already seen).
//! The folds in progress are also kept in the order they are due, so the writer's
//! per-batch questions ("when is the next summary due?", "which are due now?") cost
//! nothing per key, and forgetting idle keys is amortised: a cost proportional to the keys
//! is paid only after that many new keys.

use super::Alert;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// `alerts.throttle` in the agent's config.yaml.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ThrottleOptions {
    /// Alerts per second of one policy in one container (or on the host) stored one by one;
    /// 0 turns throttling off (the default: every alert is stored).
    pub max_per_second: u32,
    /// How long a fold gathers before its summary alert is written (1 s to a day).
    pub fold_seconds: u64,
}

impl Default for ThrottleOptions {
    fn default() -> Self {
        ThrottleOptions {
            max_per_second: 0,
            fold_seconds: 10,
        }
    }
}

/// The tag a summary alert carries in `ATags` (`--filter ATags~throttled` finds them).
pub const TAG: &str = "throttled";

struct Fold {
    sample: Alert,
    count: u64,
    first: i64,
    last: i64,
}

#[derive(Default)]
struct Key {
    second: i64,
    in_second: u32,
    fold: Option<Fold>,
}

/// The longest a fold gathers, whatever the configuration says (a day).
pub const MAX_FOLD_SECS: u64 = 86_400;

/// Beyond this many keys, those without a fold in progress are forgotten.
const MAX_KEYS: usize = 10_000;

pub struct Throttle {
    opts: ThrottleOptions,
    /// Policy name → container id → its count: looked up by `&str`, without allocating.
    keys: HashMap<String, HashMap<String, Key>>,
    /// How many keys `keys` holds.
    len: usize,
    /// The key count past which idle keys are forgotten: at least [`MAX_KEYS`], and twice
    /// what a sweep left (when every key has a fold in progress, a sweep frees nothing,
    /// and sweeping again at the next alert would cost O(keys) per alert).
    sweep_at: usize,
    /// The folds in progress by due time (and a sequence number, for equal times).
    pending: BTreeMap<(Instant, u64), (String, String)>,
    seq: u64,
    /// Alerts folded so far (also counted in the summaries).
    pub folded: u64,
}

impl Throttle {
    /// None when `opts` turns throttling off.
    pub fn new(opts: ThrottleOptions) -> Option<Throttle> {
        (opts.max_per_second > 0).then(|| Throttle {
            opts,
            keys: HashMap::new(),
            len: 0,
            sweep_at: MAX_KEYS,
            pending: BTreeMap::new(),
            seq: 0,
            folded: 0,
        })
    }

    /// Forgets the keys without a fold in progress (their count only matters within the
    /// current second).
    fn sweep(&mut self) {
        let mut len = 0;
        self.keys.retain(|_, by_container| {
            by_container.retain(|_, k| k.fold.is_some());
            len += by_container.len();
            !by_container.is_empty()
        });
        self.len = len;
        self.sweep_at = MAX_KEYS.max(2 * len);
    }

    /// Passes `a` on to `out`, or folds it when its policy and container are over the limit
    /// in the alert's second.
    pub fn admit(&mut self, a: Alert, now: Instant, out: &mut Vec<Alert>) {
        if self.len > self.sweep_at {
            self.sweep();
        }
        let by_container = match self.keys.get_mut(a.policy_name.as_str()) {
            Some(m) => m,
            None => self.keys.entry(a.policy_name.clone()).or_default(),
        };
        let key = match by_container.get_mut(a.container_id.as_str()) {
            Some(k) => k,
            None => {
                self.len += 1;
                by_container.entry(a.container_id.clone()).or_default()
            }
        };
        // Only a newer second starts a new count: alerts of two sources (an enforcer and
        // the monitor) arrive interleaved a second apart, and an older one counts towards
        // the current second rather than resetting it.
        if a.timestamp > key.second {
            key.second = a.timestamp;
            key.in_second = 0;
        }
        key.in_second += 1;
        if key.in_second <= self.opts.max_per_second {
            out.push(a);
            return;
        }
        self.folded += 1;
        match &mut key.fold {
            Some(f) => {
                f.count += 1;
                f.first = f.first.min(a.timestamp);
                f.last = f.last.max(a.timestamp);
            }
            None => {
                let due = now + Duration::from_secs(self.opts.fold_seconds.clamp(1, MAX_FOLD_SECS));
                self.seq += 1;
                self.pending.insert(
                    (due, self.seq),
                    (a.policy_name.clone(), a.container_id.clone()),
                );
                key.fold = Some(Fold {
                    first: a.timestamp,
                    last: a.timestamp,
                    count: 1,
                    sample: a,
                })
            }
        }
    }

    /// Writes the summaries whose gathering time is over (all of them with `all`).
    pub fn due(&mut self, now: Instant, all: bool, out: &mut Vec<Alert>) {
        let max = self.opts.max_per_second;
        while let Some(entry) = self.pending.first_entry() {
            if !all && entry.key().0 > now {
                break;
            }
            let (policy, container) = entry.remove();
            // Every pending entry names a key with its fold: a sweep keeps those.
            if let Some(f) = self
                .keys
                .get_mut(&policy)
                .and_then(|m| m.get_mut(&container))
                .and_then(|k| k.fold.take())
            {
                out.push(summary(f, max));
            }
        }
    }

    /// When the next summary is due, if a fold is gathering.
    pub fn next_due(&self) -> Option<Instant> {
        self.pending.first_key_value().map(|((due, _), _)| *due)
    }
}

/// The first folded alert, saying how many it stands for and over what time.
fn summary(f: Fold, max: u32) -> Alert {
    let mut a = f.sample;
    let span = |t: i64| crate::alert::format_rfc3339(t, 0);
    a.message = format!(
        "{} alerts of policy {} like this one{} between {} and {}: over {max}/s, folded into this summary (the first is shown){}",
        f.count,
        if a.policy_name.is_empty() {
            "-"
        } else {
            &a.policy_name
        },
        if a.container_name.is_empty() {
            String::new()
        } else {
            format!(" in container {}", a.container_name)
        },
        span(f.first),
        span(f.last),
        if a.message.is_empty() {
            String::new()
        } else {
            format!("; {}", a.message)
        }
    );
    a.atags.push(TAG.to_string());
    a.atags.push(format!("count={}", f.count));
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(t: i64, policy: &str, container: &str) -> Alert {
        Alert {
            timestamp: t,
            policy_name: policy.into(),
            container_id: container.into(),
            container_name: if container.is_empty() { "" } else { "web" }.into(),
            action: "Block".into(),
            ..Alert::default()
        }
    }

    #[test]
    fn a_burst_is_folded_into_one_summary_with_its_count_and_nothing_is_lost() {
        let mut t = Throttle::new(ThrottleOptions {
            max_per_second: 3,
            fold_seconds: 10,
        })
        .unwrap();
        let now = Instant::now();
        let mut out = Vec::new();
        for i in 0..10 {
            t.admit(alert(100, "p", ""), now, &mut out);
            // Another policy and another container have limits of their own.
            if i < 3 {
                t.admit(alert(100, "q", ""), now, &mut out);
                t.admit(alert(100, "p", "c1"), now, &mut out);
            }
        }
        t.admit(alert(101, "p", ""), now, &mut out);
        t.admit(alert(101, "p", ""), now, &mut out);
        assert_eq!(out.len(), 3 + 3 + 3 + 2, "the limit per second, per key");
        assert_eq!(t.folded, 7);
        assert_eq!(t.next_due(), Some(now + Duration::from_secs(10)));
        t.due(now + Duration::from_secs(5), false, &mut out);
        assert_eq!(out.len(), 11, "not due yet");
        t.due(now + Duration::from_secs(10), false, &mut out);
        let s = out.last().unwrap();
        assert!(s.atags.contains(&TAG.to_string()), "{s:?}");
        assert!(s.atags.contains(&"count=7".to_string()), "{s:?}");
        assert!(
            s.message
                .starts_with("7 alerts of policy p like this one between "),
            "{}",
            s.message
        );
        assert!(t.next_due().is_none());
        // Every alert is accounted for: passed, or counted in a summary.
        let counted: u64 = out
            .iter()
            .map(|a| {
                a.atags
                    .iter()
                    .find_map(|t| t.strip_prefix("count=")?.parse().ok())
                    .unwrap_or(1)
            })
            .sum();
        assert_eq!(counted, 10 + 3 + 3 + 2);
    }

    /// Past MAX_KEYS keys that all fold, admitting stays cheap (a sweep that frees nothing
    /// waits for the keys to double), idle keys are still forgotten, and every fold's
    /// summary still comes out in due order.
    #[test]
    fn many_folding_keys_are_summarised_and_idle_keys_forgotten() {
        let mut t = Throttle::new(ThrottleOptions {
            max_per_second: 1,
            fold_seconds: 10,
        })
        .unwrap();
        let now = Instant::now();
        let mut out = Vec::new();
        let n = MAX_KEYS + 500;
        for i in 0..n {
            let p = format!("p{i}");
            t.admit(alert(7, &p, ""), now, &mut out);
            t.admit(alert(7, &p, ""), now, &mut out);
        }
        assert_eq!(
            out.len() as u64 + t.folded,
            2 * n as u64,
            "passed or folded"
        );
        // The key whose two alerts straddled the first sweep was forgotten between them
        // (it had no fold yet), so its count started over.
        let folding = t.pending.len();
        assert!(folding >= n - 1, "{folding}");
        assert!(
            t.sweep_at >= 2 * MAX_KEYS,
            "a sweep that freed nothing: {}",
            t.sweep_at
        );
        // Keys without a fold are forgotten at the next sweep.
        for i in 0..=t.sweep_at - t.len {
            t.admit(alert(7, &format!("idle{i}"), "c"), now, &mut out);
        }
        assert_eq!(t.len, t.sweep_at + 1);
        t.admit(alert(7, "last", ""), now, &mut out);
        assert_eq!(
            t.len,
            folding + 1,
            "the idle keys are forgotten, the folding ones kept"
        );
        out.clear();
        assert_eq!(t.next_due(), Some(now + Duration::from_secs(10)));
        t.due(now + Duration::from_secs(9), false, &mut out);
        assert!(out.is_empty());
        t.due(now + Duration::from_secs(10), false, &mut out);
        assert_eq!(out.len(), folding, "one summary per folding key");
        assert!(out.iter().all(|a| a.atags.contains(&"count=1".to_string())));
        assert_eq!(t.next_due(), None);
    }

    #[test]
    fn off_by_default_and_flushed_at_the_end() {
        assert!(Throttle::new(ThrottleOptions::default()).is_none());
        let mut t = Throttle::new(ThrottleOptions {
            max_per_second: 1,
            fold_seconds: 3600,
        })
        .unwrap();
        let now = Instant::now();
        let mut out = Vec::new();
        t.admit(alert(5, "p", "c"), now, &mut out);
        t.admit(alert(5, "p", "c"), now, &mut out);
        t.due(now, true, &mut out);
        assert_eq!(out.len(), 2);
        assert!(
            out[1].message.contains("in container web"),
            "{}",
            out[1].message
        );
    }
}
