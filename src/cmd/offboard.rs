//! `knoxctl offboard vm`: prints what will be stopped and removed, asks for confirmation,
//! and reports what it did and whether anything is left. The work is in
//! `crate::onboard::offboard`.

use super::ExitStatus;
use super::OffboardVmArgs;
use super::onboard::must_be_root;
use crate::onboard::offboard;
use crate::output::{Consent, confirm, paint, progress_bar};

fn print_plan(p: &offboard::OffboardPlan) {
    println!(
        "Offboarding plan for {}{}:",
        crate::identity::hostname(),
        super::onboard::under(&p.paths)
    );
    if p.systemd {
        println!("  stop and disable {}", crate::onboard::systemd::UNIT_NAME);
    }
    for a in &p.agents {
        println!("  stop agent pid {}: {}", a.pid, a.cmdline.join(" "));
    }
    for pin in &p.bpf_pins {
        println!(
            "  remove pinned BPF objects {} (detaches BPF-LSM programs)",
            pin.display()
        );
    }
    for name in &p.apparmor_profiles {
        println!("  unload AppArmor profile {name}");
    }
    for i in &p.remove {
        println!("  remove {} — {}", i.path.display(), i.what);
    }
    if !p.man_pages.is_empty() {
        println!(
            "  remove {}/knoxctl*.1 — {} man pages",
            p.paths.man_dir.display(),
            p.man_pages.len()
        );
    }
    for i in &p.keep {
        println!("  keep   {} — {}", i.path.display(), i.what);
    }
}

pub fn run(args: OffboardVmArgs) -> anyhow::Result<ExitStatus> {
    let paths = crate::onboard::Paths::from_env();
    must_be_root(&paths, "offboard vm")?;
    let plan = offboard::plan(&paths, args.purge);
    if plan.nothing_to_do() {
        println!("knoxctl is not onboarded on this host: nothing to do");
        for i in &plan.keep {
            println!("  left in place: {} — {}", i.path.display(), i.what);
        }
        return Ok(ExitStatus::Success);
    }
    print_plan(&plan);
    match confirm("Offboard this host?", args.yes) {
        Consent::Given => {}
        Consent::Declined => {
            eprintln!("knoxctl: offboarding aborted; nothing was changed");
            return Ok(ExitStatus::Failure);
        }
        Consent::NoTerminal => {
            super::error(
                "offboard vm changes this host and there is no terminal to confirm on: \
                 pass --yes to proceed; nothing was changed",
            );
            return Ok(ExitStatus::Usage);
        }
    }
    let bar = progress_bar(plan.step_count());
    let report = offboard::execute(&plan, &mut |step| {
        bar.set_message(step.to_string());
        bar.inc(1);
    });
    bar.finish_and_clear();
    for s in &report.steps {
        match &s.error {
            None => println!("  done    {}", s.what),
            Some(e) => println!("  {} {}: {e}", paint("FAILED ", "31"), s.what),
        }
    }
    if report.ok() {
        println!(
            "{} nothing of knoxctl's runs or stays loaded on this host{}",
            paint("offboarded:", "32"),
            if plan.keep.is_empty() {
                String::new()
            } else {
                format!(
                    "; kept: {}",
                    plan.keep
                        .iter()
                        .map(|i| i.path.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
        return Ok(ExitStatus::Success);
    }
    super::error("offboarding left things behind:");
    for l in &report.leftovers {
        eprintln!("  {l}");
    }
    eprintln!("Remove them by hand (or fix the cause above and run `knoxctl offboard vm` again).");
    Ok(ExitStatus::Failure)
}
