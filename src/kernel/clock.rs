//! Clocks: wall-clock epoch time for alerts and retention, and the offset that turns the
//! kernel's boot-time stamps (`bpf_ktime_get_boot_ns`) into epoch time.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_epoch() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Nanoseconds since the Unix epoch (0 if the clock is before it).
pub fn now_epoch_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// CLOCK_REALTIME - CLOCK_BOOTTIME, to turn bpf_ktime_get_boot_ns() into epoch time.
/// Read again for every batch of events: the wall clock may be stepped while we run.
pub fn boot_to_epoch_offset() -> i128 {
    let read = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: ts is a valid, writable timespec.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
    };
    let boot = read(libc::CLOCK_BOOTTIME);
    let real = read(libc::CLOCK_REALTIME);
    real - boot
}

/// A boot-time stamp from the kernel as nanoseconds since the epoch (never negative).
pub fn boot_ns_to_epoch(boot_ns: u64, offset: i128) -> u128 {
    (boot_ns as i128 + offset).max(0) as u128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_time_becomes_epoch_time() {
        let offset = boot_to_epoch_offset();
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: ts is a valid, writable timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
        let boot = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
        let epoch = boot_ns_to_epoch(boot, offset);
        let now = now_epoch_ns();
        assert!(now.abs_diff(epoch) < 1_000_000_000, "{now} vs {epoch}");
        assert_eq!(boot_ns_to_epoch(5, -10), 0);
        assert!((now_epoch() as u128).abs_diff(now / 1_000_000_000) <= 1);
    }
}
