//! Files generated from the clap command tree: shell completions (completions/) and man pages
//! (man/, one per subcommand). They are committed, and onboarding installs them rendered from
//! the running binary. A test renders them again and fails when the committed copies are
//! stale; `UPDATE_ASSETS=1 cargo test --test cli assets` rewrites them.
//!
//! clap renders the synopsis, options and subcommands; this module adds what it cannot know:
//! examples, cross-references, the alert filter language, the environment a command reads,
//! and the bash, zsh and fish completion of things only a running agent knows (applied
//! policy names).

use crate::alert::filter::{Field, Op};
use crate::cmd::Cli;
use clap::{Command, CommandFactory};
use clap_complete::Shell;
use std::path::PathBuf;

pub const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::PowerShell,
    Shell::Elvish,
];

pub fn completion(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "knoxctl", &mut out);
    match shell {
        Shell::Bash => out.extend_from_slice(with_fields(BASH_DYNAMIC, " ").as_bytes()),
        Shell::Zsh => {
            out = zsh_dynamic(&String::from_utf8(out).expect("clap writes UTF-8")).into_bytes()
        }
        Shell::Fish => out.extend_from_slice(with_fields(FISH_DYNAMIC, " ").as_bytes()),
        _ => {}
    }
    out
}

/// `@FIELDS@` in a hand-written script becomes the alert fields, each as `Field=`.
fn with_fields(script: &str, sep: &str) -> String {
    let fields: Vec<String> = Field::ALL
        .iter()
        .map(|f| format!("{}=", f.name()))
        .collect();
    script.replace("@FIELDS@", &fields.join(sep))
}

// Completion that needs the agent or the filter language, added to clap's scripts:
// clap_complete's dynamic completion is unstable, and a static script cannot know the
// applied policies. Each shell asks the agent with `knoxctl policy list -o name` (passing
// on --socket, silent when no agent answers) and offers the alert fields after --filter.

/// Bash: `_knoxctl_dynamic` answers the cases it knows and hands the rest to clap's
/// `_knoxctl`, and is registered in its place.
const BASH_DYNAMIC: &str = r#"
# Hand-written (src/cmd/assets.rs): applied policy names for `policy get` and `policy delete`,
# asked of the agent with `knoxctl policy list -o name` (silent when it is not reachable),
# and alert fields for `alerts --filter`.
_knoxctl_dynamic() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="" i w socket="" skip=""
    local -a words=()
    if (( COMP_CWORD > 0 )); then
        prev="${COMP_WORDS[COMP_CWORD-1]}"
    fi
    # The command words before the cursor, without options and their values.
    for (( i = 1; i < COMP_CWORD; i++ )); do
        w="${COMP_WORDS[i]}"
        if [[ -n "$skip" ]]; then
            [[ "$skip" == --socket ]] && socket="$w"
            skip=""
            continue
        fi
        case "$w" in
            --socket|--filter|--since|--limit|-o|--output|--from|--state-dir|-f|--file|--config|--enforcer|--label|--mode|--cluster-name|--alerts|--framework|--out-dir|--default-posture)
                skip="$w" ;;
            --socket=*) socket="${w#--socket=}" ;;
            -*) ;;
            *) words+=("$w") ;;
        esac
    done
    if [[ "${words[0]}" == alerts && "$prev" == --filter ]]; then
        COMPREPLY=( $(compgen -W "@FIELDS@" -- "$cur") )
        if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
            compopt -o nospace
        fi
        return 0
    fi
    if [[ "${words[0]}" == policy && ( "${words[1]}" == get || "${words[1]}" == delete ) \
          && "$cur" != -* && -z "$skip" ]]; then
        local names
        names="$("${COMP_WORDS[0]}" ${socket:+--socket "$socket"} policy list -o name 2>/dev/null)"
        COMPREPLY=( $(compgen -W "$names" -- "$cur") )
        return 0
    fi
    _knoxctl "$@"
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _knoxctl_dynamic -o nosort -o bashdefault -o default knoxctl
else
    complete -F _knoxctl_dynamic -o bashdefault -o default knoxctl
