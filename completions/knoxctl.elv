
use builtin;
use str;

set edit:completion:arg-completer[knoxctl] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'knoxctl'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'knoxctl'= {
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand onboard 'Install and start the knoxctl agent on this machine'
            cand offboard 'Stop the agent and remove everything onboarding installed'
            cand probe 'Show which enforcers work on this kernel and what each can enforce'
            cand policy 'Validate, apply, list, inspect and delete policies'
            cand harden 'Recommend hardening policies from compliance templates'
            cand alerts 'Query and filter recorded alerts (KubeArmor format)'
            cand logs 'Query telemetry: the monitor''s events that raised no alert (KubeArmor HostLog and ContainerLog), as config.yaml''s visibility asks'
            cand sysdump 'Collect a diagnostic archive for bug reports'
            cand containers 'List the containers on this host and the policies that select each'
            cand agent 'Run the embedded agent in the foreground'
            cand oci-hook 'Report a container to the agent from an OCI runtime hook (podman)'
            cand completion 'Print a shell completion script'
            cand version 'Print version and build information'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'knoxctl;onboard'= {
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand vm 'Onboard this virtual machine or bare-metal host'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'knoxctl;onboard;vm'= {
            cand --enforcer 'Enforcer to use; auto probes the kernel and picks the strongest that works'
            cand --cluster-name 'Cluster name reported in alerts (ClusterName)'
            cand --label 'Extra host identity label matched by nodeSelector (repeatable)'
            cand --mode 'How to run the agent; default: systemd when systemd is PID 1, else standalone'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --dry-run 'Show the plan and change nothing'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;onboard;help'= {
            cand vm 'Onboard this virtual machine or bare-metal host'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'knoxctl;onboard;help;vm'= {
        }
        &'knoxctl;onboard;help;help'= {
        }
        &'knoxctl;offboard'= {
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand vm 'Offboard this virtual machine or bare-metal host'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'knoxctl;offboard;vm'= {
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --purge 'Also remove applied policies, recorded alerts and the agent''s log'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;offboard;help'= {
            cand vm 'Offboard this virtual machine or bare-metal host'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'knoxctl;offboard;help;vm'= {
        }
        &'knoxctl;offboard;help;help'= {
        }
        &'knoxctl;probe'= {
            cand -o 'o'
            cand --output 'output'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;policy'= {
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand validate 'Check policy files against KubeArmor''s CRD schemas and for likely mistakes'
            cand explain 'Show, as a table, what the normalized rule set of policy files will do'
            cand test 'Replay recorded operations against draft policies: what would they have blocked?'
            cand apply 'Apply policies through the agent (all documents or none)'
            cand diff 'Show what apply would change, as a unified diff per policy'
            cand list 'List applied policies'
            cand get 'Print one applied policy'
            cand delete 'Delete applied policies by name, by the files that define them, or all'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'knoxctl;policy;validate'= {
            cand -f 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable'
            cand --filename 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable'
            cand --file 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable'
            cand -o 'o'
            cand --output 'output'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --strict 'Treat warnings (unknown fields, likely mistakes) as errors'
            cand --skip-other-kinds 'Skip documents that are not KubeArmor policies (a Deployment next to the policies)'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;policy;explain'= {
            cand -f 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable'
            cand --filename 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable'
            cand --file 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable'
            cand --default-posture 'What happens to operations no Allow rule permits, in allow-list mode'
            cand -o 'o'
            cand --output 'output'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --skip-other-kinds 'Skip documents that are not KubeArmor policies'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;policy;test'= {
            cand -f 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable'
            cand --filename 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable'
            cand --file 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable'
            cand --since 'Replay only records from this time on: a duration back from now (30m, 2h, 7d) or an RFC 3339 time or date'
            cand --from 'Read records from a KubeArmor JSON Lines file (- for standard input) instead of the telemetry store'
            cand --default-posture 'What operations no Allow rule permits get, in allow-list mode'
            cand -o 'o'
            cand --output 'output'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --skip-other-kinds 'Skip documents that are not KubeArmor policies'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;policy;apply'= {
            cand -f 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable'
            cand --filename 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable'
            cand --file 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable'
            cand -o 'o'
            cand --output 'output'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --skip-other-kinds 'Skip documents that are not KubeArmor policies (other manifests in a directory)'
            cand --dry-run 'Say what would be created, configured or left unchanged; change nothing'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;policy;diff'= {
            cand -f 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable'
            cand --filename 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable'
            cand --file 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --skip-other-kinds 'Skip documents that are not KubeArmor policies (other manifests in a directory)'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;policy;list'= {
            cand -o 'o'
            cand --output 'output'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;policy;get'= {
            cand -o 'o'
            cand --output 'output'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;policy;delete'= {
            cand -f 'Delete the policies defined in these files (or directories, or - for stdin)'
            cand --filename 'Delete the policies defined in these files (or directories, or - for stdin)'
            cand --file 'Delete the policies defined in these files (or directories, or - for stdin)'
            cand -o 'o'
            cand --output 'output'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --all 'Delete every applied policy'
            cand --ignore-not-found 'A policy that is not applied is not an error'
            cand --dry-run 'Say what would be deleted; change nothing'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;policy;help'= {
            cand validate 'Check policy files against KubeArmor''s CRD schemas and for likely mistakes'
            cand explain 'Show, as a table, what the normalized rule set of policy files will do'
            cand test 'Replay recorded operations against draft policies: what would they have blocked?'
            cand apply 'Apply policies through the agent (all documents or none)'
            cand diff 'Show what apply would change, as a unified diff per policy'
            cand list 'List applied policies'
            cand get 'Print one applied policy'
            cand delete 'Delete applied policies by name, by the files that define them, or all'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'knoxctl;policy;help;validate'= {
        }
        &'knoxctl;policy;help;explain'= {
        }
        &'knoxctl;policy;help;test'= {
        }
        &'knoxctl;policy;help;apply'= {
        }
        &'knoxctl;policy;help;diff'= {
        }
        &'knoxctl;policy;help;list'= {
        }
        &'knoxctl;policy;help;get'= {
        }
        &'knoxctl;policy;help;delete'= {
        }
        &'knoxctl;policy;help;help'= {
        }
        &'knoxctl;harden'= {
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the built-in hardening templates'
            cand show 'Show one template, or the policy it produces for a target'
            cand recommend 'Recommend hardening policies for this host, its containers or a root file system'
            cand verify 'Run templates'' verify recipes against the running agent'
            cand discover 'Generate least-permissive allow-list policies from recorded behaviour'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'knoxctl;harden;list'= {
            cand --framework 'Only templates mapped to this framework (repeatable): mitre-attack, nist-800-53, nist-800-190, cis-debian12, cis-controls, cis-docker, stig-ubuntu2204, stig-rhel9, pci-dss, or a family (mitre, nist, cis, stig, pci)'
            cand --control 'Only templates mapped to this control (repeatable): CM-7(4), T1053, 11.5.2, UBTU-22-654055'
            cand --category 'Only templates of this category (repeatable), e.g. package-managers, ssh'
            cand --scope 'Only templates for hosts or for containers'
            cand --templates 'Also import the templates of a kubearmor/policy-templates tree (repeatable): a directory, a .zip of one (a release archive), or an http(s) URL of such a zip (cached in the user''s cache directory, revalidated, used offline when the download fails); every problem is reported as FILE:LINE with what was repaired or why it was skipped'
            cand -o 'o'
            cand --output 'output'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --applicable 'Only templates whose preconditions hold on this host'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;harden;show'= {
            cand --for 'Print the policy it produces for `host` (this host) or `container=NAME` (a container the agent knows; its paths are resolved in the container''s root)'
            cand -o 'o'
            cand --output 'output'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;harden;recommend'= {
            cand --container 'A container the agent knows, by name (repeatable); with --rootfs, the name the policies select'
            cand --rootfs 'Evaluate on this root file system instead of the live target'
            cand --framework 'Only templates mapped to this framework (repeatable): mitre-attack, nist-800-53, nist-800-190, cis-debian12, cis-controls, cis-docker, stig-ubuntu2204, stig-rhel9, pci-dss, or a family (mitre, nist, cis, stig, pci)'
            cand --control 'Only templates mapped to this control (repeatable): CM-7(4), T1053, 11.5.2, UBTU-22-654055'
            cand --category 'Only templates of this category (repeatable), e.g. package-managers, ssh'
            cand --scope 'Only templates for hosts or for containers'
            cand --templates 'Also import the templates of a kubearmor/policy-templates tree (repeatable): a directory, a .zip of one (a release archive), or an http(s) URL of such a zip (cached in the user''s cache directory, revalidated, used offline when the download fails); every problem is reported as FILE:LINE with what was repaired or why it was skipped'
            cand --severity-min 'Only templates of at least this severity (1-10)'
            cand --action 'Audit (default), or Block where it is safe and enforceable here'
            cand --out-dir 'Write the policies into this directory'
            cand --outdir 'Write the policies into this directory'
            cand --report 'Write the coverage report: FILE.md, FILE.html or FILE.json'
            cand -o 'o'
            cand --output 'output'
            cand --since 'Replay the stored alerts of harden policies since then (30m, 24h, 7d, or a time): a template whose policy alerted stays Audit with the count and the programs'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --host 'This host (the default target)'
            cand --all-containers 'Every container the agent knows'
            cand --merge 'One policy per target instead of one per template'
            cand --apply 'Apply the policies through the agent (all or none)'
            cand --diff 'Show what apply would change against the applied policies'
            cand --dry-run 'With --apply: ask the agent what would change, change nothing'
            cand -y 'Do not ask which policies to apply'
            cand --yes 'Do not ask which policies to apply'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;harden;verify'= {
            cand --container 'Verify container templates inside this container (one the agent knows)'
            cand --timeout 'How long to wait for each alert, in seconds'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --all 'Every template of the target''s scope whose preconditions hold there'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;harden;discover'= {
            cand --container 'Learn this container''s behaviour (its ContainerName in the records)'
            cand --since 'Learn only from records from this time on: a duration back from now (30m, 2h, 7d) or an RFC 3339 time or date'
            cand --from 'Read records from a KubeArmor JSON Lines file (- for standard input) instead of the telemetry store'
            cand --learn 'Record first: wait this long (30s, 10m, 2h) while the workload runs under the agent, then learn from what the telemetry store recorded in that time'
            cand --scope 'Which operations to learn (comma-separated)'
            cand --dir-threshold 'Distinct files opened in one directory from which the directory is allowed'
            cand --posture 'The default posture the policy is meant for (recorded in its annotations)'
            cand --out-dir 'Write the policy and report.md into this directory instead'
            cand -o 'o'
            cand --output 'output'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --host 'Learn the host''s behaviour (records without a container); the default'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;harden;help'= {
            cand list 'List the built-in hardening templates'
            cand show 'Show one template, or the policy it produces for a target'
            cand recommend 'Recommend hardening policies for this host, its containers or a root file system'
            cand verify 'Run templates'' verify recipes against the running agent'
            cand discover 'Generate least-permissive allow-list policies from recorded behaviour'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'knoxctl;harden;help;list'= {
        }
        &'knoxctl;harden;help;show'= {
        }
        &'knoxctl;harden;help;recommend'= {
        }
        &'knoxctl;harden;help;verify'= {
        }
        &'knoxctl;harden;help;discover'= {
        }
        &'knoxctl;harden;help;help'= {
        }
        &'knoxctl;alerts'= {
            cand --filter 'Field=value, Field!=value, Field~regex, Field>=N (repeatable; all must hold)'
            cand --since 'Only alerts at or after this: a duration back from now (30s, 10m, 1h30m, 7d) or a time (2026-12-06T08:54:00Z, 2026-12-06 09:54:00+01:00, 2026-12-06); summary: 24h'
            cand --until 'Only alerts at or before this (same forms as --since)'
            cand --limit 'At most this many alerts (newest last); a table shows the newest 1000 unless set'
            cand -o 'o'
            cand --output 'output'
            cand --from 'Filter KubeArmor-format JSON Lines from a file (or - for stdin) instead of the store'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand tail 'Follow new alerts as they arrive (JSON Lines with -o json)'
            cand summary 'Counts of the window''s alerts by policy (with a per-hour sparkline), action, operation and process (--since defaults to 24h)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'knoxctl;alerts;tail'= {
            cand --filter 'Field=value, Field!=value, Field~regex, Field>=N (repeatable; all must hold)'
            cand --since 'Only alerts at or after this: a duration back from now (30s, 10m, 1h30m, 7d) or a time (2026-12-06T08:54:00Z, 2026-12-06 09:54:00+01:00, 2026-12-06); summary: 24h'
            cand --until 'Only alerts at or before this (same forms as --since)'
            cand -o 'o'
            cand --output 'output'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;alerts;summary'= {
            cand --filter 'Field=value, Field!=value, Field~regex, Field>=N (repeatable; all must hold)'
            cand --since 'Only alerts at or after this: a duration back from now (30s, 10m, 1h30m, 7d) or a time (2026-12-06T08:54:00Z, 2026-12-06 09:54:00+01:00, 2026-12-06); summary: 24h'
            cand --until 'Only alerts at or before this (same forms as --since)'
            cand -o 'o'
            cand --output 'output'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;alerts;help'= {
            cand tail 'Follow new alerts as they arrive (JSON Lines with -o json)'
            cand summary 'Counts of the window''s alerts by policy (with a per-hour sparkline), action, operation and process (--since defaults to 24h)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'knoxctl;alerts;help;tail'= {
        }
        &'knoxctl;alerts;help;summary'= {
        }
        &'knoxctl;alerts;help;help'= {
        }
        &'knoxctl;logs'= {
            cand --filter 'Field=value, Field!=value, Field~regex (repeatable; all must hold), with KubeArmor''s field names: Operation=Process, ProcessName=/usr/bin/curl, Resource~^/etc/'
            cand --since 'Only logs at or after this: a duration back from now (30s, 10m, 1h30m, 7d) or a time (2026-12-06T08:54:00Z, 2026-12-06)'
            cand --until 'Only logs at or before this (same forms as --since)'
            cand --limit 'At most this many logs (newest last); a table shows the newest 1000 unless set'
            cand -o 'o'
            cand --output 'output'
            cand --from 'Filter KubeArmor HostLog/ContainerLog JSON Lines from a file (or - for stdin) instead of the store'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand tail 'Follow new logs as they arrive (JSON Lines with -o json)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'knoxctl;logs;tail'= {
            cand --filter 'Field=value, Field!=value, Field~regex (repeatable; all must hold), with KubeArmor''s field names: Operation=Process, ProcessName=/usr/bin/curl, Resource~^/etc/'
            cand --since 'Only logs at or after this: a duration back from now (30s, 10m, 1h30m, 7d) or a time (2026-12-06T08:54:00Z, 2026-12-06)'
            cand --limit 'At most this many logs (newest last); a table shows the newest 1000 unless set'
            cand -o 'o'
            cand --output 'output'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;logs;help'= {
            cand tail 'Follow new logs as they arrive (JSON Lines with -o json)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'knoxctl;logs;help;tail'= {
        }
        &'knoxctl;logs;help;help'= {
        }
        &'knoxctl;sysdump'= {
            cand -o 'Archive to write, or a directory to write it in (default: knoxctl-sysdump-<hostname>-<UTC time>.tar.gz here)'
            cand --output 'Archive to write, or a directory to write it in (default: knoxctl-sysdump-<hostname>-<UTC time>.tar.gz here)'
            cand --alerts 'How many of the newest alerts to include'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;containers'= {
            cand -o 'Output format'
            cand --output 'Output format'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;agent'= {
            cand --config 'Configuration file'
            cand --enforcer 'enforcer'
            cand --label 'Extra host identity label (repeatable)'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --supervise 'Keep the agent running: start it as a child and restart it whenever it exits (how standalone mode runs it; records restarts in supervisor.json next to the socket)'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;oci-hook'= {
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;completion'= {
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;version'= {
            cand -o 'o'
            cand --output 'output'
            cand --socket 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --state-dir 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]'
            cand --no-headers 'Print tables without their header line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'knoxctl;help'= {
            cand onboard 'Install and start the knoxctl agent on this machine'
            cand offboard 'Stop the agent and remove everything onboarding installed'
            cand probe 'Show which enforcers work on this kernel and what each can enforce'
            cand policy 'Validate, apply, list, inspect and delete policies'
            cand harden 'Recommend hardening policies from compliance templates'
            cand alerts 'Query and filter recorded alerts (KubeArmor format)'
            cand logs 'Query telemetry: the monitor''s events that raised no alert (KubeArmor HostLog and ContainerLog), as config.yaml''s visibility asks'
            cand sysdump 'Collect a diagnostic archive for bug reports'
            cand containers 'List the containers on this host and the policies that select each'
            cand agent 'Run the embedded agent in the foreground'
            cand oci-hook 'Report a container to the agent from an OCI runtime hook (podman)'
            cand completion 'Print a shell completion script'
            cand version 'Print version and build information'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'knoxctl;help;onboard'= {
            cand vm 'Onboard this virtual machine or bare-metal host'
        }
        &'knoxctl;help;onboard;vm'= {
        }
        &'knoxctl;help;offboard'= {
            cand vm 'Offboard this virtual machine or bare-metal host'
        }
        &'knoxctl;help;offboard;vm'= {
        }
        &'knoxctl;help;probe'= {
        }
        &'knoxctl;help;policy'= {
            cand validate 'Check policy files against KubeArmor''s CRD schemas and for likely mistakes'
            cand explain 'Show, as a table, what the normalized rule set of policy files will do'
            cand test 'Replay recorded operations against draft policies: what would they have blocked?'
            cand apply 'Apply policies through the agent (all documents or none)'
            cand diff 'Show what apply would change, as a unified diff per policy'
            cand list 'List applied policies'
            cand get 'Print one applied policy'
            cand delete 'Delete applied policies by name, by the files that define them, or all'
        }
        &'knoxctl;help;policy;validate'= {
        }
        &'knoxctl;help;policy;explain'= {
        }
        &'knoxctl;help;policy;test'= {
        }
        &'knoxctl;help;policy;apply'= {
        }
        &'knoxctl;help;policy;diff'= {
        }
        &'knoxctl;help;policy;list'= {
        }
        &'knoxctl;help;policy;get'= {
        }
        &'knoxctl;help;policy;delete'= {
        }
        &'knoxctl;help;harden'= {
            cand list 'List the built-in hardening templates'
            cand show 'Show one template, or the policy it produces for a target'
            cand recommend 'Recommend hardening policies for this host, its containers or a root file system'
            cand verify 'Run templates'' verify recipes against the running agent'
            cand discover 'Generate least-permissive allow-list policies from recorded behaviour'
        }
        &'knoxctl;help;harden;list'= {
        }
        &'knoxctl;help;harden;show'= {
        }
        &'knoxctl;help;harden;recommend'= {
        }
        &'knoxctl;help;harden;verify'= {
        }
        &'knoxctl;help;harden;discover'= {
        }
        &'knoxctl;help;alerts'= {
            cand tail 'Follow new alerts as they arrive (JSON Lines with -o json)'
            cand summary 'Counts of the window''s alerts by policy (with a per-hour sparkline), action, operation and process (--since defaults to 24h)'
        }
        &'knoxctl;help;alerts;tail'= {
        }
        &'knoxctl;help;alerts;summary'= {
        }
        &'knoxctl;help;logs'= {
            cand tail 'Follow new logs as they arrive (JSON Lines with -o json)'
        }
        &'knoxctl;help;logs;tail'= {
        }
        &'knoxctl;help;sysdump'= {
        }
        &'knoxctl;help;containers'= {
        }
        &'knoxctl;help;agent'= {
        }
        &'knoxctl;help;oci-hook'= {
        }
        &'knoxctl;help;completion'= {
        }
        &'knoxctl;help;version'= {
        }
        &'knoxctl;help;help'= {
        }
    ]
    $completions[$command]
}
