//! `knoxctl onboard vm`: prints the plan, asks for confirmation, shows progress, and ends
//! with what runs and what to do next. The work is in `crate::onboard`.

use super::ExitStatus;
use super::OnboardVmArgs;
use crate::enforce::Backend;
use crate::onboard::plan::{self, AgentAction, Change, Content, FilePlan, MAN_PAGE, Plan};
use crate::output::{Consent, confirm, paint, progress_bar};
use anyhow::Context;

/// ` (under DIR)` for a prefixed installation, nothing for the real one.
pub(super) fn under(paths: &crate::onboard::Paths) -> String {
    if paths.is_real() {
        String::new()
    } else {
        format!(" (under {})", paths.root.display())
    }
}

pub(super) fn must_be_root(paths: &crate::onboard::Paths, what: &str) -> anyhow::Result<()> {
    // SAFETY: geteuid has no failure mode.
    if paths.is_real() && unsafe { libc::geteuid() } != 0 {
        anyhow::bail!("{what} changes system files and needs root: run it with sudo");
    }
    Ok(())
}

fn print_plan(p: &Plan) {
    let label = |s: &str| paint(&format!("{s:<13}"), "1");
    println!(
        "Onboarding plan for {}{}:",
        crate::identity::hostname(),
        under(&p.paths)
    );
    println!("  {} {} — {}", label("mode"), p.mode, p.mode_reason);
    println!(
        "  {} {} — {}",
        label("enforcer"),
        p.backend,
        p.enforcer_reason
    );
    for d in &p.dirs {
        println!(
            "  {} {:<7} {} — {}",
            label("directory"),
            d.change,
            d.path.display(),
            d.what
        );
    }
    // The man pages are one line: the directory, how many, and how many change.
    let (man, files): (Vec<&FilePlan>, Vec<&FilePlan>) =
        p.files.iter().partition(|f| f.what == MAN_PAGE);
    for f in files {
        let detail = match (&f.content, f.change) {
            (Content::CopyOf(src), Change::Keep) => format!(" (already {})", src.display()),
            (Content::CopyOf(src), _) => format!(" (copy of {})", src.display()),
            _ => String::new(),
        };
        println!(
            "  {} {:<7} {}{detail}",
            label(f.what),
            f.change,
            f.path.display()
        );
    }
    if let Some(first) = man.first() {
        let changing = man.iter().filter(|f| f.change != Change::Keep).count();
        let change = if changing == 0 {
            Change::Keep
        } else if man.iter().all(|f| f.change == Change::Create) {
            Change::Create
        } else {
            Change::Update
        };
        let dir = first.path.parent().unwrap_or(&p.paths.root);
        println!(
            "  {} {:<7} {}/knoxctl*.1 ({} pages{})",
            label("man pages"),
            change,
            dir.display(),
            man.len(),
            if change == Change::Update {
                format!(", {changing} changed")
            } else {
                String::new()
            }
        );
    }
    if let Some(pins) = &p.stale_pins {
        println!(
            "  {} remove  {} — pinned BPF-LSM programs {} will not use",
            label("bpf pins"),
            pins.display(),
            p.backend
        );
    }
    let how = match p.mode {
        crate::onboard::Mode::Systemd => format!(
            "as {} ({})",
            crate::onboard::systemd::UNIT_NAME,
            p.agent_command()
        ),
        crate::onboard::Mode::Standalone => format!(
            "detached: {} (log {}, pid file {})",
            p.agent_command(),
            p.paths.log.display(),
            p.paths.pid_file.display()
        ),
    };
    match &p.agent {
        AgentAction::Start => println!("  {} start   {how}", label("agent")),
        AgentAction::Restart(why) => {
            println!("  {} restart {how}: {why}", label("agent"))
        }
        AgentAction::Nothing => println!(
            "  {} keep    pid {} is running",
            label("agent"),
            p.running_pid.unwrap_or_default()
        ),
    }
}

pub fn run(args: OnboardVmArgs) -> anyhow::Result<ExitStatus> {
    let paths = crate::onboard::Paths::from_env();
    if !args.dry_run {
        must_be_root(&paths, "onboard vm")?;
    }
    let labels = crate::identity::parse_labels(&args.labels)
        .map_err(anyhow::Error::msg)
        .context("--label")?;
    let req = plan::Request {
        enforcer: args.enforcer,
        cluster_name: args.cluster_name,
        labels,
        mode: args.mode,
        docs: plan::Docs {
            completion: super::assets::completion,
            man_pages: super::assets::man_pages,
        },
    };
    let probes = crate::enforce::probe_all();
    let plan = plan::plan(&req, &paths, &probes)?;

    if plan.nothing_to_do() {
        let pid = plan.running_pid.unwrap_or_default();
        println!(
            "already onboarded, nothing to do: the agent (pid {pid}, {} mode, enforcer {}) answers on {}",
            plan.mode,
            plan.backend,
            paths.socket.display()
        );
        return Ok(ExitStatus::Success);
    }
    print_plan(&plan);
    if plan.backend == Backend::MonitorOnly {
        eprintln!(
            "{} no enforcer will run: policies will be audited (alerts), not enforced. `knoxctl probe` says why.",
            paint("warning:", "33")
        );
    }
    if args.dry_run {
        println!("dry run: nothing was changed");
        return Ok(ExitStatus::Success);
    }
    match confirm("Onboard this host?", args.yes) {
        Consent::Given => {}
        Consent::Declined => {
            eprintln!("knoxctl: onboarding aborted; nothing was changed");
            return Ok(ExitStatus::Failure);
        }
        Consent::NoTerminal => {
            super::error(
                "onboard vm changes this host and there is no terminal to confirm on: \
                 pass --yes to proceed (or --dry-run to only see the plan); nothing was changed",
            );
            return Ok(ExitStatus::Usage);
        }
    }

    let bar = progress_bar(plan.step_count());
    let result = plan::execute(&plan, &mut |step| {
        bar.set_message(step.to_string());
        bar.inc(1);
    });
    bar.finish_and_clear();
    let outcome = result.context(
        "onboarding failed; fix the cause and run `knoxctl onboard vm` again, or undo it with `knoxctl offboard vm`",
    )?;
    let s = &outcome.status;
    println!(
        "{} the agent (pid {}) answers on {}: {} mode, enforcer {}, {} policies ({:.1} s)",
        paint("onboarded:", "32"),
        s.pid,
        paths.socket.display(),
        plan.mode,
        s.enforcer,
        s.policies,
        outcome.elapsed.as_secs_f64()
    );
    if s.enforcer != plan.backend.to_string() {
        eprintln!(
            "{} the plan expected enforcer {} but the agent runs {}: {}",
            paint("warning:", "33"),
            plan.backend,
            s.enforcer,
            s.enforcer_reason
        );
    }
    let host = crate::identity::hostname();
    println!(
        "\nNext:\n  \
         knoxctl policy apply -f POLICY.yaml   # KubeArmorHostPolicy with nodeSelector kubearmor.io/hostname: {host}\n  \
         knoxctl policy list                   # what is applied\n  \
         knoxctl alerts                        # what was blocked or audited\n  \
         knoxctl probe                         # what this kernel can enforce\n  \
         man knoxctl                           # the manual, one page per command (man knoxctl-alerts)\n  \
         knoxctl harden recommend --host       # hardening policies for this host (Audit first)\n  \
         knoxctl offboard vm                   # undo all of this"
    );
    Ok(ExitStatus::Success)
}
