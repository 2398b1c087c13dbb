
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'knoxctl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'knoxctl'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'knoxctl' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('onboard', 'onboard', [CompletionResultType]::ParameterValue, 'Install and start the knoxctl agent on this machine')
            [CompletionResult]::new('offboard', 'offboard', [CompletionResultType]::ParameterValue, 'Stop the agent and remove everything onboarding installed')
            [CompletionResult]::new('probe', 'probe', [CompletionResultType]::ParameterValue, 'Show which enforcers work on this kernel and what each can enforce')
            [CompletionResult]::new('policy', 'policy', [CompletionResultType]::ParameterValue, 'Validate, apply, list, inspect and delete policies')
            [CompletionResult]::new('harden', 'harden', [CompletionResultType]::ParameterValue, 'Recommend hardening policies from compliance templates')
            [CompletionResult]::new('alerts', 'alerts', [CompletionResultType]::ParameterValue, 'Query and filter recorded alerts (KubeArmor format)')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Query telemetry: the monitor''s events that raised no alert (KubeArmor HostLog and ContainerLog), as config.yaml''s visibility asks')
            [CompletionResult]::new('sysdump', 'sysdump', [CompletionResultType]::ParameterValue, 'Collect a diagnostic archive for bug reports')
            [CompletionResult]::new('containers', 'containers', [CompletionResultType]::ParameterValue, 'List the containers on this host and the policies that select each')
            [CompletionResult]::new('agent', 'agent', [CompletionResultType]::ParameterValue, 'Run the embedded agent in the foreground')
            [CompletionResult]::new('oci-hook', 'oci-hook', [CompletionResultType]::ParameterValue, 'Report a container to the agent from an OCI runtime hook (podman)')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('version', 'version', [CompletionResultType]::ParameterValue, 'Print version and build information')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'knoxctl;onboard' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('vm', 'vm', [CompletionResultType]::ParameterValue, 'Onboard this virtual machine or bare-metal host')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'knoxctl;onboard;vm' {
            [CompletionResult]::new('--enforcer', '--enforcer', [CompletionResultType]::ParameterName, 'Enforcer to use; auto probes the kernel and picks the strongest that works')
            [CompletionResult]::new('--cluster-name', '--cluster-name', [CompletionResultType]::ParameterName, 'Cluster name reported in alerts (ClusterName)')
            [CompletionResult]::new('--label', '--label', [CompletionResultType]::ParameterName, 'Extra host identity label matched by nodeSelector (repeatable)')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'How to run the agent; default: systemd when systemd is PID 1, else standalone')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the plan and change nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;onboard;help' {
            [CompletionResult]::new('vm', 'vm', [CompletionResultType]::ParameterValue, 'Onboard this virtual machine or bare-metal host')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'knoxctl;onboard;help;vm' {
            break
        }
        'knoxctl;onboard;help;help' {
            break
        }
        'knoxctl;offboard' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('vm', 'vm', [CompletionResultType]::ParameterValue, 'Offboard this virtual machine or bare-metal host')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'knoxctl;offboard;vm' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--purge', '--purge', [CompletionResultType]::ParameterName, 'Also remove applied policies, recorded alerts and the agent''s log')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;offboard;help' {
            [CompletionResult]::new('vm', 'vm', [CompletionResultType]::ParameterValue, 'Offboard this virtual machine or bare-metal host')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'knoxctl;offboard;help;vm' {
            break
        }
        'knoxctl;offboard;help;help' {
            break
        }
        'knoxctl;probe' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;policy' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check policy files against KubeArmor''s CRD schemas and for likely mistakes')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Show, as a table, what the normalized rule set of policy files will do')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Replay recorded operations against draft policies: what would they have blocked?')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Apply policies through the agent (all documents or none)')
            [CompletionResult]::new('diff', 'diff', [CompletionResultType]::ParameterValue, 'Show what apply would change, as a unified diff per policy')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List applied policies')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print one applied policy')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete applied policies by name, by the files that define them, or all')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'knoxctl;policy;validate' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable')
            [CompletionResult]::new('--filename', '--filename', [CompletionResultType]::ParameterName, 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Treat warnings (unknown fields, likely mistakes) as errors')
            [CompletionResult]::new('--skip-other-kinds', '--skip-other-kinds', [CompletionResultType]::ParameterName, 'Skip documents that are not KubeArmor policies (a Deployment next to the policies)')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;policy;explain' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable')
            [CompletionResult]::new('--filename', '--filename', [CompletionResultType]::ParameterName, 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable')
            [CompletionResult]::new('--default-posture', '--default-posture', [CompletionResultType]::ParameterName, 'What happens to operations no Allow rule permits, in allow-list mode')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--skip-other-kinds', '--skip-other-kinds', [CompletionResultType]::ParameterName, 'Skip documents that are not KubeArmor policies')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;policy;test' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable')
            [CompletionResult]::new('--filename', '--filename', [CompletionResultType]::ParameterName, 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Replay only records from this time on: a duration back from now (30m, 2h, 7d) or an RFC 3339 time or date')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Read records from a KubeArmor JSON Lines file (- for standard input) instead of the telemetry store')
            [CompletionResult]::new('--default-posture', '--default-posture', [CompletionResultType]::ParameterName, 'What operations no Allow rule permits get, in allow-list mode')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--skip-other-kinds', '--skip-other-kinds', [CompletionResultType]::ParameterName, 'Skip documents that are not KubeArmor policies')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;policy;apply' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable')
            [CompletionResult]::new('--filename', '--filename', [CompletionResultType]::ParameterName, 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--skip-other-kinds', '--skip-other-kinds', [CompletionResultType]::ParameterName, 'Skip documents that are not KubeArmor policies (other manifests in a directory)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Say what would be created, configured or left unchanged; change nothing')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;policy;diff' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable')
            [CompletionResult]::new('--filename', '--filename', [CompletionResultType]::ParameterName, 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries skipped), or - for standard input; repeatable')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--skip-other-kinds', '--skip-other-kinds', [CompletionResultType]::ParameterName, 'Skip documents that are not KubeArmor policies (other manifests in a directory)')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;policy;list' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;policy;get' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;policy;delete' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Delete the policies defined in these files (or directories, or - for stdin)')
            [CompletionResult]::new('--filename', '--filename', [CompletionResultType]::ParameterName, 'Delete the policies defined in these files (or directories, or - for stdin)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Delete the policies defined in these files (or directories, or - for stdin)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Delete every applied policy')
            [CompletionResult]::new('--ignore-not-found', '--ignore-not-found', [CompletionResultType]::ParameterName, 'A policy that is not applied is not an error')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Say what would be deleted; change nothing')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;policy;help' {
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check policy files against KubeArmor''s CRD schemas and for likely mistakes')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Show, as a table, what the normalized rule set of policy files will do')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Replay recorded operations against draft policies: what would they have blocked?')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Apply policies through the agent (all documents or none)')
            [CompletionResult]::new('diff', 'diff', [CompletionResultType]::ParameterValue, 'Show what apply would change, as a unified diff per policy')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List applied policies')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print one applied policy')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete applied policies by name, by the files that define them, or all')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'knoxctl;policy;help;validate' {
            break
        }
        'knoxctl;policy;help;explain' {
            break
        }
        'knoxctl;policy;help;test' {
            break
        }
        'knoxctl;policy;help;apply' {
            break
        }
        'knoxctl;policy;help;diff' {
            break
        }
        'knoxctl;policy;help;list' {
            break
        }
        'knoxctl;policy;help;get' {
            break
        }
        'knoxctl;policy;help;delete' {
            break
        }
        'knoxctl;policy;help;help' {
            break
        }
        'knoxctl;harden' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the built-in hardening templates')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one template, or the policy it produces for a target')
            [CompletionResult]::new('recommend', 'recommend', [CompletionResultType]::ParameterValue, 'Recommend hardening policies for this host, its containers or a root file system')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Run templates'' verify recipes against the running agent')
            [CompletionResult]::new('discover', 'discover', [CompletionResultType]::ParameterValue, 'Generate least-permissive allow-list policies from recorded behaviour')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'knoxctl;harden;list' {
            [CompletionResult]::new('--framework', '--framework', [CompletionResultType]::ParameterName, 'Only templates mapped to this framework (repeatable): mitre-attack, nist-800-53, nist-800-190, cis-debian12, cis-controls, cis-docker, stig-ubuntu2204, stig-rhel9, pci-dss, or a family (mitre, nist, cis, stig, pci)')
            [CompletionResult]::new('--control', '--control', [CompletionResultType]::ParameterName, 'Only templates mapped to this control (repeatable): CM-7(4), T1053, 11.5.2, UBTU-22-654055')
            [CompletionResult]::new('--category', '--category', [CompletionResultType]::ParameterName, 'Only templates of this category (repeatable), e.g. package-managers, ssh')
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'Only templates for hosts or for containers')
            [CompletionResult]::new('--templates', '--templates', [CompletionResultType]::ParameterName, 'Also import the templates of a kubearmor/policy-templates tree (repeatable): a directory, a .zip of one (a release archive), or an http(s) URL of such a zip (cached in the user''s cache directory, revalidated, used offline when the download fails); every problem is reported as FILE:LINE with what was repaired or why it was skipped')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--applicable', '--applicable', [CompletionResultType]::ParameterName, 'Only templates whose preconditions hold on this host')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;harden;show' {
            [CompletionResult]::new('--for', '--for', [CompletionResultType]::ParameterName, 'Print the policy it produces for `host` (this host) or `container=NAME` (a container the agent knows; its paths are resolved in the container''s root)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;harden;recommend' {
            [CompletionResult]::new('--container', '--container', [CompletionResultType]::ParameterName, 'A container the agent knows, by name (repeatable); with --rootfs, the name the policies select')
            [CompletionResult]::new('--rootfs', '--rootfs', [CompletionResultType]::ParameterName, 'Evaluate on this root file system instead of the live target')
            [CompletionResult]::new('--framework', '--framework', [CompletionResultType]::ParameterName, 'Only templates mapped to this framework (repeatable): mitre-attack, nist-800-53, nist-800-190, cis-debian12, cis-controls, cis-docker, stig-ubuntu2204, stig-rhel9, pci-dss, or a family (mitre, nist, cis, stig, pci)')
            [CompletionResult]::new('--control', '--control', [CompletionResultType]::ParameterName, 'Only templates mapped to this control (repeatable): CM-7(4), T1053, 11.5.2, UBTU-22-654055')
            [CompletionResult]::new('--category', '--category', [CompletionResultType]::ParameterName, 'Only templates of this category (repeatable), e.g. package-managers, ssh')
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'Only templates for hosts or for containers')
            [CompletionResult]::new('--templates', '--templates', [CompletionResultType]::ParameterName, 'Also import the templates of a kubearmor/policy-templates tree (repeatable): a directory, a .zip of one (a release archive), or an http(s) URL of such a zip (cached in the user''s cache directory, revalidated, used offline when the download fails); every problem is reported as FILE:LINE with what was repaired or why it was skipped')
            [CompletionResult]::new('--severity-min', '--severity-min', [CompletionResultType]::ParameterName, 'Only templates of at least this severity (1-10)')
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, 'Audit (default), or Block where it is safe and enforceable here')
            [CompletionResult]::new('--out-dir', '--out-dir', [CompletionResultType]::ParameterName, 'Write the policies into this directory')
            [CompletionResult]::new('--outdir', '--outdir', [CompletionResultType]::ParameterName, 'Write the policies into this directory')
            [CompletionResult]::new('--report', '--report', [CompletionResultType]::ParameterName, 'Write the coverage report: FILE.md, FILE.html or FILE.json')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Replay the stored alerts of harden policies since then (30m, 24h, 7d, or a time): a template whose policy alerted stays Audit with the count and the programs')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'This host (the default target)')
            [CompletionResult]::new('--all-containers', '--all-containers', [CompletionResultType]::ParameterName, 'Every container the agent knows')
            [CompletionResult]::new('--merge', '--merge', [CompletionResultType]::ParameterName, 'One policy per target instead of one per template')
            [CompletionResult]::new('--apply', '--apply', [CompletionResultType]::ParameterName, 'Apply the policies through the agent (all or none)')
            [CompletionResult]::new('--diff', '--diff', [CompletionResultType]::ParameterName, 'Show what apply would change against the applied policies')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'With --apply: ask the agent what would change, change nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask which policies to apply')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask which policies to apply')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;harden;verify' {
            [CompletionResult]::new('--container', '--container', [CompletionResultType]::ParameterName, 'Verify container templates inside this container (one the agent knows)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for each alert, in seconds')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every template of the target''s scope whose preconditions hold there')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;harden;discover' {
            [CompletionResult]::new('--container', '--container', [CompletionResultType]::ParameterName, 'Learn this container''s behaviour (its ContainerName in the records)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Learn only from records from this time on: a duration back from now (30m, 2h, 7d) or an RFC 3339 time or date')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Read records from a KubeArmor JSON Lines file (- for standard input) instead of the telemetry store')
            [CompletionResult]::new('--learn', '--learn', [CompletionResultType]::ParameterName, 'Record first: wait this long (30s, 10m, 2h) while the workload runs under the agent, then learn from what the telemetry store recorded in that time')
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'Which operations to learn (comma-separated)')
            [CompletionResult]::new('--dir-threshold', '--dir-threshold', [CompletionResultType]::ParameterName, 'Distinct files opened in one directory from which the directory is allowed')
            [CompletionResult]::new('--posture', '--posture', [CompletionResultType]::ParameterName, 'The default posture the policy is meant for (recorded in its annotations)')
            [CompletionResult]::new('--out-dir', '--out-dir', [CompletionResultType]::ParameterName, 'Write the policy and report.md into this directory instead')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Learn the host''s behaviour (records without a container); the default')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;harden;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the built-in hardening templates')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one template, or the policy it produces for a target')
            [CompletionResult]::new('recommend', 'recommend', [CompletionResultType]::ParameterValue, 'Recommend hardening policies for this host, its containers or a root file system')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Run templates'' verify recipes against the running agent')
            [CompletionResult]::new('discover', 'discover', [CompletionResultType]::ParameterValue, 'Generate least-permissive allow-list policies from recorded behaviour')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'knoxctl;harden;help;list' {
            break
        }
        'knoxctl;harden;help;show' {
            break
        }
        'knoxctl;harden;help;recommend' {
            break
        }
        'knoxctl;harden;help;verify' {
            break
        }
        'knoxctl;harden;help;discover' {
            break
        }
        'knoxctl;harden;help;help' {
            break
        }
        'knoxctl;alerts' {
            [CompletionResult]::new('--filter', '--filter', [CompletionResultType]::ParameterName, 'Field=value, Field!=value, Field~regex, Field>=N (repeatable; all must hold)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only alerts at or after this: a duration back from now (30s, 10m, 1h30m, 7d) or a time (2026-12-06T08:54:00Z, 2026-12-06 09:54:00+01:00, 2026-12-06); summary: 24h')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Only alerts at or before this (same forms as --since)')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most this many alerts (newest last); a table shows the newest 1000 unless set')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Filter KubeArmor-format JSON Lines from a file (or - for stdin) instead of the store')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('tail', 'tail', [CompletionResultType]::ParameterValue, 'Follow new alerts as they arrive (JSON Lines with -o json)')
            [CompletionResult]::new('summary', 'summary', [CompletionResultType]::ParameterValue, 'Counts of the window''s alerts by policy (with a per-hour sparkline), action, operation and process (--since defaults to 24h)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'knoxctl;alerts;tail' {
            [CompletionResult]::new('--filter', '--filter', [CompletionResultType]::ParameterName, 'Field=value, Field!=value, Field~regex, Field>=N (repeatable; all must hold)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only alerts at or after this: a duration back from now (30s, 10m, 1h30m, 7d) or a time (2026-12-06T08:54:00Z, 2026-12-06 09:54:00+01:00, 2026-12-06); summary: 24h')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Only alerts at or before this (same forms as --since)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;alerts;summary' {
            [CompletionResult]::new('--filter', '--filter', [CompletionResultType]::ParameterName, 'Field=value, Field!=value, Field~regex, Field>=N (repeatable; all must hold)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only alerts at or after this: a duration back from now (30s, 10m, 1h30m, 7d) or a time (2026-12-06T08:54:00Z, 2026-12-06 09:54:00+01:00, 2026-12-06); summary: 24h')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Only alerts at or before this (same forms as --since)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;alerts;help' {
            [CompletionResult]::new('tail', 'tail', [CompletionResultType]::ParameterValue, 'Follow new alerts as they arrive (JSON Lines with -o json)')
            [CompletionResult]::new('summary', 'summary', [CompletionResultType]::ParameterValue, 'Counts of the window''s alerts by policy (with a per-hour sparkline), action, operation and process (--since defaults to 24h)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'knoxctl;alerts;help;tail' {
            break
        }
        'knoxctl;alerts;help;summary' {
            break
        }
        'knoxctl;alerts;help;help' {
            break
        }
        'knoxctl;logs' {
            [CompletionResult]::new('--filter', '--filter', [CompletionResultType]::ParameterName, 'Field=value, Field!=value, Field~regex (repeatable; all must hold), with KubeArmor''s field names: Operation=Process, ProcessName=/usr/bin/curl, Resource~^/etc/')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only logs at or after this: a duration back from now (30s, 10m, 1h30m, 7d) or a time (2026-12-06T08:54:00Z, 2026-12-06)')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Only logs at or before this (same forms as --since)')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most this many logs (newest last); a table shows the newest 1000 unless set')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Filter KubeArmor HostLog/ContainerLog JSON Lines from a file (or - for stdin) instead of the store')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('tail', 'tail', [CompletionResultType]::ParameterValue, 'Follow new logs as they arrive (JSON Lines with -o json)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'knoxctl;logs;tail' {
            [CompletionResult]::new('--filter', '--filter', [CompletionResultType]::ParameterName, 'Field=value, Field!=value, Field~regex (repeatable; all must hold), with KubeArmor''s field names: Operation=Process, ProcessName=/usr/bin/curl, Resource~^/etc/')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only logs at or after this: a duration back from now (30s, 10m, 1h30m, 7d) or a time (2026-12-06T08:54:00Z, 2026-12-06)')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most this many logs (newest last); a table shows the newest 1000 unless set')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;logs;help' {
            [CompletionResult]::new('tail', 'tail', [CompletionResultType]::ParameterValue, 'Follow new logs as they arrive (JSON Lines with -o json)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'knoxctl;logs;help;tail' {
            break
        }
        'knoxctl;logs;help;help' {
            break
        }
        'knoxctl;sysdump' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Archive to write, or a directory to write it in (default: knoxctl-sysdump-<hostname>-<UTC time>.tar.gz here)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Archive to write, or a directory to write it in (default: knoxctl-sysdump-<hostname>-<UTC time>.tar.gz here)')
            [CompletionResult]::new('--alerts', '--alerts', [CompletionResultType]::ParameterName, 'How many of the newest alerts to include')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;containers' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;agent' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file')
            [CompletionResult]::new('--enforcer', '--enforcer', [CompletionResultType]::ParameterName, 'enforcer')
            [CompletionResult]::new('--label', '--label', [CompletionResultType]::ParameterName, 'Extra host identity label (repeatable)')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--supervise', '--supervise', [CompletionResultType]::ParameterName, 'Keep the agent running: start it as a child and restart it whenever it exits (how standalone mode runs it; records restarts in supervisor.json next to the socket)')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;oci-hook' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;completion' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;version' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The agent''s API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The agent''s state directory: applied policies and the alert store [default: /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]')
            [CompletionResult]::new('--no-headers', '--no-headers', [CompletionResultType]::ParameterName, 'Print tables without their header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'knoxctl;help' {
            [CompletionResult]::new('onboard', 'onboard', [CompletionResultType]::ParameterValue, 'Install and start the knoxctl agent on this machine')
            [CompletionResult]::new('offboard', 'offboard', [CompletionResultType]::ParameterValue, 'Stop the agent and remove everything onboarding installed')
            [CompletionResult]::new('probe', 'probe', [CompletionResultType]::ParameterValue, 'Show which enforcers work on this kernel and what each can enforce')
            [CompletionResult]::new('policy', 'policy', [CompletionResultType]::ParameterValue, 'Validate, apply, list, inspect and delete policies')
            [CompletionResult]::new('harden', 'harden', [CompletionResultType]::ParameterValue, 'Recommend hardening policies from compliance templates')
            [CompletionResult]::new('alerts', 'alerts', [CompletionResultType]::ParameterValue, 'Query and filter recorded alerts (KubeArmor format)')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Query telemetry: the monitor''s events that raised no alert (KubeArmor HostLog and ContainerLog), as config.yaml''s visibility asks')
            [CompletionResult]::new('sysdump', 'sysdump', [CompletionResultType]::ParameterValue, 'Collect a diagnostic archive for bug reports')
            [CompletionResult]::new('containers', 'containers', [CompletionResultType]::ParameterValue, 'List the containers on this host and the policies that select each')
            [CompletionResult]::new('agent', 'agent', [CompletionResultType]::ParameterValue, 'Run the embedded agent in the foreground')
            [CompletionResult]::new('oci-hook', 'oci-hook', [CompletionResultType]::ParameterValue, 'Report a container to the agent from an OCI runtime hook (podman)')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('version', 'version', [CompletionResultType]::ParameterValue, 'Print version and build information')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'knoxctl;help;onboard' {
            [CompletionResult]::new('vm', 'vm', [CompletionResultType]::ParameterValue, 'Onboard this virtual machine or bare-metal host')
            break
        }
        'knoxctl;help;onboard;vm' {
            break
        }
        'knoxctl;help;offboard' {
            [CompletionResult]::new('vm', 'vm', [CompletionResultType]::ParameterValue, 'Offboard this virtual machine or bare-metal host')
            break
        }
        'knoxctl;help;offboard;vm' {
            break
        }
        'knoxctl;help;probe' {
            break
        }
        'knoxctl;help;policy' {
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check policy files against KubeArmor''s CRD schemas and for likely mistakes')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Show, as a table, what the normalized rule set of policy files will do')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Replay recorded operations against draft policies: what would they have blocked?')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Apply policies through the agent (all documents or none)')
            [CompletionResult]::new('diff', 'diff', [CompletionResultType]::ParameterValue, 'Show what apply would change, as a unified diff per policy')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List applied policies')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print one applied policy')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete applied policies by name, by the files that define them, or all')
            break
        }
        'knoxctl;help;policy;validate' {
            break
        }
        'knoxctl;help;policy;explain' {
            break
        }
        'knoxctl;help;policy;test' {
            break
        }
        'knoxctl;help;policy;apply' {
            break
        }
        'knoxctl;help;policy;diff' {
            break
        }
        'knoxctl;help;policy;list' {
            break
        }
        'knoxctl;help;policy;get' {
            break
        }
        'knoxctl;help;policy;delete' {
            break
        }
        'knoxctl;help;harden' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the built-in hardening templates')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one template, or the policy it produces for a target')
            [CompletionResult]::new('recommend', 'recommend', [CompletionResultType]::ParameterValue, 'Recommend hardening policies for this host, its containers or a root file system')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Run templates'' verify recipes against the running agent')
            [CompletionResult]::new('discover', 'discover', [CompletionResultType]::ParameterValue, 'Generate least-permissive allow-list policies from recorded behaviour')
            break
        }
        'knoxctl;help;harden;list' {
            break
        }
        'knoxctl;help;harden;show' {
            break
        }
        'knoxctl;help;harden;recommend' {
            break
        }
        'knoxctl;help;harden;verify' {
            break
        }
        'knoxctl;help;harden;discover' {
            break
        }
        'knoxctl;help;alerts' {
            [CompletionResult]::new('tail', 'tail', [CompletionResultType]::ParameterValue, 'Follow new alerts as they arrive (JSON Lines with -o json)')
            [CompletionResult]::new('summary', 'summary', [CompletionResultType]::ParameterValue, 'Counts of the window''s alerts by policy (with a per-hour sparkline), action, operation and process (--since defaults to 24h)')
            break
        }
        'knoxctl;help;alerts;tail' {
            break
        }
        'knoxctl;help;alerts;summary' {
            break
        }
        'knoxctl;help;logs' {
            [CompletionResult]::new('tail', 'tail', [CompletionResultType]::ParameterValue, 'Follow new logs as they arrive (JSON Lines with -o json)')
            break
        }
        'knoxctl;help;logs;tail' {
            break
        }
        'knoxctl;help;sysdump' {
            break
        }
        'knoxctl;help;containers' {
            break
        }
        'knoxctl;help;agent' {
            break
        }
        'knoxctl;help;oci-hook' {
            break
        }
        'knoxctl;help;completion' {
            break
        }
        'knoxctl;help;version' {
            break
        }
        'knoxctl;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