fi
"#;

/// Zsh: clap's `_arguments` specs for the policy names of `get`/`delete` and for
/// `--filter` name `_default` (files); they are pointed at two functions defined before
/// the script's entry point. Panics when clap's output no longer has those specs, so that
/// the asset test notices instead of shipping a script that completes file names.
fn zsh_dynamic(script: &str) -> String {
    let mut names = 0;
    let mut filters = 0;
    let mut out = String::with_capacity(script.len() + ZSH_DYNAMIC.len());
    for line in script.split_inclusive('\n') {
        if (line.starts_with("':name -- The policy") || line.starts_with("'*::names -- Policies"))
            && line.contains(":_default' ")
        {
            names += 1;
            out.push_str(&line.replacen(":_default' ", ":_knoxctl_policy_names' ", 1));
        } else if line.starts_with("'*--filter=[") && line.contains(":EXPR:_default' ") {
            filters += 1;
            out.push_str(&line.replacen(":EXPR:_default' ", ":EXPR:_knoxctl_filter_fields' ", 1));
        } else {
            if line.starts_with("if [ \"$funcstack[1]\" = \"_knoxctl\" ]") {
                out.push_str(&with_fields(ZSH_DYNAMIC, " "));
            }
            out.push_str(line);
        }
    }
    assert!(
        names >= 2 && filters >= 2 && out.contains("_knoxctl_filter_fields() {"),
        "clap's zsh script changed shape: {names} name specs, {filters} filter specs"
    );
    out
}

const ZSH_DYNAMIC: &str = r#"# Hand-written (src/cmd/assets.rs): applied policy names for `policy get` and `policy delete`,
# asked of the agent with `knoxctl policy list -o name` (silent when it is not reachable),
# and alert fields for `alerts --filter`.
(( $+functions[_knoxctl_policy_names] )) ||
_knoxctl_policy_names() {
    local -a line socket names
    local i
    # The whole command line: _arguments has narrowed $words to the subcommand's.
    line=(${(z)BUFFER})
    for (( i = 2; i <= $#line; i++ )); do
        case $line[i] in
            --socket) socket=(--socket "${(Q)line[i+1]}") ;;
            --socket=*) socket=("${(Q)line[i]}") ;;
        esac
    done
    names=(${(f)"$(${service:-knoxctl} $socket policy list -o name 2>/dev/null)"})
    compadd -- $names
}

(( $+functions[_knoxctl_filter_fields] )) ||
_knoxctl_filter_fields() {
    compadd -S '' -- @FIELDS@
}

"#;

/// Fish: completions added to clap's, for the same two cases.
const FISH_DYNAMIC: &str = r#"
# Hand-written (src/cmd/assets.rs): applied policy names for `policy get` and `policy delete`,
# asked of the agent with `knoxctl policy list -o name` (silent when it is not reachable),
# and alert fields for `alerts --filter`.
function __fish_knoxctl_policy_names
    set -l words (commandline -opc)
    set -l socket
    for i in (seq 2 (count $words))
        switch $words[$i]
            case --socket
                set -l next (math $i + 1)
                set socket --socket $words[$next]
            case '--socket=*'
                set socket $words[$i]
        end
    end
    $words[1] $socket policy list -o name 2>/dev/null
end
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from get delete" -f -a "(__fish_knoxctl_policy_names)" -d 'Applied policy'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts" -l filter -x -a "@FIELDS@" -d 'Alert field'
"#;

/// The file name a shell's script is committed (and installed) under.
pub fn completion_file(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "knoxctl.bash",
        Shell::Zsh => "_knoxctl",
        Shell::Fish => "knoxctl.fish",
        Shell::PowerShell => "_knoxctl.ps1",
        Shell::Elvish => "knoxctl.elv",
        _ => "knoxctl.unknown",
    }
}

