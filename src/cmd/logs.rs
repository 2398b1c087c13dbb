//! `knoxctl logs`: the telemetry store (`logs.db`: the monitor's events that raised no
//! alert, kept as KubeArmor's HostLog/ContainerLog records when config.yaml's `visibility`
//! asks for them), queried and followed with `alerts`' own filters, output and tail; or
//! exported KubeArmor HostLog/ContainerLog JSON Lines (`--from`), through `alerts --from`'s
//! reader.

use super::alerts::{self, View};
use super::{AgentConn, ExitStatus, LogsArgs, LogsCommand};
use crate::alert::Alert;
use crate::alert::store::StoreKind;
use crate::output::format_time;

pub const ABOUT: &str = "\
Queries the agent's telemetry: the eBPF monitor's events that raised no alert, kept as \
KubeArmor's HostLog (host processes) and ContainerLog (registered containers) records with \
KubeArmor's field names (Operation Process, File or Network; Source, Resource, Data, \
Result). Nothing is recorded unless config.yaml asks for it, as KubeArmor's visibility \
settings do:

  visibility:
    host: [process, file, network]     # or \"process,file,network\", or none (the default)
    containers: none
  logs: {maxAgeDays: 7, maxRows: 2000000}

The logs live in logs.db in the state directory, apart from the alerts, and are read \
directly, so this works while the agent is stopped. An event that raised an alert is in \
the alerts, not here. -o json prints JSON Lines, as `alerts` and `karmor logs --json` do.

--from FILE filters logs exported elsewhere (`karmor logs --json --logFilter system`, a \
KubeArmor relay's archive; - reads stdin) with the same filters, no agent needed. Records \
of alert types in the file (MatchedPolicy, ...) are counted and left to `knoxctl alerts \
--from`; a line that is not a KubeArmor record is reported with its line number and makes \
the exit status 1.";

/// The table: no policy or action columns (logs have none), the type instead.
const HEADER: [&str; 6] = ["TIME", "TYPE", "OPERATION", "RESOURCE", "PROCESS", "RESULT"];
const WIDE: [&str; 5] = ["DATA", "SOURCE", "HOST PID", "UID", "CONTAINER"];

fn row(a: &Alert, wide: bool) -> Vec<String> {
    let mut r = vec![
        format_time(a.timestamp),
        a.kind.clone(),
        a.operation.clone(),
        a.resource.clone(),
        a.process_name.clone(),
        a.result.clone(),
    ];
    if wide {
        r.extend([
            a.data.clone(),
            a.source.clone(),
            a.host_pid.to_string(),
            a.uid.to_string(),
            a.container_name.clone(),
        ]);
    }
    r
}

const LOGS: View = View {
    kind: StoreKind::Logs,
    command: "logs",
    header: &HEADER,
    wide: &WIDE,
    row,
    lost: |st| st.logs_dropped + st.monitor_lost_in_kernel + st.monitor_dropped_in_userspace,
    missing_hint: "Logs are recorded only while config.yaml's visibility asks for them \
                   (visibility: {host: [process, file, network]}); with visibility none, the \
                   default, there are none. Otherwise point --state-dir (or \
                   KNOXCTL_STATE_DIR) at the agent's state directory, or filter exported \
                   KubeArmor logs with --from FILE.",
    // Only telemetry: an export with both (`karmor logs --logFilter all`) shows its alerts
    // with `alerts --from`, as the agent's stores keep them apart.
    keeps: |kind| !crate::agent::grpc::is_alert(kind),
    elsewhere: "alerts (MatchedPolicy, MatchedHostPolicy, ...) not shown: knoxctl alerts --from \
                shows them",
};

pub fn run(args: LogsArgs, conn: &AgentConn) -> anyhow::Result<ExitStatus> {
    let query = match alerts::query_of(
        &args.filters,
        args.since.as_deref(),
        args.until.as_deref(),
        args.limit,
        "log",
    ) {
        Ok(q) => q,
        Err(e) => return Ok(super::usage(&e, LOGS.command)),
    };
    match args.command {
        Some(LogsCommand::Tail) if args.from.is_some() => Ok(super::usage(
            "--from cannot be combined with 'tail': tail follows the log store; to follow \
             a KubeArmor stream, pipe it: karmor logs --json --logFilter system | knoxctl logs \
             --from -",
            "logs tail",
        )),
        Some(LogsCommand::Tail) => {
            if query.until.is_some() {
                return Ok(super::usage(
                    "--until cannot be combined with 'tail', which follows new logs",
                    "logs tail",
                ));
            }
            alerts::warn_if_no_agent(&LOGS, conn, &args.state_dir);
            alerts::tail(&LOGS, &args.state_dir, &conn.socket, query, args.output)
        }
        None => match &args.from {
            Some(from) => alerts::from_lines(&LOGS, from, query, args.output),
            None => alerts::from_store(&LOGS, &args.state_dir, query, args.output),
        },
    }
}
