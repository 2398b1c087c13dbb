//! `knoxctl containers`: the containers the agent knows and the policies that select each.

use super::{AgentConn, ExitStatus, TableOrJson};
use crate::agent::api::{self, Request, Response};
use crate::output::{print_document, table};
use clap::Args;
use std::time::Duration;

pub const ABOUT: &str = "\
Lists the containers the agent knows on this host: their id (short in tables, full in \
documents), name, image, runtime, init process, labels, how each was found (docker-api:SOCKET \
for docker and podman's Docker-compatible service, oci-hook for podman's hook, cgroup-scan for \
a runtime knoxctl cannot ask: then only the id is known and the name is the short id) and \
which applied KubeArmorPolicy and KubeArmorClusterPolicy documents select it.

Selection follows KubeArmor outside Kubernetes: a KubeArmorPolicy applies when its namespace \
is container_namespace or absent; kubearmor.io/container.name is a regular expression matched \
unanchored against `kubearmor.io/container.name=NAME`, so `ubuntu` also selects `ubuntu-2` \
(write `ubuntu$` for exactly one name); other labels must match exactly.

The Enforced column says how the selected policies' rules are enforced in the container: by \
a fanotify group of its own (whatever enforces the host), which marks the container's files \
through its root and judges that container's processes only. `N/M rules` counts the rules \
enforced; -o json lists the others with the reason. A podman container is enforced before its \
entrypoint runs (the OCI hook); a container found through the Docker API from the moment its \
start event arrives (0.1-0.3 s after it started).

The AppArmor column is the profile the container's init process runs under, read from \
/proc/PID/attr (apparmorProfile in documents; unconfined, docker-default, ...). With the AppArmor \
enforcer the agent loads a profile knoxctl-c-NAME for every container policies select, and for \
every container name a selector names, before it runs: a runtime sets a container's profile \
when it starts it (docker and podman --security-opt apparmor=knoxctl-c-NAME, runc's \
process.apparmorProfile) and cannot change it later, so a container that runs under another \
profile is enforced by fanotify (process and file rules) and its -o json notes say so.";

#[derive(Args, Debug)]
pub struct ContainersArgs {
    /// Output format
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: TableOrJson,
}

pub fn run(args: ContainersArgs, conn: &AgentConn) -> anyhow::Result<ExitStatus> {
    let items = match api::call(&conn.socket, &Request::Containers, Duration::from_secs(10))? {
        Response::Containers { items } => items,
        Response::Error { message, .. } => anyhow::bail!("{message}"),
        _ => anyhow::bail!("unexpected response from the agent (is it older than this knoxctl?)"),
    };
    // Read here, for every container, policies or not: the CLI runs on the agent's host.
    let labels: Vec<Option<String>> = items
        .iter()
        .map(|i| (i.container.pid != 0).then(|| apparmor_label(i.container.pid))?)
        .collect();
    if let Some(doc) = args.output.document() {
        let mut v = serde_json::to_value(&items)?;
        if let Some(list) = v.as_array_mut() {
            for (item, label) in list.iter_mut().zip(&labels) {
                if let (Some(obj), Some(l)) = (item.as_object_mut(), label) {
                    obj.insert("apparmorProfile".into(), l.clone().into());
                }
            }
        }
        print_document(&v, doc)?;
        return Ok(ExitStatus::Success);
    }
    if items.is_empty() {
        eprintln!("No containers found.");
        return Ok(ExitStatus::Success);
    }
    let mut t = table(&[
        "Container ID",
        "Name",
        "Image",
        "Runtime",
        "PID",
        "Labels",
        "Found by",
        "Selected by",
        "Enforced",
        "AppArmor",
    ]);
    for (i, label) in items.iter().zip(&labels) {
        let c = &i.container;
        let labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        t.add_row(vec![
            c.short_id().to_string(),
            c.name.clone(),
            c.image.clone(),
            c.runtime.clone(),
            if c.pid == 0 {
                "-".into()
            } else {
                c.pid.to_string()
            },
            labels.join(","),
            c.sources.join(","),
            if i.policies.is_empty() {
                "-".into()
            } else {
                i.policies.join(",")
            },
            match &i.enforcement {
                None => "-".into(),
                Some(e) if !e.error.is_empty() => e.error.clone(),
                Some(e) => format!("{} ({}/{} rules)", e.backend, e.enforced, e.rules),
            },
            label.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    t.pin(&["Container ID", "Name", "Runtime", "PID"]);
    if args.output == TableOrJson::Wide {
        t.whole();
    }
    println!("{t}");
    Ok(ExitStatus::Success)
}

/// The AppArmor label of `pid` (`knoxctl-c-web`, `unconfined`), None where AppArmor does
/// not run or the process cannot be read.
fn apparmor_label(pid: u32) -> Option<String> {
    if !std::path::Path::new(crate::enforce::apparmor::SECURITYFS).exists() {
        return None;
    }
    crate::enforce::apparmor::containers::label(pid)
}