const EXIT_STATUS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Success: every policy valid, the operation done.
.TP
\fB1\fR
A check or an operation failed: an invalid policy, an agent or kernel error, no enforcer usable here (probe), something offboarding could not remove, a command not available in this build.
.TP
\fB2\fR
Usage error: unknown flags, missing or malformed arguments, or a command that changes the host (onboard, offboard) run without a terminal to confirm on and without \-\-yes. \fBpolicy diff\fR also exits 2 when it could not compare (1 means differences).
.PP
A command whose output pipe closes early (\fBknoxctl alerts | head\fR) stops quietly on SIGPIPE, as other Unix tools do; the shell then reports 141.
"#;

/// An environment variable, and the pages (by name) of the commands that read it.
struct EnvVar {
    name: &'static str,
    text: &'static str,
    pages: &'static [&'static str],
}

/// Only where a variable changes what the command does: a page that lists variables its
/// command ignores misleads (sysdump once did, review finding #11).
const ENVIRONMENT: &[EnvVar] = &[
    EnvVar {
        name: "KNOXCTL_SOCKET",
        text: "Path of the agent's API socket (default /run/knoxctl/agent.sock); the same as \\-\\-socket. Empty counts as unset.",
        pages: &[
            "knoxctl",
            "knoxctl-agent",
            "knoxctl-probe",
            "knoxctl-containers",
            "knoxctl-oci-hook",
            "knoxctl-sysdump",
            "knoxctl-policy",
            "knoxctl-policy-apply",
            "knoxctl-policy-diff",
            "knoxctl-policy-list",
            "knoxctl-policy-get",
            "knoxctl-policy-delete",
        ],
    },
    EnvVar {
        name: "KNOXCTL_STATE_DIR",
        text: "The agent's state directory, where applied policies and the alert store live (default /var/lib/knoxctl); the same as \\-\\-state\\-dir. Empty counts as unset.",
        pages: &[
            "knoxctl",
            "knoxctl-agent",
            "knoxctl-alerts",
            "knoxctl-alerts-tail",
            "knoxctl-alerts-summary",
            "knoxctl-logs",
            "knoxctl-logs-tail",
            "knoxctl-sysdump",
        ],
    },
    EnvVar {
        name: "KNOXCTL_ROOT",
        text: "For tests and staging: onboard, offboard and sysdump work below this directory instead of /etc, /var, /run, /usr and /sys (never managed by systemd).",
        pages: &[
            "knoxctl",
            "knoxctl-onboard",
            "knoxctl-onboard-vm",
            "knoxctl-offboard",
            "knoxctl-offboard-vm",
            "knoxctl-sysdump",
        ],
    },
    EnvVar {
        name: "NO_COLOR",
        text: "When set and not empty, output is never coloured.",
        pages: &["knoxctl"],
    },
];

