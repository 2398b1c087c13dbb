//! Committed completions and man pages match the command tree. Regenerate them with
//! `UPDATE_ASSETS=1 cargo test --test cli assets`.

use super::*;

#[test]
fn committed_completions_and_man_pages_are_current() {
    let update = std::env::var_os("UPDATE_ASSETS").is_some();
    let mut stale = Vec::new();
    let rendered = knoxctl::assets::render_all();
    for (rel, content) in &rendered {
        let path = repo().join(rel);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(content.as_slice()) {
            stale.push(rel.display().to_string());
        }
    }
    // Files for commands that no longer exist are stale too.
    for dir in ["completions", "man"] {
        for e in std::fs::read_dir(repo().join(dir)).unwrap() {
            let rel = PathBuf::from(dir).join(e.unwrap().file_name());
            if !rendered.iter().any(|(r, _)| *r == rel) {
                if update {
                    std::fs::remove_file(repo().join(&rel)).unwrap();
                } else {
                    stale.push(format!("{} (no such command)", rel.display()));
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files (run UPDATE_ASSETS=1 cargo test --test cli assets): {stale:#?}"
    );
}

#[test]
fn one_man_page_per_subcommand_with_exit_status() {
    for page in [
        "knoxctl.1",
        "knoxctl-policy-validate.1",
        "knoxctl-onboard-vm.1",
        "knoxctl-alerts-tail.1",
        "knoxctl-completion.1",
    ] {
        let text = std::fs::read_to_string(repo().join("man").join(page))
            .unwrap_or_else(|_| panic!("man/{page}"));
        assert!(text.contains(".SH \"EXIT STATUS\""), "{page}");
        assert!(text.contains("Usage error"), "{page}");
    }
}

#[test]
fn completions_offer_files_for_f_and_enum_values_for_flags() {
    let out = run(&["completion", "bash"]);
    assert_eq!(out.status.code(), Some(0));
    let bash = stdout(&out);
    assert_eq!(
        bash.as_bytes(),
        std::fs::read(repo().join("completions/knoxctl.bash"))
            .unwrap()
            .as_slice()
    );
    // -f completes file names (compgen -f), and --enforcer/-o complete their values.
    let apply = bash
        .split("knoxctl__subcmd__policy__subcmd__apply)")
        .nth(1)
        .expect("apply section");
    let apply = &apply[..apply.find(";;\n").unwrap()];
    assert!(
        apply.contains("--filename)") && apply.contains("compgen -f"),
        "{apply}"
    );
    assert!(bash.contains("auto bpf-lsm apparmor fanotify monitor-only"));
    assert!(bash.contains("\"text json\""));
    let zsh = std::fs::read_to_string(repo().join("completions/_knoxctl")).unwrap();
    assert!(zsh.contains("_files"), "zsh completes files");
    assert!(zsh.contains("(auto bpf-lsm apparmor fanotify monitor-only)"));
    for f in ["knoxctl.fish", "_knoxctl.ps1", "knoxctl.elv"] {
        assert!(repo().join("completions").join(f).is_file(), "{f}");
    }
}

#[test]
fn bash_completion_really_completes() {
    // Drive the committed script in bash, as a user's shell would.
    let have_bash = std::process::Command::new("bash")
        .arg("--version")
        .output()
        .is_ok();
    if !crate::common::prerequisite(have_bash, "bash not installed (Debian package bash)") {
        return;
    }
    let script = format!(
        "source {}\nCOMP_WORDS=(knoxctl policy validate -o ''); COMP_CWORD=4; _knoxctl knoxctl '' -o; echo \"${{COMPREPLY[*]}}\"\n\
         COMP_WORDS=(knoxctl pol); COMP_CWORD=1; _knoxctl knoxctl pol knoxctl; echo \"${{COMPREPLY[*]}}\"\n",
        repo().join("completions/knoxctl.bash").display()
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, vec!["text json", "policy"], "{text}{}", stderr(&out));
}
