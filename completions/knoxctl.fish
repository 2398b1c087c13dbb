# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_knoxctl_global_optspecs
    string join \n socket= state-dir= no-headers h/help V/version
end

function __fish_knoxctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_knoxctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_knoxctl_using_subcommand
    set -l cmd (__fish_knoxctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c knoxctl -n "__fish_knoxctl_needs_command" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_needs_command" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_needs_command" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_needs_command" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_needs_command" -f -a "onboard" -d 'Install and start the knoxctl agent on this machine'
complete -c knoxctl -n "__fish_knoxctl_needs_command" -f -a "offboard" -d 'Stop the agent and remove everything onboarding installed'
complete -c knoxctl -n "__fish_knoxctl_needs_command" -f -a "probe" -d 'Show which enforcers work on this kernel and what each can enforce'
complete -c knoxctl -n "__fish_knoxctl_needs_command" -f -a "policy" -d 'Validate, apply, list, inspect and delete policies'
complete -c knoxctl -n "__fish_knoxctl_needs_command" -f -a "harden" -d 'Recommend hardening policies from compliance templates'
complete -c knoxctl -n "__fish_knoxctl_needs_command" -f -a "alerts" -d 'Query and filter recorded alerts (KubeArmor format)'
complete -c knoxctl -n "__fish_knoxctl_needs_command" -f -a "logs" -d 'Query telemetry: the monitor\'s events that raised no alert (KubeArmor HostLog and ContainerLog), as config.yaml\'s visibility asks'
complete -c knoxctl -n "__fish_knoxctl_needs_command" -f -a "sysdump" -d 'Collect a diagnostic archive for bug reports'
complete -c knoxctl -n "__fish_knoxctl_needs_command" -f -a "containers" -d 'List the containers on this host and the policies that select each'
complete -c knoxctl -n "__fish_knoxctl_needs_command" -f -a "agent" -d 'Run the embedded agent in the foreground'
complete -c knoxctl -n "__fish_knoxctl_needs_command" -f -a "oci-hook" -d 'Report a container to the agent from an OCI runtime hook (podman)'
complete -c knoxctl -n "__fish_knoxctl_needs_command" -f -a "completion" -d 'Print a shell completion script'
complete -c knoxctl -n "__fish_knoxctl_needs_command" -f -a "version" -d 'Print version and build information'
complete -c knoxctl -n "__fish_knoxctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and not __fish_seen_subcommand_from vm help" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and not __fish_seen_subcommand_from vm help" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and not __fish_seen_subcommand_from vm help" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and not __fish_seen_subcommand_from vm help" -s h -l help -d 'Print help'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and not __fish_seen_subcommand_from vm help" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and not __fish_seen_subcommand_from vm help" -f -a "vm" -d 'Onboard this virtual machine or bare-metal host'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and not __fish_seen_subcommand_from vm help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and __fish_seen_subcommand_from vm" -l enforcer -d 'Enforcer to use; auto probes the kernel and picks the strongest that works' -r -f -a "auto\t''
bpf-lsm\t''
apparmor\t''
fanotify\t''
monitor-only\t''"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and __fish_seen_subcommand_from vm" -l cluster-name -d 'Cluster name reported in alerts (ClusterName)' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and __fish_seen_subcommand_from vm" -l label -d 'Extra host identity label matched by nodeSelector (repeatable)' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and __fish_seen_subcommand_from vm" -l mode -d 'How to run the agent; default: systemd when systemd is PID 1, else standalone' -r -f -a "systemd\t'A hardened systemd service (restarted on failure, watchdog)'
standalone\t'A detached process with a pid file and a log file (hosts without systemd)'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and __fish_seen_subcommand_from vm" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and __fish_seen_subcommand_from vm" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and __fish_seen_subcommand_from vm" -l dry-run -d 'Show the plan and change nothing'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and __fish_seen_subcommand_from vm" -s y -l yes -d 'Do not ask for confirmation'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and __fish_seen_subcommand_from vm" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and __fish_seen_subcommand_from vm" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and __fish_seen_subcommand_from vm" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and __fish_seen_subcommand_from help" -f -a "vm" -d 'Onboard this virtual machine or bare-metal host'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand onboard; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand offboard; and not __fish_seen_subcommand_from vm help" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand offboard; and not __fish_seen_subcommand_from vm help" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand offboard; and not __fish_seen_subcommand_from vm help" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand offboard; and not __fish_seen_subcommand_from vm help" -s h -l help -d 'Print help'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand offboard; and not __fish_seen_subcommand_from vm help" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand offboard; and not __fish_seen_subcommand_from vm help" -f -a "vm" -d 'Offboard this virtual machine or bare-metal host'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand offboard; and not __fish_seen_subcommand_from vm help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand offboard; and __fish_seen_subcommand_from vm" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand offboard; and __fish_seen_subcommand_from vm" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand offboard; and __fish_seen_subcommand_from vm" -l purge -d 'Also remove applied policies, recorded alerts and the agent\'s log'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand offboard; and __fish_seen_subcommand_from vm" -s y -l yes -d 'Do not ask for confirmation'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand offboard; and __fish_seen_subcommand_from vm" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand offboard; and __fish_seen_subcommand_from vm" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand offboard; and __fish_seen_subcommand_from vm" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand offboard; and __fish_seen_subcommand_from help" -f -a "vm" -d 'Offboard this virtual machine or bare-metal host'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand offboard; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand probe" -s o -l output -r -f -a "table\t'Columns that fit the terminal (long values cut with …; whole values when piped)'
wide\t'Every column, whole values, even on a terminal'
json\t'JSON (JSON Lines for alerts and logs)'
yaml\t'YAML (one document per alert for alerts)'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand probe" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand probe" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand probe" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand probe" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand probe" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and not __fish_seen_subcommand_from validate explain test apply diff list get delete help" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and not __fish_seen_subcommand_from validate explain test apply diff list get delete help" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and not __fish_seen_subcommand_from validate explain test apply diff list get delete help" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and not __fish_seen_subcommand_from validate explain test apply diff list get delete help" -s h -l help -d 'Print help'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and not __fish_seen_subcommand_from validate explain test apply diff list get delete help" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and not __fish_seen_subcommand_from validate explain test apply diff list get delete help" -f -a "validate" -d 'Check policy files against KubeArmor\'s CRD schemas and for likely mistakes'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and not __fish_seen_subcommand_from validate explain test apply diff list get delete help" -f -a "explain" -d 'Show, as a table, what the normalized rule set of policy files will do'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and not __fish_seen_subcommand_from validate explain test apply diff list get delete help" -f -a "test" -d 'Replay recorded operations against draft policies: what would they have blocked?'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and not __fish_seen_subcommand_from validate explain test apply diff list get delete help" -f -a "apply" -d 'Apply policies through the agent (all documents or none)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and not __fish_seen_subcommand_from validate explain test apply diff list get delete help" -f -a "diff" -d 'Show what apply would change, as a unified diff per policy'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and not __fish_seen_subcommand_from validate explain test apply diff list get delete help" -f -a "list" -d 'List applied policies'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and not __fish_seen_subcommand_from validate explain test apply diff list get delete help" -f -a "get" -d 'Print one applied policy'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and not __fish_seen_subcommand_from validate explain test apply diff list get delete help" -f -a "delete" -d 'Delete applied policies by name, by the files that define them, or all'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and not __fish_seen_subcommand_from validate explain test apply diff list get delete help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from validate" -s f -l filename -l file -d 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from validate" -s o -l output -r -f -a "text\t'Text for people'
json\t'JSON'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from validate" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from validate" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from validate" -l strict -d 'Treat warnings (unknown fields, likely mistakes) as errors'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from validate" -l skip-other-kinds -d 'Skip documents that are not KubeArmor policies (a Deployment next to the policies)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from validate" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from validate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from validate" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from explain" -s f -l filename -l file -d 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from explain" -l default-posture -d 'What happens to operations no Allow rule permits, in allow-list mode' -r -f -a "audit\t'Permit and alert (KubeArmor\'s default)'
block\t'Deny'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from explain" -s o -l output -r -f -a "table\t'Columns that fit the terminal (long values cut with …; whole values when piped)'
wide\t'Every column, whole values, even on a terminal'
json\t'JSON (JSON Lines for alerts and logs)'
yaml\t'YAML (one document per alert for alerts)'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from explain" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from explain" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from explain" -l skip-other-kinds -d 'Skip documents that are not KubeArmor policies'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from explain" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from explain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from explain" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from test" -s f -l filename -l file -d 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from test" -l since -d 'Replay only records from this time on: a duration back from now (30m, 2h, 7d) or an RFC 3339 time or date' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from test" -l from -d 'Read records from a KubeArmor JSON Lines file (- for standard input) instead of the telemetry store' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from test" -l default-posture -d 'What operations no Allow rule permits get, in allow-list mode' -r -f -a "audit\t'Permit and alert (KubeArmor\'s default)'
block\t'Deny'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from test" -s o -l output -r -f -a "table\t'Columns that fit the terminal (long values cut with …; whole values when piped)'
wide\t'Every column, whole values, even on a terminal'
json\t'JSON (JSON Lines for alerts and logs)'
yaml\t'YAML (one document per alert for alerts)'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from test" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from test" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from test" -l skip-other-kinds -d 'Skip documents that are not KubeArmor policies'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from test" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from test" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from apply" -s f -l filename -l file -d 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from apply" -s o -l output -r -f -a "text\t'One line per policy: its identifier, what happened and its effect here'
name\t'Only the identifiers of the policies changed (KIND/NAME, KIND/NAMESPACE/NAME)'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from apply" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from apply" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from apply" -l skip-other-kinds -d 'Skip documents that are not KubeArmor policies (other manifests in a directory)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from apply" -l dry-run -d 'Say what would be created, configured or left unchanged; change nothing'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from apply" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from apply" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from apply" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from diff" -s f -l filename -l file -d 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from diff" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from diff" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from diff" -l skip-other-kinds -d 'Skip documents that are not KubeArmor policies (other manifests in a directory)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from diff" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from diff" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from diff" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from list" -s o -l output -r -f -a "table\t'Columns that fit the terminal (long values cut with …; whole values when piped)'
wide\t'Every column, whole values, even on a terminal'
json\t'JSON'
yaml\t'YAML'
name\t'One KIND/NAME (KIND/NAMESPACE/NAME) per line, as get and delete take it'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from list" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from list" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from list" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from get" -s o -l output -r -f -a "yaml\t'The policy as YAML'
json\t'The policy as JSON'
name\t'Only its KIND/NAME (KIND/NAMESPACE/NAME)'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from get" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from get" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from get" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from get" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from delete" -s f -l filename -l file -d 'Delete the policies defined in these files (or directories, or - for stdin)' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from delete" -s o -l output -r -f -a "text\t'One line per policy: its identifier, what happened and its effect here'
name\t'Only the identifiers of the policies changed (KIND/NAME, KIND/NAMESPACE/NAME)'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from delete" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from delete" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from delete" -l all -d 'Delete every applied policy'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from delete" -l ignore-not-found -d 'A policy that is not applied is not an error'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from delete" -l dry-run -d 'Say what would be deleted; change nothing'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from delete" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "validate" -d 'Check policy files against KubeArmor\'s CRD schemas and for likely mistakes'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "explain" -d 'Show, as a table, what the normalized rule set of policy files will do'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "test" -d 'Replay recorded operations against draft policies: what would they have blocked?'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "apply" -d 'Apply policies through the agent (all documents or none)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "diff" -d 'Show what apply would change, as a unified diff per policy'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "list" -d 'List applied policies'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "get" -d 'Print one applied policy'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete applied policies by name, by the files that define them, or all'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and not __fish_seen_subcommand_from list show recommend verify discover help" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and not __fish_seen_subcommand_from list show recommend verify discover help" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and not __fish_seen_subcommand_from list show recommend verify discover help" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and not __fish_seen_subcommand_from list show recommend verify discover help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and not __fish_seen_subcommand_from list show recommend verify discover help" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and not __fish_seen_subcommand_from list show recommend verify discover help" -f -a "list" -d 'List the built-in hardening templates'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and not __fish_seen_subcommand_from list show recommend verify discover help" -f -a "show" -d 'Show one template, or the policy it produces for a target'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and not __fish_seen_subcommand_from list show recommend verify discover help" -f -a "recommend" -d 'Recommend hardening policies for this host, its containers or a root file system'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and not __fish_seen_subcommand_from list show recommend verify discover help" -f -a "verify" -d 'Run templates\' verify recipes against the running agent'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and not __fish_seen_subcommand_from list show recommend verify discover help" -f -a "discover" -d 'Generate least-permissive allow-list policies from recorded behaviour'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and not __fish_seen_subcommand_from list show recommend verify discover help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from list" -l framework -d 'Only templates mapped to this framework (repeatable): mitre-attack, nist-800-53, nist-800-190, cis-debian12, cis-controls, cis-docker, stig-ubuntu2204, stig-rhel9, pci-dss, or a family (mitre, nist, cis, stig, pci)' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from list" -l control -d 'Only templates mapped to this control (repeatable): CM-7(4), T1053, 11.5.2, UBTU-22-654055' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from list" -l category -d 'Only templates of this category (repeatable), e.g. package-managers, ssh' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from list" -l scope -d 'Only templates for hosts or for containers' -r -f -a "host\t''
container\t''"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from list" -l templates -d 'Also import the templates of a kubearmor/policy-templates tree (repeatable): a directory, a .zip of one (a release archive), or an http(s) URL of such a zip (cached in the user\'s cache directory, revalidated, used offline when the download fails); every problem is reported as FILE:LINE with what was repaired or why it was skipped' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from list" -s o -l output -r -f -a "table\t'Columns that fit the terminal'
wide\t'Every column, whole values'
json\t'JSON'
yaml\t'YAML'
markdown\t'A Markdown table'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from list" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from list" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from list" -l applicable -d 'Only templates whose preconditions hold on this host'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from list" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from show" -l for -d 'Print the policy it produces for `host` (this host) or `container=NAME` (a container the agent knows; its paths are resolved in the container\'s root)' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from show" -s o -l output -r -f -a "yaml\t'YAML'
json\t'JSON'
markdown\t'Markdown for people'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from show" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from show" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from show" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l container -d 'A container the agent knows, by name (repeatable); with --rootfs, the name the policies select' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l rootfs -d 'Evaluate on this root file system instead of the live target' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l framework -d 'Only templates mapped to this framework (repeatable): mitre-attack, nist-800-53, nist-800-190, cis-debian12, cis-controls, cis-docker, stig-ubuntu2204, stig-rhel9, pci-dss, or a family (mitre, nist, cis, stig, pci)' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l control -d 'Only templates mapped to this control (repeatable): CM-7(4), T1053, 11.5.2, UBTU-22-654055' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l category -d 'Only templates of this category (repeatable), e.g. package-managers, ssh' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l scope -d 'Only templates for hosts or for containers' -r -f -a "host\t''
container\t''"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l templates -d 'Also import the templates of a kubearmor/policy-templates tree (repeatable): a directory, a .zip of one (a release archive), or an http(s) URL of such a zip (cached in the user\'s cache directory, revalidated, used offline when the download fails); every problem is reported as FILE:LINE with what was repaired or why it was skipped' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l severity-min -d 'Only templates of at least this severity (1-10)' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l action -d 'Audit (default), or Block where it is safe and enforceable here' -r -f -a "audit\t''
block\t''"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l out-dir -l outdir -d 'Write the policies into this directory' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l report -d 'Write the coverage report: FILE.md, FILE.html or FILE.json' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -s o -l output -r -f -a "table\t'Columns that fit the terminal'
wide\t'Every column, whole values'
json\t'The recommendations, skips and policies as one JSON document'
yaml\t'The same as YAML'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l since -d 'Replay the stored alerts of harden policies since then (30m, 24h, 7d, or a time): a template whose policy alerted stays Audit with the count and the programs' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l host -d 'This host (the default target)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l all-containers -d 'Every container the agent knows'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l merge -d 'One policy per target instead of one per template'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l apply -d 'Apply the policies through the agent (all or none)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l diff -d 'Show what apply would change against the applied policies'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l dry-run -d 'With --apply: ask the agent what would change, change nothing'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -s y -l yes -d 'Do not ask which policies to apply'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from recommend" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from verify" -l container -d 'Verify container templates inside this container (one the agent knows)' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from verify" -l timeout -d 'How long to wait for each alert, in seconds' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from verify" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from verify" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from verify" -l all -d 'Every template of the target\'s scope whose preconditions hold there'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from verify" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from verify" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from discover" -l container -d 'Learn this container\'s behaviour (its ContainerName in the records)' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from discover" -l since -d 'Learn only from records from this time on: a duration back from now (30m, 2h, 7d) or an RFC 3339 time or date' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from discover" -l from -d 'Read records from a KubeArmor JSON Lines file (- for standard input) instead of the telemetry store' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from discover" -l learn -d 'Record first: wait this long (30s, 10m, 2h) while the workload runs under the agent, then learn from what the telemetry store recorded in that time' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from discover" -l scope -d 'Which operations to learn (comma-separated)' -r -f -a "process\t''
file\t''
network\t''"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from discover" -l dir-threshold -d 'Distinct files opened in one directory from which the directory is allowed' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from discover" -l posture -d 'The default posture the policy is meant for (recorded in its annotations)' -r -f -a "audit\t'Permit and alert (KubeArmor\'s default)'
block\t'Deny'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from discover" -l out-dir -d 'Write the policy and report.md into this directory instead' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from discover" -s o -l output -r -f -a "yaml\t''
json\t''"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from discover" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from discover" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from discover" -l host -d 'Learn the host\'s behaviour (records without a container); the default'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from discover" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from discover" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from discover" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the built-in hardening templates'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one template, or the policy it produces for a target'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from help" -f -a "recommend" -d 'Recommend hardening policies for this host, its containers or a root file system'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Run templates\' verify recipes against the running agent'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from help" -f -a "discover" -d 'Generate least-permissive allow-list policies from recorded behaviour'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand harden; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and not __fish_seen_subcommand_from tail summary help" -l filter -d 'Field=value, Field!=value, Field~regex, Field>=N (repeatable; all must hold)' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and not __fish_seen_subcommand_from tail summary help" -l since -d 'Only alerts at or after this: a duration back from now (30s, 10m, 1h30m, 7d) or a time (2026-12-06T08:54:00Z, 2026-12-06 09:54:00+01:00, 2026-12-06); summary: 24h' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and not __fish_seen_subcommand_from tail summary help" -l until -d 'Only alerts at or before this (same forms as --since)' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and not __fish_seen_subcommand_from tail summary help" -l limit -d 'At most this many alerts (newest last); a table shows the newest 1000 unless set' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and not __fish_seen_subcommand_from tail summary help" -s o -l output -r -f -a "table\t'Columns that fit the terminal (long values cut with …; whole values when piped)'
wide\t'Every column, whole values, even on a terminal'
json\t'JSON (JSON Lines for alerts and logs)'
yaml\t'YAML (one document per alert for alerts)'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and not __fish_seen_subcommand_from tail summary help" -l from -d 'Filter KubeArmor-format JSON Lines from a file (or - for stdin) instead of the store' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and not __fish_seen_subcommand_from tail summary help" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and not __fish_seen_subcommand_from tail summary help" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and not __fish_seen_subcommand_from tail summary help" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and not __fish_seen_subcommand_from tail summary help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and not __fish_seen_subcommand_from tail summary help" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and not __fish_seen_subcommand_from tail summary help" -f -a "tail" -d 'Follow new alerts as they arrive (JSON Lines with -o json)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and not __fish_seen_subcommand_from tail summary help" -f -a "summary" -d 'Counts of the window\'s alerts by policy (with a per-hour sparkline), action, operation and process (--since defaults to 24h)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and not __fish_seen_subcommand_from tail summary help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from tail" -l filter -d 'Field=value, Field!=value, Field~regex, Field>=N (repeatable; all must hold)' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from tail" -l since -d 'Only alerts at or after this: a duration back from now (30s, 10m, 1h30m, 7d) or a time (2026-12-06T08:54:00Z, 2026-12-06 09:54:00+01:00, 2026-12-06); summary: 24h' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from tail" -l until -d 'Only alerts at or before this (same forms as --since)' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from tail" -s o -l output -r -f -a "table\t'Columns that fit the terminal (long values cut with …; whole values when piped)'
wide\t'Every column, whole values, even on a terminal'
json\t'JSON (JSON Lines for alerts and logs)'
yaml\t'YAML (one document per alert for alerts)'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from tail" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from tail" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from tail" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from tail" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from tail" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from summary" -l filter -d 'Field=value, Field!=value, Field~regex, Field>=N (repeatable; all must hold)' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from summary" -l since -d 'Only alerts at or after this: a duration back from now (30s, 10m, 1h30m, 7d) or a time (2026-12-06T08:54:00Z, 2026-12-06 09:54:00+01:00, 2026-12-06); summary: 24h' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from summary" -l until -d 'Only alerts at or before this (same forms as --since)' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from summary" -s o -l output -r -f -a "table\t'Columns that fit the terminal (long values cut with …; whole values when piped)'
wide\t'Every column, whole values, even on a terminal'
json\t'JSON (JSON Lines for alerts and logs)'
yaml\t'YAML (one document per alert for alerts)'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from summary" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from summary" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from summary" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from summary" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from summary" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from help" -f -a "tail" -d 'Follow new alerts as they arrive (JSON Lines with -o json)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from help" -f -a "summary" -d 'Counts of the window\'s alerts by policy (with a per-hour sparkline), action, operation and process (--since defaults to 24h)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and not __fish_seen_subcommand_from tail help" -l filter -d 'Field=value, Field!=value, Field~regex (repeatable; all must hold), with KubeArmor\'s field names: Operation=Process, ProcessName=/usr/bin/curl, Resource~^/etc/' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and not __fish_seen_subcommand_from tail help" -l since -d 'Only logs at or after this: a duration back from now (30s, 10m, 1h30m, 7d) or a time (2026-12-06T08:54:00Z, 2026-12-06)' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and not __fish_seen_subcommand_from tail help" -l until -d 'Only logs at or before this (same forms as --since)' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and not __fish_seen_subcommand_from tail help" -l limit -d 'At most this many logs (newest last); a table shows the newest 1000 unless set' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and not __fish_seen_subcommand_from tail help" -s o -l output -r -f -a "table\t'Columns that fit the terminal (long values cut with …; whole values when piped)'
wide\t'Every column, whole values, even on a terminal'
json\t'JSON (JSON Lines for alerts and logs)'
yaml\t'YAML (one document per alert for alerts)'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and not __fish_seen_subcommand_from tail help" -l from -d 'Filter KubeArmor HostLog/ContainerLog JSON Lines from a file (or - for stdin) instead of the store' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and not __fish_seen_subcommand_from tail help" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and not __fish_seen_subcommand_from tail help" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and not __fish_seen_subcommand_from tail help" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and not __fish_seen_subcommand_from tail help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and not __fish_seen_subcommand_from tail help" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and not __fish_seen_subcommand_from tail help" -f -a "tail" -d 'Follow new logs as they arrive (JSON Lines with -o json)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and not __fish_seen_subcommand_from tail help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and __fish_seen_subcommand_from tail" -l filter -d 'Field=value, Field!=value, Field~regex (repeatable; all must hold), with KubeArmor\'s field names: Operation=Process, ProcessName=/usr/bin/curl, Resource~^/etc/' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and __fish_seen_subcommand_from tail" -l since -d 'Only logs at or after this: a duration back from now (30s, 10m, 1h30m, 7d) or a time (2026-12-06T08:54:00Z, 2026-12-06)' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and __fish_seen_subcommand_from tail" -l limit -d 'At most this many logs (newest last); a table shows the newest 1000 unless set' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and __fish_seen_subcommand_from tail" -s o -l output -r -f -a "table\t'Columns that fit the terminal (long values cut with …; whole values when piped)'
wide\t'Every column, whole values, even on a terminal'
json\t'JSON (JSON Lines for alerts and logs)'
yaml\t'YAML (one document per alert for alerts)'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and __fish_seen_subcommand_from tail" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and __fish_seen_subcommand_from tail" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and __fish_seen_subcommand_from tail" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and __fish_seen_subcommand_from tail" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and __fish_seen_subcommand_from tail" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and __fish_seen_subcommand_from help" -f -a "tail" -d 'Follow new logs as they arrive (JSON Lines with -o json)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand logs; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand sysdump" -s o -l output -d 'Archive to write, or a directory to write it in (default: knoxctl-sysdump-<hostname>-<UTC time>.tar.gz here)' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand sysdump" -l alerts -d 'How many of the newest alerts to include' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand sysdump" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand sysdump" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand sysdump" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand sysdump" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand sysdump" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand containers" -s o -l output -d 'Output format' -r -f -a "table\t'Columns that fit the terminal (long values cut with …; whole values when piped)'
wide\t'Every column, whole values, even on a terminal'
json\t'JSON (JSON Lines for alerts and logs)'
yaml\t'YAML (one document per alert for alerts)'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand containers" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand containers" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand containers" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand containers" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand containers" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand agent" -l config -d 'Configuration file' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand agent" -l enforcer -r -f -a "auto\t''
bpf-lsm\t''
apparmor\t''
fanotify\t''
monitor-only\t''"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand agent" -l label -d 'Extra host identity label (repeatable)' -r
complete -c knoxctl -n "__fish_knoxctl_using_subcommand agent" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand agent" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand agent" -l supervise -d 'Keep the agent running: start it as a child and restart it whenever it exits (how standalone mode runs it; records restarts in supervisor.json next to the socket)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand agent" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand agent" -s h -l help -d 'Print help'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand agent" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand oci-hook" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand oci-hook" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand oci-hook" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand oci-hook" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand oci-hook" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand completion" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand completion" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand completion" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand completion" -s h -l help -d 'Print help'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand completion" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand version" -s o -l output -r -f -a "text\t'Text for people'
json\t'JSON'"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand version" -l socket -d 'The agent\'s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -F
complete -c knoxctl -n "__fish_knoxctl_using_subcommand version" -l state-dir -d 'The agent\'s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]' -r -f -a "(__fish_complete_directories)"
complete -c knoxctl -n "__fish_knoxctl_using_subcommand version" -l no-headers -d 'Print tables without their header line'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand version" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand version" -s V -l version -d 'Print version'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and not __fish_seen_subcommand_from onboard offboard probe policy harden alerts logs sysdump containers agent oci-hook completion version help" -f -a "onboard" -d 'Install and start the knoxctl agent on this machine'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and not __fish_seen_subcommand_from onboard offboard probe policy harden alerts logs sysdump containers agent oci-hook completion version help" -f -a "offboard" -d 'Stop the agent and remove everything onboarding installed'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and not __fish_seen_subcommand_from onboard offboard probe policy harden alerts logs sysdump containers agent oci-hook completion version help" -f -a "probe" -d 'Show which enforcers work on this kernel and what each can enforce'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and not __fish_seen_subcommand_from onboard offboard probe policy harden alerts logs sysdump containers agent oci-hook completion version help" -f -a "policy" -d 'Validate, apply, list, inspect and delete policies'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and not __fish_seen_subcommand_from onboard offboard probe policy harden alerts logs sysdump containers agent oci-hook completion version help" -f -a "harden" -d 'Recommend hardening policies from compliance templates'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and not __fish_seen_subcommand_from onboard offboard probe policy harden alerts logs sysdump containers agent oci-hook completion version help" -f -a "alerts" -d 'Query and filter recorded alerts (KubeArmor format)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and not __fish_seen_subcommand_from onboard offboard probe policy harden alerts logs sysdump containers agent oci-hook completion version help" -f -a "logs" -d 'Query telemetry: the monitor\'s events that raised no alert (KubeArmor HostLog and ContainerLog), as config.yaml\'s visibility asks'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and not __fish_seen_subcommand_from onboard offboard probe policy harden alerts logs sysdump containers agent oci-hook completion version help" -f -a "sysdump" -d 'Collect a diagnostic archive for bug reports'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and not __fish_seen_subcommand_from onboard offboard probe policy harden alerts logs sysdump containers agent oci-hook completion version help" -f -a "containers" -d 'List the containers on this host and the policies that select each'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and not __fish_seen_subcommand_from onboard offboard probe policy harden alerts logs sysdump containers agent oci-hook completion version help" -f -a "agent" -d 'Run the embedded agent in the foreground'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and not __fish_seen_subcommand_from onboard offboard probe policy harden alerts logs sysdump containers agent oci-hook completion version help" -f -a "oci-hook" -d 'Report a container to the agent from an OCI runtime hook (podman)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and not __fish_seen_subcommand_from onboard offboard probe policy harden alerts logs sysdump containers agent oci-hook completion version help" -f -a "completion" -d 'Print a shell completion script'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and not __fish_seen_subcommand_from onboard offboard probe policy harden alerts logs sysdump containers agent oci-hook completion version help" -f -a "version" -d 'Print version and build information'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and not __fish_seen_subcommand_from onboard offboard probe policy harden alerts logs sysdump containers agent oci-hook completion version help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and __fish_seen_subcommand_from onboard" -f -a "vm" -d 'Onboard this virtual machine or bare-metal host'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and __fish_seen_subcommand_from offboard" -f -a "vm" -d 'Offboard this virtual machine or bare-metal host'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "validate" -d 'Check policy files against KubeArmor\'s CRD schemas and for likely mistakes'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "explain" -d 'Show, as a table, what the normalized rule set of policy files will do'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "test" -d 'Replay recorded operations against draft policies: what would they have blocked?'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "apply" -d 'Apply policies through the agent (all documents or none)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "diff" -d 'Show what apply would change, as a unified diff per policy'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "list" -d 'List applied policies'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "get" -d 'Print one applied policy'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "delete" -d 'Delete applied policies by name, by the files that define them, or all'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and __fish_seen_subcommand_from harden" -f -a "list" -d 'List the built-in hardening templates'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and __fish_seen_subcommand_from harden" -f -a "show" -d 'Show one template, or the policy it produces for a target'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and __fish_seen_subcommand_from harden" -f -a "recommend" -d 'Recommend hardening policies for this host, its containers or a root file system'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and __fish_seen_subcommand_from harden" -f -a "verify" -d 'Run templates\' verify recipes against the running agent'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and __fish_seen_subcommand_from harden" -f -a "discover" -d 'Generate least-permissive allow-list policies from recorded behaviour'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and __fish_seen_subcommand_from alerts" -f -a "tail" -d 'Follow new alerts as they arrive (JSON Lines with -o json)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and __fish_seen_subcommand_from alerts" -f -a "summary" -d 'Counts of the window\'s alerts by policy (with a per-hour sparkline), action, operation and process (--since defaults to 24h)'
complete -c knoxctl -n "__fish_knoxctl_using_subcommand help; and __fish_seen_subcommand_from logs" -f -a "tail" -d 'Follow new logs as they arrive (JSON Lines with -o json)'

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
complete -c knoxctl -n "__fish_knoxctl_using_subcommand alerts" -l filter -x -a "Timestamp= UpdatedTime= ClusterName= HostName= NamespaceName= PodName= Labels= ContainerID= ContainerName= ContainerImage= HostPPID= HostPID= PPID= PID= UID= ParentProcessName= ProcessName= PolicyName= Severity= Tags= ATags= Message= Type= Source= Operation= Resource= Data= Enforcer= Action= Result= Cwd= TTY=" -d 'Alert field'
