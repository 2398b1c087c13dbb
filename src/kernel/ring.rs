//! The read loop of a BPF ring buffer: drain, poll, repeat until stopped.
//!
//! Stopping is two-step, so that nothing the kernel wrote before the stop is lost: the
//! owner detaches its programs (or stops caring about new records), sets `stopping` and
//! signals the [`EventFd`]; the loop then drains once more and returns. That final drain is
//! bounded so that a flood cannot keep a stopping agent busy forever.

use super::clock;
use super::wake::EventFd;
use aya::maps::{MapData, RingBuf};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Records read in the drain after the stop at most.
const LAST_DRAIN_MAX: u32 = 1 << 16;

/// Calls `record` with every record of `ring` and the boot-to-epoch clock offset of its
/// batch ([`clock::boot_to_epoch_offset`]), until `stopping` is set and `wake` signalled.
/// `poll_ms` bounds the latency of a record when the programs do not wake the reader.
pub fn read_until_stopped(
    mut ring: RingBuf<MapData>,
    stopping: &AtomicBool,
    wake: &EventFd,
    poll_ms: i32,
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
        // SAFETY: fds is a valid array of two pollfd for the duration of the call.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, poll_ms) };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                tracing::error!("{name}: poll failed: {err}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}
