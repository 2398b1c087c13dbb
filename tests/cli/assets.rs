//! Committed completions and man pages match the command tree. Regenerate them with
//! `UPDATE_ASSETS=1 cargo test --test cli assets`.

use super::*;

#[test]
fn committed_completions_and_man_pages_are_current() {
    let update = std::env::var_os("UPDATE_ASSETS").is_some();
    let mut stale = Vec::new();
    let rendered = knoxctl::cmd::assets::render_all();
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

/// The text of a man page section (`.SH NAME` up to the next `.SH`).
fn section<'a>(page: &'a str, name: &str) -> Option<&'a str> {
    let quoted = format!(".SH \"{name}\"\n");
    let plain = format!(".SH {name}\n");
    let start = page
        .find(&quoted)
        .map(|i| i + quoted.len())
        .or_else(|| page.find(&plain).map(|i| i + plain.len()))?;
    let rest = &page[start..];
    Some(&rest[..rest.find("\n.SH ").map_or(rest.len(), |i| i + 1)])
}

fn man_pages() -> Vec<(String, String)> {
    let mut pages: Vec<(String, String)> = std::fs::read_dir(repo().join("man"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    pages.sort();
    pages
}

#[test]
fn every_man_page_has_examples_and_real_cross_references() {
    let pages = man_pages();
    assert!(pages.len() >= 20, "{}", pages.len());
    let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    for (name, text) in &pages {
        let examples = section(text, "EXAMPLES").unwrap_or_else(|| panic!("{name}: no EXAMPLES"));
        assert!(
            examples.contains("\\fBknoxctl ")
                || examples.contains("\\fBsudo knoxctl ")
                || examples.contains("| knoxctl "),
            "{name}: {examples}"
        );
        assert!(section(text, "EXIT STATUS").is_some(), "{name}");
        let see_also = section(text, "SEE ALSO").unwrap_or_else(|| panic!("{name}: no SEE ALSO"));
        // Every reference is a page that exists (knoxctl-help(1) never did).
        let refs: Vec<String> = see_also
            .split(", ")
            .map(|r| {
                r.trim()
                    .replace("\\fB", "")
                    .replace("\\fR(1)", "")
                    .replace("\\-", "-")
            })
            .collect();
        assert!(!refs.is_empty(), "{name}");
        for r in &refs {
            assert!(
                names.contains(&format!("{r}.1").as_str()),
                "{name} refers to missing {r}(1)"
            );
        }
        if *name != "knoxctl.1" {
            assert!(refs.iter().any(|r| r == "knoxctl"), "{name}: no knoxctl(1)");
            // A command's own name may hold a hyphen (`oci-hook`): the parent is the
            // longest prefix that is a page.
            let mut parent = name.trim_end_matches(".1");
            loop {
                parent = parent.rsplit_once('-').unwrap().0;
                if names.contains(&format!("{parent}.1").as_str()) {
                    break;
                }
            }
            assert!(
                refs.iter().any(|r| r == parent),
                "{name}: no parent {parent}(1)"
            );
        }
        assert!(
            !text.contains("help(1)"),
            "{name} lists the help pseudo-command"
        );
        if let Some(subs) = section(text, "SUBCOMMANDS") {
            for line in subs.lines().filter(|l| l.ends_with("(1)")) {
                let page = line.replace("\\-", "-").replace("(1)", ".1");
                assert!(
                    names.contains(&page.as_str()),
                    "{name}: SUBCOMMANDS names {line}"
                );
            }
        }
        // DESCRIPTION, when there is one, says more than NAME.
        let about = section(text, "NAME")
            .unwrap()
            .lines()
            .last()
            .unwrap_or_default();
        let about = about.split_once(" \\- ").map_or("", |(_, a)| a);
        if let Some(desc) = section(text, "DESCRIPTION") {
            let desc: Vec<&str> = desc.lines().filter(|l| !l.starts_with('.')).collect();
            assert!(
                desc.len() > 1 || desc.first() != Some(&about),
                "{name}: DESCRIPTION repeats NAME"
            );
        }
    }
    // Siblings refer to each other.
    let apply = &pages
        .iter()
        .find(|(n, _)| n == "knoxctl-policy-apply.1")
        .unwrap()
        .1;
    let see_also = section(apply, "SEE ALSO").unwrap();
    for r in [
        "knoxctl\\-policy\\fR(1)",
        "knoxctl\\-policy\\-validate\\fR(1)",
        "knoxctl\\-policy\\-delete\\fR(1)",
    ] {
        assert!(see_also.contains(r), "{r}: {see_also}");
    }
}

/// A shell line's words: single quotes group, as a user's shell groups them.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut any) = (false, false);
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            _ => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(word);
    }
    words
}

