/** Where a command writes: lines to stdout and stderr. Tests capture them. */
export interface CliIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

export const processIo: CliIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};