/// Examples per page: what it does, and the command line (a user's shell line, so `sudo`
/// where root is needed). A test parses every line with knoxctl's own parser.
pub const EXAMPLES: &[(&str, &[(&str, &str)])] = &[
    (
        "knoxctl",
        &[
            (
                "Install and start the agent on this host (shows the plan and asks first):",
                "sudo knoxctl onboard vm",
            ),
            (
                "Check policy files before applying them:",
                "knoxctl policy validate examples/policies/",
            ),
            (
                "Apply every policy in a directory:",
                "sudo knoxctl policy apply -f examples/policies/",
            ),
            (
                "Show what was blocked in the last hour:",
                "sudo knoxctl alerts --filter 'Action=Block' --since 1h",
            ),
            (
                "Show which enforcers work on this kernel:",
                "sudo knoxctl probe",
            ),
        ],
    ),
    (
        "knoxctl-agent",
        &[
            (
                "Run the agent in the foreground with the onboarded configuration:",
                "sudo knoxctl agent --config /etc/knoxctl/config.yaml",
            ),
            (
                "Run a private agent with its own state directory and socket:",
                "sudo knoxctl agent --state-dir ./state --socket ./agent.sock --enforcer fanotify",
            ),
        ],
    ),
    (
        "knoxctl-alerts",
        &[
            (
                "What was blocked in the last hour:",
                "sudo knoxctl alerts --filter 'Action=Block' --since 1h",
            ),
            (
                "One policy's alerts as JSON Lines (KubeArmor fields):",
                "sudo knoxctl alerts --filter 'PolicyName=block-pkg-mgmt-tools' -o json",
            ),
            (
                "Several conditions in one filter (all must hold), at most 20 alerts:",
                "sudo knoxctl alerts --filter 'Operation=Process,Resource!~^/usr/bin/' --limit 20",
            ),
            (
                "Filter a file of alerts saved by karmor logs --json:",
                "knoxctl alerts --from karmor-logs.jsonl --filter 'Resource~^/etc/' --filter 'Severity>=5'",
            ),
        ],
    ),
    (
        "knoxctl-alerts-tail",
        &[
            ("Follow new alerts:", "sudo knoxctl alerts tail"),
            (
                "Follow blocked operations only, as JSON Lines:",
                "sudo knoxctl alerts tail --filter 'Action=Block' -o json",
            ),
        ],
    ),
    (
        "knoxctl-alerts-summary",
        &[
            (
                "What the last day's alerts were, by policy with an hourly sparkline:",
                "sudo knoxctl alerts summary",
            ),
            (
                "The last week's blocked operations, as JSON:",
                "sudo knoxctl alerts summary --since 7d --filter 'Action=Block' -o json",
            ),
        ],
    ),
    (
        "knoxctl-logs",
        &[
            (
                "Which programs ran on this host in the last ten minutes (KubeArmor HostLog):",
                "sudo knoxctl logs --filter Operation=Process --since 10m",
            ),
            (
                "Who opened files under /etc, as JSON Lines:",
                "sudo knoxctl logs --filter Operation=File --filter 'Resource~^/etc/' -o json",
            ),
            (
                "Filter logs exported from KubeArmor (karmor logs --json --logFilter system):",
                "knoxctl logs --from karmor-logs.jsonl --filter Operation=Network --since 2025-12-06",
            ),
        ],
    ),
    (
        "knoxctl-logs-tail",
        &[
            ("Follow new logs:", "sudo knoxctl logs tail"),
            (
                "Follow network connections only, as JSON Lines:",
                "sudo knoxctl logs tail --filter Operation=Network -o json",
            ),
        ],
    ),
    (
        "knoxctl-completion",
        &[
            (
                "Install bash completion for the current user:",
                "knoxctl completion bash > ~/.local/share/bash-completion/completions/knoxctl",
            ),
            (
                "Install fish completion for the current user:",
                "knoxctl completion fish > ~/.config/fish/completions/knoxctl.fish",
            ),
        ],
    ),
    (
        "knoxctl-harden",
        &[
            (
                "Recommend audit policies for this host and write them with a coverage report:",
                "knoxctl harden recommend --out-dir ./hardening --report hardening.html",
            ),
            (
                "List the templates that cover PCI DSS 11.5.2 and apply here:",
                "knoxctl harden list --framework pci-dss --control 11.5.2 --applicable",
            ),
        ],
    ),
    (
        "knoxctl-harden-list",
        &[
            (
                "Templates mapped to NIST 800-53 CM-7 and its enhancements, as Markdown:",
                "knoxctl harden list --framework nist --control CM-7 -o markdown",
            ),
            (
                "Container templates of one category:",
                "knoxctl harden list --category container-escape --scope container",
            ),
        ],
    ),
    (
        "knoxctl-harden-show",
        &[
            (
                "A template with its compliance mappings and verify recipe:",
                "knoxctl harden show pkg-mngr-exec -o markdown",
            ),
            (
                "The policy the template produces for this host:",
                "knoxctl harden show pkg-mngr-exec --for host",
            ),
        ],
    ),
    (
        "knoxctl-harden-recommend",
        &[
            (
                "Block package managers on this host where it is safe, after looking at the diff:",
                "sudo knoxctl harden recommend --category package-managers --action block --diff",
            ),
            (
                "Apply them without being asked:",
                "sudo knoxctl harden recommend --category package-managers --action block --apply --yes",
            ),
            (
                "One merged policy per container, with a Markdown report:",
                "sudo knoxctl harden recommend --all-containers --merge --out-dir ./out --report report.md",
            ),
            (
                "Evaluate an unpacked image as the root of container web:",
                "knoxctl harden recommend --rootfs ./rootfs --container web -o yaml",
            ),
        ],
    ),
    (
        "knoxctl-harden-discover",
        &[
            (
                "Learn the host's allow-list from the last day of telemetry:",
                "sudo knoxctl harden discover --since 1d > host-allow.yaml",
            ),
            (
                "Record ten minutes of the host's behaviour now, then learn from it:",
                "sudo knoxctl harden discover --learn 10m --posture block --out-dir host-allow/",
            ),
            (
                "Learn container web's executables and files from a KubeArmor export, with the report:",
                "knoxctl harden discover --container web --from logs.json --scope process,file --out-dir discovered/",
            ),
        ],
    ),
    (
        "knoxctl-harden-verify",
        &[
            (
                "Check that one template raises its alert here:",
                "sudo knoxctl harden verify pkg-mngr-exec",
            ),
            (
                "Run every host template's recipe:",
                "sudo knoxctl harden verify --all",
            ),
            (
                "Run every container template's recipe inside the container web:",
                "sudo knoxctl harden verify --all --container web",
            ),
        ],
    ),
    (
        "knoxctl-offboard",
        &[(
            "Remove knoxctl from this host, keeping policies, alerts and the log:",
            "sudo knoxctl offboard vm",
        )],
    ),
    (
        "knoxctl-offboard-vm",
        &[
            (
                "Remove knoxctl from this host (shows what it removes and asks first):",
                "sudo knoxctl offboard vm",
            ),
            (
                "Remove everything, policies and alerts too, without asking:",
                "sudo knoxctl offboard vm --purge --yes",
            ),
        ],
    ),
    (
        "knoxctl-onboard",
        &[(
            "Install and start the agent on this host:",
            "sudo knoxctl onboard vm",
        )],
    ),
    (
        "knoxctl-onboard-vm",
        &[
            (
                "Show the plan and change nothing:",
                "sudo knoxctl onboard vm --dry-run",
            ),
            (
                "Onboard without asking, with a cluster name and a label for nodeSelector:",
                "sudo knoxctl onboard vm --yes --cluster-name lab --label env=prod",
            ),
            (
                "Choose the enforcer and the mode yourself:",
                "sudo knoxctl onboard vm --enforcer fanotify --mode standalone",
            ),
        ],
    ),
    (
        "knoxctl-policy",
        &[
            (
                "Validate, apply and list policies:",
                "knoxctl policy validate examples/policies/",
            ),
            ("", "sudo knoxctl policy apply -f examples/policies/"),
            ("", "sudo knoxctl policy list"),
        ],
    ),
    (
        "knoxctl-policy-apply",
        &[
            (
                "Apply every policy in a directory (all documents or none):",
                "sudo knoxctl policy apply -f examples/policies/",
            ),
            (
                "Say what would be created, configured or left unchanged:",
                "sudo knoxctl policy apply --dry-run -f examples/policies/accuknox-block-pkg-mgmt-tools.yaml",
            ),
            (
                "Apply again what an agent printed, from standard input:",
                "sudo knoxctl policy get hsp/block-pkg-mgmt-tools -o yaml | sudo knoxctl policy apply -f -",
            ),
        ],
    ),
    (
        "knoxctl-policy-delete",
        &[
            (
                "Delete one host policy:",
                "sudo knoxctl policy delete hsp/block-pkg-mgmt-tools",
            ),
            (
                "Delete the policies a directory defines, those not applied included:",
                "sudo knoxctl policy delete -f examples/policies/ --ignore-not-found",
            ),
            (
                "Say what deleting everything would delete:",
                "sudo knoxctl policy delete --all --dry-run",
            ),
        ],
    ),
    (
        "knoxctl-policy-diff",
        &[(
            "What applying a file would change (exit status 1 when anything would):",
            "sudo knoxctl policy diff -f examples/policies/accuknox-block-pkg-mgmt-tools.yaml",
        )],
    ),
    (
        "knoxctl-policy-explain",
        &[
            (
                "What a policy's rules will do, per target:",
                "knoxctl policy explain -f examples/policies/host-process-block-path.yaml",
            ),
            (
                "The same for a directory, as JSON:",
                "knoxctl policy explain -f examples/policies/ -o json",
            ),
        ],
    ),
    (
        "knoxctl-policy-test",
        &[
            (
                "What a draft would have blocked or audited in the last day (exit status 1 if anything would have been blocked):",
                "sudo knoxctl policy test -f draft.yaml --since 1d",
            ),
            (
                "The same over an exported KubeArmor log, as JSON:",
                "knoxctl policy test -f draft.yaml --from logs.json -o json",
            ),
        ],
    ),
    (
        "knoxctl-policy-get",
        &[
            (
                "Print an applied host policy as YAML:",
                "sudo knoxctl policy get hsp/block-pkg-mgmt-tools",
            ),
            (
                "The same as JSON, with the full kind name:",
                "sudo knoxctl policy get kubearmorhostpolicy/block-pkg-mgmt-tools -o json",
            ),
        ],
    ),
    (
        "knoxctl-policy-list",
        &[
            ("List applied policies:", "sudo knoxctl policy list"),
            ("The same as JSON:", "sudo knoxctl policy list -o json"),
        ],
    ),
    (
        "knoxctl-policy-validate",
        &[
            (
                "Validate a directory, recursively:",
                "knoxctl policy validate examples/policies/",
            ),
            (
                "Fail on warnings too, and report as JSON (for CI):",
                "knoxctl policy validate --strict -o json examples/policies/accuknox-block-pkg-mgmt-tools.yaml",
            ),
            (
                "Validate standard input:",
                "cat policy.yaml | knoxctl policy validate -",
            ),
        ],
    ),
    (
        "knoxctl-containers",
        &[
            (
                "The containers the agent knows and the policies that select each:",
                "sudo knoxctl containers",
            ),
            (
                "Full ids, cgroup and namespaces, as JSON:",
                "sudo knoxctl containers -o json",
            ),
        ],
    ),
    (
        "knoxctl-oci-hook",
        &[(
            "What podman runs at createRuntime and poststop (hooks.d/knoxctl.json), the OCI state on stdin:",
            "knoxctl oci-hook --socket /run/knoxctl/agent.sock",
        )],
    ),
    (
        "knoxctl-probe",
        &[
            (
                "Which enforcers work here and what each can enforce:",
                "sudo knoxctl probe",
            ),
            (
                "The same report as one JSON document:",
                "sudo knoxctl probe -o json",
            ),
        ],
    ),
    (
        "knoxctl-sysdump",
        &[
            (
                "Write a bug-report archive into the current directory:",
                "sudo knoxctl sysdump",
            ),
            (
                "Name the archive and include fewer alerts:",
                "sudo knoxctl sysdump -o /tmp/knoxctl-sysdump.tar.gz --alerts 100",
            ),
        ],
    ),
    (
        "knoxctl-version",
        &[
            ("Version, commit, build date and target:", "knoxctl version"),
            ("The same as JSON:", "knoxctl version -o json"),
        ],
    ),
];

