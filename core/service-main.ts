import { ConfigError } from './errors.js';

// How a standalone service process lives and dies (allocator/main.ts, matchmaker/main.ts): it
// starts; SIGTERM or SIGINT runs its stop once (drain, close, flush) and exits 0; a failure to
// start prints every configuration problem, or the error, and exits 1.

export function runService(name: string, start: () => Promise<() => Promise<void>>): void {
  start()
    .then((stop) => {
      let stopping: Promise<void> | undefined;
      const onSignal = () => {
        stopping ??= stop().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`${name}: stopping failed: ${(err as Error).stack ?? String(err)}\n`);
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    })
    .catch((err: unknown) => {
      if (err instanceof ConfigError) for (const p of err.problems) process.stderr.write(`${name}: ${p}\n`);
      else process.stderr.write(`${name} failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
}
