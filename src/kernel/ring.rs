//! The read loop of a BPF ring buffer: drain, poll, repeat until stopped.
//!
//! Stopping is two-step, so that nothing the kernel wrote before the stop is lost: the
//! owner detaches its programs (or stops caring about new records), sets `stopping` and
//! signals the [`EventFd`]; the loop then drains once more and returns. That final drain is
//! bounded so that a flood cannot keep a stopping agent busy forever.
//!
//! Between drains the loop sleeps in poll(2). Programs that do not wake the reader for
//! every record (the monitor's) rely on its timeout, which is short while records come
//! and doubles with every empty round up to a ceiling, so that an idle agent sleeps
//! instead of waking a hundred times a second.

use super::clock;
use super::wake::EventFd;
use aya::maps::{MapData, RingBuf};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Records read in the drain after the stop at most.
const LAST_DRAIN_MAX: u32 = 1 << 16;

/// How long the read loop sleeps between drains, in milliseconds: `busy` after a round
/// that found records, doubling after each empty round up to `idle`. The timeout bounds
/// the latency of a record that did not wake the reader.
#[derive(Clone, Copy, Debug)]
pub struct PollTimeout {
    pub busy: i32,
    pub idle: i32,
}

impl PollTimeout {
    fn next(self, current: i32, found: bool) -> i32 {
        if found {
            self.busy
        } else {
            current.saturating_mul(2).clamp(self.busy, self.idle)
        }
    }
}

/// Calls `record` with every record of `ring` and the boot-to-epoch clock offset of its
/// batch ([`clock::boot_to_epoch_offset`]), until `stopping` is set and `wake` signalled.
pub fn read_until_stopped(
    mut ring: RingBuf<MapData>,
    stopping: &AtomicBool,
    wake: &EventFd,
    poll: PollTimeout,
    name: &str,
    mut record: impl FnMut(&[u8], i128),
) {
    let mut fds = [
        libc::pollfd {
            fd: ring.as_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: wake.fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let mut timeout = poll.busy;
    loop {
        // Checked before draining so that the drain after the last wake-up is complete.
        let last = stopping.load(Ordering::SeqCst);
        let offset = clock::boot_to_epoch_offset();
        let mut drained = 0u32;
        while let Some(item) = ring.next() {
            drained += 1;
            if last && drained > LAST_DRAIN_MAX {
                break;
            }
            record(&item, offset);
        }
        if last {
            return;
        }
        timeout = poll.next(timeout, drained > 0);
        // SAFETY: fds is a valid array of two pollfd for the duration of the call.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                tracing::error!("{name}: poll failed: {err}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeout_backs_off_while_idle_and_snaps_back_on_records() {
        let p = PollTimeout {
            busy: 10,
            idle: 500,
        };
        let mut t = p.busy;
        let mut seen = Vec::new();
        for _ in 0..8 {
            t = p.next(t, false);
            seen.push(t);
        }
        assert_eq!(seen, [20, 40, 80, 160, 320, 500, 500, 500]);
        assert_eq!(p.next(t, true), 10);
    }
}