/// Pages related to a page beyond its parent, children and siblings.
const RELATED: &[(&str, &[&str])] = &[
    (
        "knoxctl-onboard-vm",
        &["knoxctl-offboard-vm", "knoxctl-probe"],
    ),
    ("knoxctl-offboard-vm", &["knoxctl-onboard-vm"]),
    ("knoxctl-alerts", &["knoxctl-policy-apply", "knoxctl-logs"]),
    ("knoxctl-logs", &["knoxctl-alerts"]),
    ("knoxctl-policy-apply", &["knoxctl-alerts"]),
];

/// Escapes text for a roff line: backslashes, hyphens (so that they are not hyphenation
/// points and copy as ASCII), and a leading control character.
fn roff(text: &str) -> String {
    let s = text.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with(['.', '\'']) {
        format!("\\&{s}")
    } else {
        s
    }
}

fn examples_section(page: &str) -> String {
    let mut out = String::from(".SH EXAMPLES\n");
    let examples = EXAMPLES
        .iter()
        .find(|(p, _)| *p == page)
        .map(|(_, e)| *e)
        .unwrap_or_else(|| panic!("no EXAMPLES for {page} in src/cmd/assets.rs"));
    for (what, line) in examples {
        if !what.is_empty() {
            out.push_str(&format!(".PP\n{}\n", roff(what)));
        }
        out.push_str(&format!(".RS 4\n.nf\n\\fB{}\\fR\n.fi\n.RE\n", roff(line)));
    }
    out
}

