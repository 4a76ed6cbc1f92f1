# bash completion for procd(1)                                  -*- shell-script -*-
# Installed as share/bash-completion/completions/procd.
#
# Completes commands, global and per-command options, service names (asked
# of the running supervisor with `procd status --json`, using the -c/--config
# and --socket already typed; nothing is offered when none runs) and signal
# names for `procd signal`.

_procd_commands="run start stop restart status reload signal logs events top check metrics probe exec version help"
_procd_signals="TERM HUP INT QUIT KILL USR1 USR2 WINCH ALRM CONT STOP TSTP TTIN TTOU PIPE PWR SYS URG IO PROF VTALRM XCPU XFSZ TRAP ABRT BUS FPE SEGV ILL"

# Service names of the running supervisor; silent when none answers.
_procd_services() {
    local -a args=()
    local i w
    for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
            -c | --config | --socket) args+=("$w" "${COMP_WORDS[i + 1]}"); ((i++)) ;;
            --config=* | --socket=*) args+=("$w") ;;
        esac
    done
    # `status --json` is one compact JSON document; service objects follow
    # "services":[ and each has a "name".
    "${COMP_WORDS[0]}" "${args[@]}" status --json 2>/dev/null |
        sed -n 's/.*"services":\[//p' |
        grep -o '"name": *"[^"]*"' |
        sed 's/.*"\([^"]*\)"$/\1/'
}

_procd() {
    local cur prev words cword
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    # Values of options.
    case $prev in
        -c | --config)
            COMPREPLY=($(compgen -f -- "$cur"))
            compopt -o filenames 2>/dev/null
            return ;;
        --socket)
            COMPREPLY=($(compgen -f -- "$cur"))
            compopt -o filenames 2>/dev/null
            return ;;
        -n | --lines | --rewrite | --timeout)
            return ;;
    esac

    # Find the command (first word that is not a global option or its value).
    local cmd="" cmd_index=0 i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            -c | --config | --socket) ((i++)) ;;
            -*) ;;
            *) cmd=${words[i]}; cmd_index=$i; break ;;
        esac
    done

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "-c --config --socket -h --help --help-all" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$_procd_commands" -- "$cur"))
        fi
        return
    fi

    # After `exec ... --` everything is the child's command line.
    if [[ $cmd == exec ]]; then
        for ((i = cmd_index + 1; i < cword; i++)); do
            if [[ ${words[i]} == -- ]]; then
                if ((i + 1 == cword)); then
                    COMPREPLY=($(compgen -c -- "$cur"))
                else
                    COMPREPLY=($(compgen -f -- "$cur"))
                    compopt -o filenames 2>/dev/null
                fi
                return
            fi
        done
        COMPREPLY=($(compgen -W "--kill-group --rewrite --wait-all -- -h --help" -- "$cur"))
        return
    fi

    local opts="-h --help"
    case $cmd in
        start) opts+=" --keep" ;;
        restart) opts+=" --all --rolling" ;;
        status) opts+=" --json --wide --watch -w" ;;
        events) opts+=" --json --service" ;;
        logs) opts+=" -f --follow -n --lines --raw --stream --since --no-timestamps" ;;
        probe) opts+=" --timeout" ;;
        top) opts+=" --http --token-file" ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi

    case $cmd in
        start | stop | restart | status | logs)
            COMPREPLY=($(compgen -W "$(_procd_services)" -- "$cur")) ;;
        signal)
            # First argument: the signal; then service names.
            local n=0
            for ((i = cmd_index + 1; i < cword; i++)); do
                [[ ${words[i]} == -* ]] || ((n++))
            done
            if ((n == 0)); then
                local s sigs=""
                for s in $_procd_signals; do sigs+=" $s SIG$s"; done
                COMPREPLY=($(compgen -W "$sigs" -- "${cur^^}"))
            else
                COMPREPLY=($(compgen -W "$(_procd_services)" -- "$cur"))
            fi ;;
        help)
            ((cword == cmd_index + 1)) && COMPREPLY=($(compgen -W "$_procd_commands" -- "$cur")) ;;
    esac
}

complete -F _procd procd
