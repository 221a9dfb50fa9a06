import { spawn, type ChildProcess } from 'node:child_process';

/** A throwaway redis-server on 127.0.0.1:`port` that keeps nothing on disk, for tests that need Redis to be down first. */
export function startRedisServer(port: number): ChildProcess {
  return spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
}
