# fish completion for procd(1). Installed as
# share/fish/vendor_completions.d/procd.fish.
#
# Completes commands, global and per-command options, service names (asked
# of the running supervisor with `procd status --json`, using the
# -c/--config and --socket already typed; nothing when none runs) and
# signal names for `procd signal`.

set -l __procd_commands run start stop restart status reload signal logs events top check metrics probe exec version help

function __procd_services
    set -l tokens (commandline -opc)
    command -q $tokens[1]; or return 0
    set -l args
    set -l i 2
    while test $i -le (count $tokens)
        switch $tokens[$i]
            case -c --config --socket
                set -a args $tokens[$i]
                set i (math $i + 1)
                test $i -le (count $tokens); and set -a args $tokens[$i]
            case '--config=*' '--socket=*'
                set -a args $tokens[$i]
        end
        set i (math $i + 1)
    end
    $tokens[1] $args status --json 2>/dev/null \
        | sed -n 's/.*"services":\[//p' \
        | grep -o '"name": *"[^"]*"' \
        | sed 's/.*"\([^"]*\)"$/\1/'
end

# True while the signal argument of `procd signal` is being typed.
function __procd_signal_needs_sig
    set -l tokens (commandline -opc)
    set -l seen 0
    set -l n 0
    set -l skip 0
    for t in $tokens[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        if test $seen = 0
            switch $t
                case -c --config --socket
                    set skip 1
                case signal
                    set seen 1
            end
        else if not string match -q -- '-*' $t
            set n (math $n + 1)
        end
    end
    test $seen = 1 -a $n = 0
end

complete -c procd -f

# Global options.
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -s c -l config -r -F -d 'Config file'
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -l socket -r -F -d 'Control socket path'
complete -c procd -s h -l help -d 'Show help'
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -l help-all -d 'Show help for every command'

# Commands.
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -a run -d 'Run the supervisor in the foreground'
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -a start -d 'Start the supervisor, or services by name'
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -a stop -d 'Stop services, or shut the supervisor down'
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -a restart -d 'Stop then start services'
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -a status -d 'Show services'
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -a reload -d 'Re-read the config file'
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -a signal -d "Send a signal to services' process groups"
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -a logs -d 'Recent output lines of services'
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -a events -d 'Stream state changes'
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -a check -d 'Validate the config file'
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -a top -d 'Live terminal UI'
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -a metrics -d 'Prometheus text exposition'
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -a probe -d 'HTTP GET: exit 0 on 2xx'
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -a exec -d 'Container entrypoint for one child'
complete -c procd -n "__fish_seen_subcommand_from top" -l http -x -d "Watch through procd's HTTP endpoint, http://HOST:PORT"
complete -c procd -n "__fish_seen_subcommand_from top" -l token-file -r -F -d 'With --http: the bearer token for the verbs'
complete -c procd -n "__fish_seen_subcommand_from probe" -l timeout -x -d 'Milliseconds for the whole request'
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -a version -d 'Version and build information'
complete -c procd -n "not __fish_seen_subcommand_from $__procd_commands" -a help -d 'Help for a command'

# Per-command options.
complete -c procd -n "__fish_seen_subcommand_from restart" -l all -d 'Restart every service'
complete -c procd -n "__fish_seen_subcommand_from restart" -l rolling -d 'One instance at a time, each once the previous is ready'
complete -c procd -n "__fish_seen_subcommand_from start" -l keep -d 'Leave the supervisor running when a service fails to start'
complete -c procd -n "__fish_seen_subcommand_from status" -l json -d 'One JSON document'
complete -c procd -n "__fish_seen_subcommand_from events" -l json -d 'One JSON object per line'
complete -c procd -n "__fish_seen_subcommand_from status" -l wide -d 'Every column uncut'
complete -c procd -n "__fish_seen_subcommand_from status" -s w -l watch -d 'Redraw on every change'
complete -c procd -n "__fish_seen_subcommand_from events" -l service -x -a '(__procd_services)' -d 'Only this service'
complete -c procd -n "__fish_seen_subcommand_from logs" -s f -l follow -d 'Keep printing new lines'
complete -c procd -n "__fish_seen_subcommand_from logs" -s n -l lines -x -d 'How many recent lines (default 100)'
complete -c procd -n "__fish_seen_subcommand_from logs" -l raw -d 'Print control characters as they are, even on a terminal'
complete -c procd -n "__fish_seen_subcommand_from logs" -l stream -x -a 'out err procd out,err' -d 'Only these streams (comma list)'
complete -c procd -n "__fish_seen_subcommand_from logs" -l since -x -d 'Only lines since WHEN (90s, 10m, 2h, 1d, a UTC time)'
complete -c procd -n "__fish_seen_subcommand_from logs" -l no-timestamps -d 'Leave the time out of each line'
complete -c procd -n "__fish_seen_subcommand_from exec; and not __fish_seen_argument -- --" -l kill-group -d "Forward signals to the child's process group"
complete -c procd -n "__fish_seen_subcommand_from exec; and not __fish_seen_argument -- --" -l rewrite -x -d 'Rewrite a signal, FROM:TO (e.g. TERM:QUIT)'
complete -c procd -n "__fish_seen_subcommand_from exec; and not __fish_seen_argument -- --" -l wait-all -d 'Wait for remaining descendants'
complete -c procd -n "__fish_seen_subcommand_from exec" -a '(__fish_complete_subcommand --fcs-skip=3)'
complete -c procd -n "__fish_seen_subcommand_from help" -a "$__procd_commands"

# Service names and signals.
complete -c procd -n "__fish_seen_subcommand_from start stop restart status logs" -a '(__procd_services)' -d Service
complete -c procd -n "__fish_seen_subcommand_from signal; and __procd_signal_needs_sig" -a 'TERM HUP INT QUIT KILL USR1 USR2 WINCH ALRM CONT STOP TSTP TTIN TTOU PIPE PWR SYS URG IO PROF VTALRM XCPU XFSZ TRAP ABRT BUS FPE SEGV ILL SIGTERM SIGHUP SIGINT SIGQUIT SIGKILL SIGUSR1 SIGUSR2 SIGWINCH' -d Signal
complete -c procd -n "__fish_seen_subcommand_from signal; and not __procd_signal_needs_sig" -a '(__procd_services)' -d Service
