import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { STACK_FD_ENV, STACK_PIPE_FD } from './stack-pipe.js';

// A real child process holding the pipe as the local runtime hands it over (fd 3); this process
// plays the stack. The child runs the built module (npm test's pretest builds dist/).

const MODULE = pathToFileURL(path.resolve('dist/core/stack-pipe.js')).href;

/** The child's first line (watching or not), then whether it said `gone` before exiting. */
function child(env: NodeJS.ProcessEnv) {
  const code = `import(${JSON.stringify(MODULE)}).then((m) => {
    const watching = m.onStackGone(process.env, () => { process.stdout.write('gone\\n'); process.exit(0); });
    process.stdout.write(watching ? 'watching\\n' : 'not watching\\n');
    setTimeout(() => process.exit(3), 10000);
  });`;
  const proc = spawn(process.execPath, ['-e', code], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'inherit', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const line = new Promise<string>((resolve) => proc.stdout!.on('data', () => out.includes('\n') && resolve(out.split('\n')[0]!)));
  const exited = new Promise<{ code: number | null; out: string }>((resolve) => proc.once('exit', (code) => resolve({ code, out })));
  return { proc, line, exited };
}

describe('onStackGone', () => {
  it("calls back once the stack's end of the pipe closes, however the stack ended", async () => {
    const c = child({ [STACK_FD_ENV]: String(STACK_PIPE_FD) });
    expect(await c.line).toBe('watching');
    // What the kernel does when the stack's process ends: its end closes.
    (c.proc.stdio[STACK_PIPE_FD] as NodeJS.ReadableStream & { destroy(): void }).destroy();
    expect(await c.exited).toEqual({ code: 0, out: 'watching\ngone\n' });
  });

  it('watches nothing without the variable (on Agones), or where a forked process has its IPC channel', async () => {
    const plain = child({});
    expect(await plain.line).toBe('not watching');
    plain.proc.kill();
    const forked = child({ [STACK_FD_ENV]: '3', NODE_CHANNEL_FD: '3' });
    expect(await forked.line).toBe('not watching');
    forked.proc.kill();
  });
});
