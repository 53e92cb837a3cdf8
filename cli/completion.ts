// `pgaf completion`: a bash completion script for both names, pgaf and pg_autoctl. The
// script asks the program itself (`--get-yargs-completions`, handled by yargs) for the
// commands and options that fit the words typed so far.
import type { Argv } from 'yargs';

export function bashCompletionScript(): string {
  return `###-begin-pgaf-completions-###
# bash completion for pgaf and pg_autoctl
# Installation: pgaf completion >> ~/.bashrc   (or: source <(pgaf completion))
_pgaf_completions()
{
    local cur_word args type_list
    cur_word="\${COMP_WORDS[COMP_CWORD]}"
    args=("\${COMP_WORDS[@]}")
    mapfile -t type_list < <("\${COMP_WORDS[0]}" --get-yargs-completions "\${args[@]}" 2>/dev/null)
    mapfile -t COMPREPLY < <(compgen -W "$( printf '%q ' "\${type_list[@]}" )" -- "\${cur_word}")
    return 0
}
complete -o bashdefault -o default -F _pgaf_completions pgaf
complete -o bashdefault -o default -F _pgaf_completions pg_autoctl
###-end-pgaf-completions-###
`;
}

export function registerCompletion(cli: Argv): Argv {
  return cli
    .completion('__completion', false)
    .command('completion', 'print a bash completion script: source <(pgaf completion)', (y) => y, () => {
      process.stdout.write(bashCompletionScript());
    });
}