#[test]
fn every_example_is_a_command_line_knoxctl_accepts() {
    use clap::Parser;
    let mut checked = 0;
    for (page, examples) in knoxctl::cmd::assets::EXAMPLES {
        // knoxctl-policy-apply: its examples run `knoxctl policy apply`.
        let command: Vec<&str> = page.split('-').skip(1).collect();
        for (_, line) in *examples {
            let mut ran_the_page = false;
            for pipeline_part in line.split(" | ") {
                let part = pipeline_part.split(" > ").next().unwrap();
                let mut words = shell_words(part);
                if words.first().is_some_and(|w| w == "sudo") {
                    words.remove(0);
                }
                if words.first().is_none_or(|w| w != "knoxctl") {
                    continue;
                }
                if let Err(e) = knoxctl::cmd::Cli::try_parse_from(&words) {
                    panic!("{page}: `{line}` does not parse:\n{e}");
                }
                checked += 1;
                // Compared hyphen-joined: a command's own name may hold one (`oci-hook`).
                let (ran, want) = (words[1..].join("-"), command.join("-"));
                ran_the_page |=
                    want.is_empty() || ran == want || ran.starts_with(&format!("{want}-"));
            }
            assert!(
                ran_the_page,
                "{page}: `{line}` does not run knoxctl {}",
                command.join(" ")
            );
        }
    }
    assert!(checked >= 40, "{checked}");
    let alerts = std::fs::read_to_string(repo().join("man/knoxctl-alerts.1")).unwrap();
    assert!(
        alerts.contains("\\fBsudo knoxctl alerts \\-\\-filter 'Action=Block' \\-\\-since 1h\\fR"),
        "{alerts}"
    );
    let apply = std::fs::read_to_string(repo().join("man/knoxctl-policy-apply.1")).unwrap();
    assert!(
        apply.contains("knoxctl policy apply \\-f examples/policies/"),
        "{apply}"
    );
}

#[test]
fn the_alerts_page_lists_every_filter_field_and_operator() {
    use knoxctl::alert::filter::{Field, Filter, Op};
    let page = std::fs::read_to_string(repo().join("man/knoxctl-alerts.1")).unwrap();
    let filters = section(&page, "FILTER EXPRESSIONS").expect("FILTER EXPRESSIONS section");
    for f in Field::ALL {
        assert!(
            filters.contains(f.name()),
            "{} missing:\n{filters}",
            f.name()
        );
    }
    for op in Op::ALL {
        let listed = format!(".TP\n\\fB{}\\fR\n", op.symbol().replace('-', "\\-"));
        assert!(
            filters.contains(&listed),
            "{} missing:\n{filters}",
            op.symbol()
        );
        // What the page lists, the parser takes.
        Filter::parse(&format!("PID{}1", op.symbol())).unwrap();
    }
    for values in [
        "Block, Audit, Allow",
        "Process, File, Network, Capabilities, Syscall",
    ] {
        assert!(filters.contains(values), "{values}");
    }
}

#[test]
fn environment_is_listed_where_it_matters() {
    let page = |name: &str| std::fs::read_to_string(repo().join("man").join(name)).unwrap();
    let env = |name: &str| section(&page(name), "ENVIRONMENT").map(str::to_string);
    let top = env("knoxctl.1").expect("the top page lists the environment");
    for v in [
        "KNOXCTL_SOCKET",
        "KNOXCTL_STATE_DIR",
        "KNOXCTL_ROOT",
        "NO_COLOR",
    ] {
        assert!(top.contains(v), "{v}");
    }
    for name in [
        "knoxctl-version.1",
        "knoxctl-completion.1",
        "knoxctl-policy-validate.1",
    ] {
        assert_eq!(env(name), None, "{name} reads no environment");
    }
    let list = env("knoxctl-policy-list.1").unwrap();
    assert!(
        list.contains("KNOXCTL_SOCKET") && !list.contains("KNOXCTL_ROOT"),
        "{list}"
    );
    let alerts = env("knoxctl-alerts.1").unwrap();
    assert!(
        alerts.contains("KNOXCTL_STATE_DIR") && !alerts.contains("KNOXCTL_SOCKET"),
        "{alerts}"
    );
    assert!(
        env("knoxctl-onboard-vm.1")
            .unwrap()
            .contains("KNOXCTL_ROOT")
    );
}

