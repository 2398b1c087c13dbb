//! `knoxctl probe`: which enforcers work on this kernel (each one actually tried), what
//! each can enforce, and — when an agent answers — what it is doing and what it dropped.

use super::ExitStatus;
use super::{AgentConn, ProbeArgs, TableOrJson};
use crate::agent::api::{self, Request, Response};
use crate::agent::probe::probe_report;
use crate::enforce::{Backend, Level, Op};
use crate::onboard::supervisor;
use crate::output::{print_document, table};
use std::time::Duration;

fn level(l: Level) -> &'static str {
    match l {
        Level::Enforced => "enforced",
        Level::AuditOnly => "audit only",
        Level::None => "-",
    }
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Exec => "exec",
        Op::FileRead => "file read",
        Op::FileWrite => "file write",
        Op::Create => "create",
        Op::Unlink => "unlink",
        Op::Rename => "rename",
        Op::Network => "network",
        Op::Capabilities => "capabilities",
    }
}

/// `supervisor (pid 7): restarted the agent 2 times; last: pid 9 killed by signal 9
/// (SIGKILL) at ... after 12.3 s, restarted after 0 ms`.
fn supervisor_line(r: &supervisor::Record) -> String {
    let mut line = format!(
        "standalone supervisor (pid {}, since {}): restarted the agent {} time{}",
        r.supervisor_pid,
        r.started_at,
        r.restarts,
        if r.restarts == 1 { "" } else { "s" }
    );
    if let Some(e) = &r.last_exit {
        line.push_str(&format!(
            "; last: pid {} {} at {} after {:.1} s, restarted after {} ms",
            e.pid, e.how, e.at, e.ran_secs, e.restart_delay_ms
        ));
    }
    if r.agent_pid == 0 {
        line.push_str("; no agent running now (waiting to restart it)");
    }
    line
}

