//! The eBPF monitor: tracepoint programs (C, compiled with clang; objects committed next to
//! their sources) that report exec/exit/fork, file opens and network connect/accept/bind
//! through a ring buffer. It feeds Audit alerts and enriches enforcer alerts.
// TEMPORARY local shim, never committed: replaced by the monitor branch at merge.
pub fn probe() -> Result<(), String> {
    Err("shim".into())
}
