# bash completion for subproc(1); `make install` puts it in
# $(PREFIX)/share/bash-completion/completions/subproc, where bash-completion finds it.
#
# The options of each subcommand are read from `subproc COMMAND --help`, so the completion
# always matches the installed command. After the options come the program (a command name)
# and its arguments (file names).

_subproc_opts()
{
    "${COMP_WORDS[0]}" "$1" --help 2>/dev/null |
        sed -n 's/^ *\(-[A-Za-z], \)\{0,1\}\(--[a-z][a-z-]*\).*/\2/p'
}

# The options of that subcommand that take a value ("-t, --timeout=DURATION"): both names.
_subproc_argopts()
{
    "${COMP_WORDS[0]}" "$1" --help 2>/dev/null |
        sed -n 's/^ *\(-[A-Za-z]\)\{0,1\}\(, \)\{0,1\}\(--[a-z][a-z-]*\)=.*/\1 \3/p'
}

_subproc()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local cmd= i w
    COMPREPLY=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        run | pipe | par) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W 'run pipe par --help --version' -- "$cur"))
        return
    fi
    # "--opt=value": bash splits at '=' (COMP_WORDBREAKS); the option is the word before it.
    if [[ $prev == = && $COMP_CWORD -ge 2 ]]; then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    elif [[ $cur == =* ]]; then
        cur=${cur#=}
    fi
    case $prev in
    -s | --signal)
        COMPREPLY=($(compgen -W "$(kill -l | tr -s '[:space:]' '\n' | sed -n 's/^SIG//p')" -- "$cur"))
        return ;;
    -C | --chdir)
        COMPREPLY=($(compgen -d -- "$cur"))
        return ;;
    --stdin | --stdout | --stderr | --json | --sshloginfile | --slf)
        COMPREPLY=($(compgen -f -- "$cur"))
        return ;;
    esac
    local argopts=" $(_subproc_argopts "$cmd" | tr '\n' ' ') "
    # Any other option's value: nothing to offer.
    [[ $prev == -* && $argopts == *" $prev "* ]] && return
    # The program is the first word after the subcommand that is neither an option nor the
    # value of one; after it, file names.
    for ((w = i + 1; w < COMP_CWORD; w++)); do
        case ${COMP_WORDS[w]} in
        --) ((w + 1 < COMP_CWORD)) && { COMPREPLY=($(compgen -f -- "$cur")); return; }
            COMPREPLY=($(compgen -c -- "$cur")); return ;;
        =) ((w++)) ;;
        -*) [[ $argopts == *" ${COMP_WORDS[w]} "* && ${COMP_WORDS[w + 1]} != = ]] && ((w++)) ;;
        *) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        esac
    done
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_subproc_opts "$cmd")" -- "$cur"))
        [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
    else
        COMPREPLY=($(compgen -c -- "$cur"))
    fi
}
complete -o default -F _subproc subproc
