//! The kernel edge shared by the enforcers and the monitor: what both sides of
//! `enforce` and `monitor` need from the kernel without knowing about each other.
//!
//! Owns: reading BPF ring buffers until told to stop ([`ring`]), waking a poller
//! ([`wake`]), rendering open flags as KubeArmor does ([`flags`]), turning kernel clocks
//! into epoch time ([`clock`]), shrinking verifier logs to their verdict ([`verifier`]) and
//! mounting the pseudo-filesystems BPF needs ([`fs`]).
//!
//! Does not own any policy, rule or alert type: this layer sits below `enforce` and
//! `monitor`, and imports neither.

pub mod clock;
pub mod flags;
pub mod fs;
pub mod ring;
pub mod verifier;
pub mod wake;

/// `#define PREFIX<NAME> <number>` lines of a C source, as (NAME, number): how tests hold
/// the Rust mirrors of BPF programs' codes to the C they mirror.
#[cfg(test)]
pub(crate) fn c_defines(source: &str, prefix: &str) -> Vec<(String, u64)> {
    source
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next()? == "#define").then_some(())?;
            let name = w.next()?.strip_prefix(prefix)?;
            let value = w.next()?;
            let value = match value.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok()?,
                None => value.parse().ok()?,
            };
            Some((name.to_string(), value))
        })
        .collect()
}