/// The alerts page: every field and operator `--filter` accepts, from the parser's own lists.
fn filter_section() -> String {
    let mut out = String::from(".SH \"FILTER EXPRESSIONS\"\n");
    out.push_str(
        "Each \\-\\-filter is FIELD OPERATOR VALUE, for example Action=Block or \
         Resource~^/etc/. Several expressions may be joined with commas in one \\-\\-filter \
         (PolicyName=a,Action=Block), and \\-\\-filter may be repeated: all must hold. Field \
         names are case\\-insensitive.\n.PP\nOperators:\n",
    );
    for op in Op::ALL {
        let meaning = match op {
            Op::Eq => {
                "equal (also written ==): exact text, or the number for numeric fields; for ATags, any tag is equal"
            }
            Op::Ne => "not equal; for ATags, no tag is equal",
            Op::Regex => {
                "matches the regular expression, unanchored (Rust regex syntax; (?i) for case\\-insensitive)"
            }
            Op::NotRegex => "does not match the regular expression",
            Op::Ge => "greater than or equal (numeric fields only)",
            Op::Le => "less than or equal (numeric fields only)",
            Op::Gt => "greater than (numeric fields only)",
            Op::Lt => "less than (numeric fields only)",
        };
        out.push_str(&format!(".TP\n\\fB{}\\fR\n{meaning}\n", roff(op.symbol())));
    }
    // Fields by kind, so that the list says which operators each takes.
    let names = |keep: &dyn Fn(Field) -> bool| -> String {
        Field::ALL
            .into_iter()
            .filter(|&f| keep(f))
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    out.push_str(&format!(
        ".PP\nFields, named as in KubeArmor's alert JSON:\n.TP\nText (= != ~ !~)\n{}\n\
         .TP\nNumeric (every operator; Timestamp in seconds since the epoch)\n{}\n",
        names(&|f| !f.is_numeric() && f.values().is_none()),
        names(&|f| f.is_numeric()),
    ));
    for field in Field::ALL {
        if let Some(values) = field.values() {
            out.push_str(&format!(
                ".TP\n{} (one of these, in any case)\n{}\n",
                field.name(),
                values.join(", ")
            ));
        }
    }
    out
}

fn environment_section(page: &str) -> Option<String> {
    let vars: Vec<&EnvVar> = ENVIRONMENT
        .iter()
        .filter(|v| v.pages.contains(&page))
        .collect();
    if vars.is_empty() {
        return None;
    }
    let mut out = String::from(".SH ENVIRONMENT\n");
    for v in vars {
        out.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", v.name, v.text));
    }
    Some(out)
}

fn see_also_section(pages: &[String]) -> String {
    let refs: Vec<String> = pages
        .iter()
        .map(|p| format!("\\fB{}\\fR(1)", roff(p)))
        .collect();
    format!(".SH \"SEE ALSO\"\n{}\n", refs.join(", "))
}

/// The subcommands a page documents: clap's `help` is not a page of its own.
fn subcommands(cmd: &Command) -> impl Iterator<Item = &Command> {
    cmd.get_subcommands()
        .filter(|s| s.get_name() != "help" && !s.is_hide_set())
}

/// The pages a page refers to: its parent, its subcommands, its siblings, related pages
/// and knoxctl(1), each once.
fn see_also(page: &str, cmd: &Command, parent: Option<(&str, &Command)>) -> Vec<String> {
    let mut pages = Vec::new();
    let mut add = |p: String| {
        if p != page && !pages.contains(&p) {
            pages.push(p);
        }
    };
    if let Some((parent_page, parent_cmd)) = parent {
        add(parent_page.to_string());
        for sub in subcommands(cmd) {
            add(format!("{page}-{}", sub.get_name()));
        }
        for sib in subcommands(parent_cmd) {
            add(format!("{parent_page}-{}", sib.get_name()));
        }
    } else {
        for sub in subcommands(cmd) {
            add(format!("{page}-{}", sub.get_name()));
        }
    }
    for (p, related) in RELATED {
        if *p == page {
            for r in *related {
                add(r.to_string());
            }
        }
    }
    add("knoxctl".to_string());
    pages
}

fn man_page(cmd: &Command, page: &str, parent: Option<(&str, &Command)>) -> Vec<u8> {
    let mut cmd = cmd
        .clone()
        .name(page.to_string())
        .bin_name(page.replace("-", " "));
    if cmd.find_subcommand("help").is_some() {
        cmd = cmd.mut_subcommand("help", |h| h.hide(true));
    }
    let man = clap_mangen::Man::new(cmd.clone()).date("");
    let mut out = Vec::new();
    // Section by section, so that each goes where man(7) puts it.
    man.render_title(&mut out).expect("write to vec");
    man.render_name_section(&mut out).expect("write to vec");
    man.render_synopsis_section(&mut out).expect("write to vec");
    // Without a long description, DESCRIPTION would only repeat NAME.
    if cmd.get_long_about().is_some() {
        man.render_description_section(&mut out)
            .expect("write to vec");
    } else if let Some(after) = cmd
        .get_before_help()
        .or(cmd.get_after_help())
        .filter(|_| parent.is_some())
    {
        // `policy get` and `delete` explain how policies are named. (The top page's after-help is the exit status summary,
        // which has its own section.)
        out.extend_from_slice(
            format!(".SH DESCRIPTION\n{}\n", roff(&after.to_string())).as_bytes(),
        );
    }
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out).expect("write to vec");
    }
    if subcommands(&cmd).next().is_some() {
        man.render_subcommands_section(&mut out)
            .expect("write to vec");
    }
    if page == "knoxctl-alerts" || page == "knoxctl-logs" {
        out.extend_from_slice(filter_section().as_bytes());
    }
    out.extend_from_slice(examples_section(page).as_bytes());
    out.extend_from_slice(EXIT_STATUS.as_bytes());
    if let Some(env) = environment_section(page) {
        out.extend_from_slice(env.as_bytes());
    }
    man.render_version_section(&mut out).expect("write to vec");
    out.extend_from_slice(see_also_section(&see_also(page, &cmd, parent)).as_bytes());
    out
}

fn collect_man(
    cmd: &Command,
    page: &str,
    parent: Option<(&str, &Command)>,
    out: &mut Vec<(String, Vec<u8>)>,
) {
    out.push((format!("{page}.1"), man_page(cmd, page, parent)));
    for sub in subcommands(cmd) {
        collect_man(
            sub,
            &format!("{page}-{}", sub.get_name()),
            Some((page, cmd)),
            out,
        );
    }
}

/// Every man page, as (file name, contents): `knoxctl.1`, `knoxctl-policy-apply.1`, ...
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut out = Vec::new();
    collect_man(&cmd, "knoxctl", None, &mut out);
    out
}

/// Every generated file, as (path relative to the repository, contents).
pub fn render_all() -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = SHELLS
        .iter()
        .map(|&s| {
            (
                PathBuf::from("completions").join(completion_file(s)),
                completion(s),
            )
        })
        .collect();
    out.extend(
        man_pages()
            .into_iter()
            .map(|(name, text)| (PathBuf::from("man").join(name), text)),
    );
    out
}
