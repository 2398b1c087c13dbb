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
