import { Socket } from 'node:net';

// The local runtime hands each game-server process one end of a pipe whose other end only the
// stack's process holds, as file descriptor STACK_PIPE_FD, and names it in HANGAR_STACK_FD. However
// the stack ends (Ctrl-C, SIGKILL, a crash, the OOM killer), the kernel closes its end and the game
// server reads end-of-file: nothing manages it any more. Unlike a lost SDK connection, this cannot
// be a sidecar restarting; on Agones the variable is not set and nothing is watched.

export const STACK_FD_ENV = 'HANGAR_STACK_FD';
export const STACK_PIPE_FD = 3;

/** Calls `gone` once when the stack that started this process has ended; false when not run by one. */
export function onStackGone(env: NodeJS.ProcessEnv, gone: () => void): boolean {
  const fd = Number(env[STACK_FD_ENV]);
  // A process forked by a wrapper inherits the variable but has its IPC channel there instead.
  if (!Number.isInteger(fd) || fd < 0 || env.NODE_CHANNEL_FD === String(fd)) return false;
  let pipe: Socket;
  try {
    pipe = new Socket({ fd, readable: true, writable: false });
  } catch {
    // Not open here (a wrapper between the stack and this process closed it): nothing to watch.
    return false;
  }
  let called = false;
  const end = () => {
    if (called) return;
    called = true;
    gone();
  };
  pipe.on('end', end);
  pipe.on('close', end);
  pipe.on('error', end);
  pipe.resume();
  // It must never be what keeps the process running.
  pipe.unref();
  return true;
}
