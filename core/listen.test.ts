import { createServer } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { ListenError } from './errors.js';
import { checkPortsFree } from './listen.js';

describe('checkPortsFree', () => {
  it('names the first port another program holds, and leaves free ports free', async () => {
    const holder = createServer();
    const held = await new Promise<number>((resolve) => holder.listen(0, '127.0.0.1', () => resolve((holder.address() as { port: number }).port)));
    const spare = createServer();
    const free = await new Promise<number>((resolve) => spare.listen(0, '127.0.0.1', () => resolve((spare.address() as { port: number }).port)));
    await new Promise((resolve) => spare.close(resolve));
    try {
      const check = checkPortsFree([
        { host: '127.0.0.1', port: 0, what: 'an ephemeral port' },
        { host: '127.0.0.1', port: free, what: 'the API (api.port)' },
        { host: '127.0.0.1', port: held, what: 'the lobby (lobby.port)' },
      ]);
      await expect(check).rejects.toBeInstanceOf(ListenError);
      await expect(check).rejects.toThrow(`cannot listen on 127.0.0.1:${held} for the lobby (lobby.port): another program is using it`);
      // Probed and closed again: the real listen can have it.
      await checkPortsFree([{ host: '127.0.0.1', port: free, what: 'the API (api.port)' }]);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});