/// Runs the committed bash script: `lines` is bash that sets COMP_WORDS and COMP_CWORD,
/// then each completion's COMPREPLY is printed, one line per call.
fn bash_complete(path_dir: Option<&Path>, calls: &[&str]) -> Option<Vec<String>> {
    let have_bash = Command::new("bash").arg("--version").output().is_ok();
    if !crate::common::prerequisite(have_bash, "bash not installed (Debian package bash)") {
        return None;
    }
    let mut script = format!(
        "source {}\n",
        repo().join("completions/knoxctl.bash").display()
    );
    for call in calls {
        script.push_str(&format!(
            "{call}; _knoxctl_dynamic knoxctl \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; echo \"${{COMPREPLY[*]}}\"\n"
        ));
    }
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(script);
    if let Some(dir) = path_dir {
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{path}", dir.display()));
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    Some(stdout(&out).lines().map(str::to_string).collect())
}

#[test]
fn bash_completes_applied_policy_names_and_filter_fields() {
    let s = Scratch::new("complete-names");
    let fake = fake_agent_cli(&s);
    let Some(lines) = bash_complete(
        Some(fake.parent().unwrap()),
        &[
            "COMP_WORDS=(knoxctl policy get ''); COMP_CWORD=3",
            "COMP_WORDS=(knoxctl policy delete kubearmorpolicy/); COMP_CWORD=3",
            "COMP_WORDS=(knoxctl --socket /tmp/a.sock policy delete hsp/x ''); COMP_CWORD=6",
            "COMP_WORDS=(knoxctl policy get -o ''); COMP_CWORD=4",
            "COMP_WORDS=(knoxctl alerts --filter Po); COMP_CWORD=3",
            "COMP_WORDS=(knoxctl alerts tail --filter A); COMP_CWORD=4",
            "COMP_WORDS=(knoxctl alerts --since 1h --filter ''); COMP_CWORD=5",
            "COMP_WORDS=(knoxctl pol); COMP_CWORD=1",
        ],
    ) else {
        return;
    };
    assert_eq!(
        lines[0],
        "kubearmorhostpolicy/block-pkg kubearmorpolicy/shop/web-allowlist"
    );
    assert_eq!(lines[1], "kubearmorpolicy/shop/web-allowlist");
    assert_eq!(
        lines[2], "kubearmorhostpolicy/block-pkg kubearmorpolicy/shop/web-allowlist",
        "--socket is passed on"
    );
    assert_eq!(lines[3], "yaml json name", "-o values, not names");
    assert_eq!(lines[4], "PodName= PolicyName=");
    assert_eq!(lines[5], "ATags= Action=");
    let fields: Vec<&str> = lines[6].split(' ').collect();
    assert_eq!(
        fields.len(),
        knoxctl::alert::filter::Field::ALL.len(),
        "{fields:?}"
    );
    assert!(fields.iter().all(|f| f.ends_with('=')), "{fields:?}");
    assert_eq!(lines[7], "policy", "the rest is clap's");
    let calls = std::fs::read_to_string(s.0.join("calls")).unwrap();
    assert_eq!(
        calls,
        "policy list -o name\npolicy list -o name\n--socket /tmp/a.sock policy list -o name\n"
    );
}

#[test]
fn bash_completion_of_names_is_silent_without_an_agent() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new("complete-noagent");
    let fake = s.write(
        "bin/knoxctl",
        "#!/bin/sh\necho 'knoxctl: error: cannot reach the agent' >&2\nexit 1\n",
    );
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let have_bash = Command::new("bash").arg("--version").output().is_ok();
    if !crate::common::prerequisite(have_bash, "bash not installed (Debian package bash)") {
        return;
    }
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}\nCOMP_WORDS=(knoxctl policy get ''); COMP_CWORD=3; _knoxctl_dynamic knoxctl '' get; echo \"[${{COMPREPLY[*]}}]\"",
            repo().join("completions/knoxctl.bash").display()
        ))
        .env("PATH", format!("{}:/usr/bin:/bin", fake.parent().unwrap().display()))
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "[]\n");
    assert_eq!(stderr(&out), "", "completion printed on the terminal");
}

/// A knoxctl that knows two applied policies (for `policy list -o name`, with or without
/// `--socket /tmp/a.sock`) and appends each command line it was given to `calls`.
fn fake_agent_cli(s: &Scratch) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let fake = s.write(
        "bin/knoxctl",
        format!(
            "#!/bin/sh\necho \"$*\" >> {}\ncase \"$*\" in\n  'policy list -o name'|'--socket /tmp/a.sock policy list -o name'|'--socket=/tmp/a.sock policy list -o name')\n    echo kubearmorhostpolicy/block-pkg\n    echo kubearmorpolicy/shop/web-allowlist\n    exit 0 ;;\nesac\necho 'knoxctl: error: cannot reach the agent' >&2\nexit 1\n",
            s.0.join("calls").display()
        ),
    );
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    fake
}