/// Each alert forwarder: where it sends, what it sent, what waits, what was lost.
fn forwarders_table(list: &[crate::forward::ForwarderStatus], fit: bool) -> crate::output::Table {
    let mut t = table(&[
        "Forwarder",
        "Kind",
        "Target",
        "Sent",
        "Pending",
        "Retries",
        "Lost",
        "Last success",
        "Last error",
    ]);
    t.pin(&["Forwarder", "Kind", "Sent", "Pending", "Lost"]);
    if !fit {
        t.whole();
    }
    for f in list {
        let mut lost = f.lost.to_string();
        if f.rejected > 0 {
            lost.push_str(&format!(" (+{} rejected)", f.rejected));
        }
        t.add_row(vec![
            f.name.clone(),
            f.kind.clone(),
            f.target.clone(),
            f.sent.to_string(),
            f.pending.to_string(),
            f.retries.to_string(),
            lost,
            f.last_success.map_or("-".into(), |t| {
                crate::alert::format_rfc3339(t, 0).replace(".000000000", "")
            }),
            f.last_error.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    t
}

pub fn run(args: ProbeArgs, conn: &AgentConn) -> anyhow::Result<ExitStatus> {
    let report = probe_report();
    let results = &report.enforcers;
    let auto = report.enforcement_available.then_some(report.selected);
    let reached = api::call(&conn.socket, &Request::Status, Duration::from_secs(5));
    let status = match &reached {
        Ok(Response::Status { status }) => Some(status.clone()),
        _ => None,
    };
    let supervisor = supervisor::record_for(&conn.socket);
    match args.output {
        TableOrJson::Json | TableOrJson::Yaml => {
            let mut out = serde_json::to_value(&report)?;
            out["agent"] = serde_json::to_value(&status)?;
            out["supervisor"] = serde_json::to_value(&supervisor)?;
            print_document(&out, args.output.document().expect("a document format"))?;
        }
        TableOrJson::Table | TableOrJson::Wide => {
            let fit = args.output == TableOrJson::Table;
            let mut t = table(&["Enforcer", "Works here", "Auto picks", "Why"]);
            t.pin(&["Enforcer", "Works here", "Auto picks"]);
            if !fit {
                t.whole();
            }
            for r in results {
                let picked = Some(r.backend) == auto
                    || (auto.is_none() && r.backend == Backend::MonitorOnly);
                t.add_row(vec![
                    r.backend.to_string(),
                    if r.usable { "yes".into() } else { "no".into() },
                    if picked { "<-".into() } else { String::new() },
                    r.reason.clone(),
                ]);
            }
            println!("{t}");
            let mut header = vec!["Operation"];
            let names: Vec<String> = results.iter().map(|r| r.backend.to_string()).collect();
            header.extend(names.iter().map(String::as_str));
            let mut m = table(&header);
            if !fit {
                m.whole();
            }
            for op in Op::ALL {
                let mut row = vec![op_name(op).to_string()];
                for r in results {
                    row.push(
                        r.coverage
                            .iter()
                            .find(|c| c.op == op)
                            .map(|c| level(c.level))
                            .unwrap_or("-")
                            .to_string(),
                    );
                }
                m.add_row(row);
            }
            println!("{m}");
            match (&report.monitor.reason, &report.monitor.syscalls_reason) {
                (None, None) => println!(
                    "eBPF monitor: works (exec, file, network and syscall events; Audit alerts)"
                ),
                (None, Some(s)) => println!(
                    "eBPF monitor: works (exec, file and network events; Audit alerts); \
                     syscall events not usable, syscall rules raise no alerts: {s}"
                ),
                (Some(e), _) => println!("eBPF monitor: not usable: {e}"),
            }
            if report.monitor.usable {
                match &report.monitor.opens_fexit_reason {
                    None => println!(
                        "eBPF monitor file events: fexit on the open syscalls (only opens pay for them)"
                    ),
                    Some(r) => println!(
                        "eBPF monitor file events: syscall tracepoints (every syscall takes the slow path while file events are on); fexit not usable: {r}"
                    ),
                }
            }
            match &status {
                Some(s) => {
                    println!(
                        "agent (pid {}): enforcer {}, {} policies, {} host rules; alerts stored {}, folded into summaries {}, dropped {}; \
                         monitor events {} (lost in kernel {}, dropped {}); enforcer events dropped {}",
                        s.pid,
                        s.enforcer,
                        s.policies,
                        s.host_rules,
                        s.alerts_stored,
                        s.alerts_folded,
                        s.alerts_dropped,
                        s.monitor_received,
                        s.monitor_lost_in_kernel,
                        s.monitor_dropped_in_userspace,
                        s.enforcer_events_dropped
                    );
                    if s.logs_stored + s.logs_dropped > 0 {
                        println!(
                            "telemetry (visibility): logs stored {}, dropped {}",
                            s.logs_stored, s.logs_dropped
                        );
                    }
                    for u in &s.unenforceable {
                        println!("  observed only (alerted, not blocked): {u}");
                    }
                    for u in &s.unprotected {
                        println!("  neither blocked nor alerted: {u}");
                    }
                    for u in &s.unaudited {
                        println!("  not audited: {u}");
                    }
                    if let Some(g) = &s.grpc {
                        println!(
                            "KubeArmor gRPC API: {} ({}, {}); {} streaming clients, {} records sent, {} missed by slow clients, {} calls refused",
                            g.address,
                            if g.tls { "TLS" } else { "plaintext" },
                            if g.peer_check {
                                "root peers only"
                            } else {
                                "any peer"
                            },
                            g.clients,
                            g.sent,
                            g.lagged,
                            g.refused_peers
                        );
                    }
                    if !s.forwarders.is_empty() {
                        println!("{}", forwarders_table(&s.forwarders, fit));
                    }
                }
                None => match &reached {
                    Err(e @ api::ClientError::Permission { .. }) => {
                        println!("agent: cannot tell: {e} (for an accurate report)")
                    }
                    Err(api::ClientError::Connect { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound =>
                    {
                        println!(
                            "agent: not running at {} (no socket)",
                            conn.socket.display()
                        )
                    }
                    Err(e) => println!("agent: not answering: {e}"),
                    Ok(other) => println!("agent: unexpected answer: {other:?}"),
                },
            }
            if let Some(r) = &supervisor {
                println!("{}", supervisor_line(r));
            }
        }
    }
    Ok(if auto.is_some() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
