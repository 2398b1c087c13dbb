//! The eBPF monitor: tracepoint programs (C, compiled with clang; objects committed next to
//! their sources) that report exec/exit/fork, file opens and network connect/accept/bind
//! through a ring buffer. It feeds Audit alerts and enriches enforcer alerts.
