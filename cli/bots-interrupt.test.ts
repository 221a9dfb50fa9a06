import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { startTestLobby } from '../matchmaker/lobby/lobby-test-harness.js';

// Ctrl-C on `hangar bots`, the built CLI in its own process: the run stops, and its figures so far
// are printed, marked as interrupted, with exit code 130, in either mode.

const CLI = path.resolve('dist/cli/main.js');
const NO_STACK = mkdtempSync(path.join(tmpdir(), 'hangar-bots-interrupt-'));
afterAll(() => rmSync(NO_STACK, { recursive: true, force: true }));

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** `hangar bots ARGS`, interrupted with SIGINT once `started()` says the run is under way. */
async function interruptedBots(args: string[], started: () => boolean): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string[] }> {
  const child = spawn(process.execPath, [CLI, 'bots', ...args], { cwd: NO_STACK, env: { ...process.env, ENCRYPTION_KEY: '00'.repeat(32) }, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  await waitFor(started, 'the bots under way');
  child.kill('SIGINT');
  const { code, signal } = await exited;
  return { code, signal, stdout: stdout.split('\n').filter(Boolean) };
}

describe('Ctrl-C on hangar bots', () => {
  it('--server: prints the JSON summary of the run so far, marked interrupted, and exits 130', async () => {
    // A server that hears the bots and never answers: they are still connecting when interrupted.
    const server: Socket = createSocket('udp4');
    let heard = 0;
    server.on('message', () => heard++);
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = server.address().port;
    const started = Date.now();
    const run = await interruptedBots(['--server', `127.0.0.1:${port}`, '--server-id', 'gs-1', '--players', '3', '--duration', '60', '--json'], () => heard > 0);
    expect(run).toMatchObject({ code: 130, signal: null });
    expect(run.stdout).toHaveLength(1);
    const summary = JSON.parse(run.stdout[0]!) as { players: number; connected: number; interrupted: boolean; durationSeconds: number };
    expect(summary).toMatchObject({ players: 3, connected: 0, interrupted: true });
    expect(summary.durationSeconds).toBeLessThan((Date.now() - started) / 1000);
  }, 20_000);

  it('--matchmake: prints the summary lines of the run so far, the tickets still queued as waiting, and exits 130', async () => {
    const lobby = await startTestLobby({ environment: 'development' });
    cleanups.push(() => lobby.close());
    const submitted = () => lobby.matchmaking.calls.filter((c) => c.method === 'submit').length;
    const run = await interruptedBots(['--matchmake', '--players', '2', '--queue', 'squad', '--duration', '60', '--lobby', lobby.url], () => submitted() === 2);
    expect(run).toMatchObject({ code: 130, signal: null });
    expect(run.stdout[0]).toMatch(/^interrupted \(Ctrl-C\) after \d+\.\d s: the figures of the run so far$/);
    expect(run.stdout[1]).toBe('matchmaking: 0/2 matched into 0 matches (not matched: 2 still waiting at the end)');
    expect(run.stdout[3]).toMatch(/^bots: 0\/2 connected over /);
  }, 20_000);
});
