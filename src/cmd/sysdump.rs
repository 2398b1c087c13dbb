//! `knoxctl sysdump`: writes the diagnostic archive and prints its path and what could not
//! be collected. The work is in `crate::sysdump`.

use super::ExitStatus;
use super::SysdumpArgs;
use crate::output::progress_bar;
use crate::sysdump::{self, ItemStatus};
use anyhow::Context;

pub fn run(args: SysdumpArgs, socket: Option<std::path::PathBuf>) -> anyhow::Result<ExitStatus> {
    let paths = crate::onboard::Paths::from_env();
    // A directory (existing, or written with a trailing slash) gets the default name
    // inside it, as `cp FILE DIR/` would.
    let output = match args.output {
        None => sysdump::default_file_name().into(),
        Some(p) if p.is_dir() || p.as_os_str().as_encoded_bytes().ends_with(b"/") => {
            std::fs::create_dir_all(&p)
                .with_context(|| format!("cannot create the directory {}", p.display()))?;
            p.join(sysdump::default_file_name())
        }
        Some(p) => p,
    };
    let bar = progress_bar(sysdump::item_count());
    let target = sysdump::Target {
        socket,
        state_dir: args.state_dir,
    };
    let result = sysdump::write(&paths, &target, args.alerts, &output, &mut |item| {
        bar.set_message(item.to_string());
        bar.inc(1);
    });
    bar.finish_and_clear();
    let written = result.context("sysdump failed; pass -o with a writable path")?;
    for item in &written.manifest.items {
        if item.status == ItemStatus::Failed {
            eprintln!(
                "knoxctl: could not collect {}: {}",
                item.name,
                item.error.as_deref().unwrap_or("")
            );
        }
    }
    let ok = written
        .manifest
        .items
        .iter()
        .filter(|i| i.status == ItemStatus::Ok)
        .count();
    eprintln!(
        "knoxctl: {ok} of {} items collected ({} bytes); attach this file to the bug report:",
        written.manifest.items.len(),
        written.bytes
    );
    println!("{}", written.path.display());
    Ok(ExitStatus::Success)
}
