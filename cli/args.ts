import { parseArgs, type ParseArgsConfig } from 'node:util';

// Every `hangar` command parses its arguments here. node's parseArgs refuses `--interval -1` as
// "argument is ambiguous" (the value looks like an option), which hides the real mistake: a
// negative number. Joined as `--interval=-1`, the value reaches the command's own check, which
// names the option, what was given and what is allowed.

/** A value that is a negative number (`-1`, `-0.5`, `-.5`), not an option. */
const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/** parseArgs, with a negative number after an option that takes a value read as that value. */
export function parseCliArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  const options = config.options ?? {};
  const args = config.args ?? [];
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      joined.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    if (next !== undefined && NEGATIVE_NUMBER.test(next) && takesValue(arg, options)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return parseArgs<T>({ ...config, args: joined });
}

/** Whether `arg` is `--name` (not `--name=...`) of an option of type string. */
function takesValue(arg: string, options: NonNullable<ParseArgsConfig['options']>): boolean {
  if (!arg.startsWith('--') || arg.includes('=')) return false;
  return options[arg.slice(2)]?.type === 'string';
}