fn with_fake_on_path(cmd: &mut Command, fake: &Path) {
    let path = std::env::var("PATH").unwrap_or_default();
    cmd.env(
        "PATH",
        format!("{}:{path}", fake.parent().unwrap().display()),
    );
}

/// fish's own completion engine (`complete -C`) on the committed script.
#[test]
fn fish_completes_applied_policy_names_and_filter_fields() {
    let have = Command::new("fish").arg("--version").output().is_ok();
    if !crate::common::prerequisite(have, "fish not installed (Debian package fish)") {
        return;
    }
    let s = Scratch::new("complete-fish");
    let fake = fake_agent_cli(&s);
    let script = repo().join("completions/knoxctl.fish");
    let complete = |line: &str| -> Vec<String> {
        let mut cmd = Command::new("fish");
        cmd.arg("--no-config")
            .arg("-c")
            .arg(format!("source {}; complete -C '{line}'", script.display()));
        with_fake_on_path(&mut cmd, &fake);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stderr(&out), "", "completion printed on the terminal");
        stdout(&out)
            .lines()
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        complete("knoxctl policy get "),
        [
            "kubearmorhostpolicy/block-pkg",
            "kubearmorpolicy/shop/web-allowlist"
        ]
    );
    assert_eq!(
        complete("knoxctl --socket /tmp/a.sock policy delete kubearmorp"),
        ["kubearmorpolicy/shop/web-allowlist"],
        "--socket is passed on"
    );
    assert_eq!(
        complete("knoxctl alerts --filter Po"),
        ["PodName=", "PolicyName="]
    );
    assert_eq!(
        complete("knoxctl alerts tail --filter ").len(),
        knoxctl::alert::filter::Field::ALL.len()
    );
    let calls = std::fs::read_to_string(s.0.join("calls")).unwrap();
    assert_eq!(
        calls,
        "policy list -o name\n--socket /tmp/a.sock policy list -o name\n"
    );
    // No agent: no names and nothing on the terminal.
    assert!(complete("knoxctl --socket /nowhere policy get ").is_empty());
}

/// zsh: the `_arguments` specs of `get`, `delete` and `--filter` name the hand-written
/// functions, and those functions offer what the agent and the filter language know.
/// (compadd is replaced by a function that prints what it was given.)
#[test]
fn zsh_completes_applied_policy_names_and_filter_fields() {
    let have = Command::new("zsh").arg("--version").output().is_ok();
    if !crate::common::prerequisite(have, "zsh not installed (Debian package zsh)") {
        return;
    }
    let script = repo().join("completions/_knoxctl");
    let text = std::fs::read_to_string(&script).unwrap();
    let spec = |prefix: &str| {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let names = [spec("':name -- The policy"), spec("'*::names -- Policies")].concat();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names
            .iter()
            .all(|l| l.ends_with(":_knoxctl_policy_names' \\")),
        "{names:?}"
    );
    // alerts, alerts tail, alerts summary, logs and logs tail.
    let filters = spec("'*--filter=[");
    assert_eq!(filters.len(), 5, "{filters:?}");
    assert!(
        filters
            .iter()
            .all(|l| l.ends_with(":EXPR:_knoxctl_filter_fields' \\"))
    );

    let s = Scratch::new("complete-zsh");
    let fake = fake_agent_cli(&s);
    let mut cmd = Command::new("zsh");
    cmd.arg("-f").arg("-c").arg(format!(
        "compdef() {{ : }}\nsource {}\n\
         compadd() {{ while [[ $1 != -- ]]; do shift; done; shift; print -r -- \"[$*]\"; }}\n\
         service=knoxctl\n\
         BUFFER='knoxctl policy get '; _knoxctl_policy_names\n\
         BUFFER='knoxctl --socket /tmp/a.sock policy delete x '; _knoxctl_policy_names\n\
         BUFFER='knoxctl --socket /nowhere policy get '; _knoxctl_policy_names\n\
         _knoxctl_filter_fields",
        script.display()
    ));
    with_fake_on_path(&mut cmd, &fake);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "completion printed on the terminal");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let both = "[kubearmorhostpolicy/block-pkg kubearmorpolicy/shop/web-allowlist]";
    assert_eq!(lines[..3], [both, both, "[]"]);
    let fields: Vec<&str> = lines[3].trim_matches(['[', ']']).split(' ').collect();
    assert_eq!(fields.len(), knoxctl::alert::filter::Field::ALL.len());
    assert!(fields.iter().all(|f| f.ends_with('=')), "{fields:?}");
    let calls = std::fs::read_to_string(s.0.join("calls")).unwrap();
    assert_eq!(
        calls,
        "policy list -o name\n--socket /tmp/a.sock policy list -o name\n--socket /nowhere policy list -o name\n"
    );
}
