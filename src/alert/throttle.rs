//! Throttling that never hides: past a rate limit per policy and container, alerts are
//! folded into one summary alert that carries how many there were and when the first and
//! last happened, instead of being dropped as KubeArmor's throttling drops them (#905,
//! #2789). Runs in the store's writer thread, which sees every alert in order, so it needs
//! no lock and costs one hash lookup per alert.

use super::Alert;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
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
    due: Instant,
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
    keys: HashMap<(String, String), Key>,
    /// Alerts folded so far (also counted in the summaries).
    pub folded: u64,
}

impl Throttle {
    /// None when `opts` turns throttling off.
    pub fn new(opts: ThrottleOptions) -> Option<Throttle> {
        (opts.max_per_second > 0).then(|| Throttle {
            opts,
            keys: HashMap::new(),
            folded: 0,
        })
    }

    /// Passes `a` on to `out`, or folds it when its policy and container are over the limit
    /// in the alert's second.
    pub fn admit(&mut self, a: Alert, now: Instant, out: &mut Vec<Alert>) {
        if self.keys.len() > MAX_KEYS {
            self.keys.retain(|_, k| k.fold.is_some());
        }
        let key = self
            .keys
            .entry((a.policy_name.clone(), a.container_id.clone()))
            .or_default();
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
                key.fold = Some(Fold {
                    first: a.timestamp,
                    last: a.timestamp,
                    count: 1,
                    sample: a,
                    due: now + Duration::from_secs(self.opts.fold_seconds.clamp(1, MAX_FOLD_SECS)),
                })
            }
        }
    }

    /// Writes the summaries whose gathering time is over (all of them with `all`).
    pub fn due(&mut self, now: Instant, all: bool, out: &mut Vec<Alert>) {
        let max = self.opts.max_per_second;
        for k in self.keys.values_mut() {
            if k.fold.as_ref().is_some_and(|f| all || f.due <= now) {
                out.push(summary(k.fold.take().expect("checked"), max));
            }
        }
    }

    /// When the next summary is due, if a fold is gathering.
    pub fn next_due(&self) -> Option<Instant> {
        self.keys
            .values()
            .filter_map(|k| k.fold.as_ref().map(|f| f.due))
            .min()
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
