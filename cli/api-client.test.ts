import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ConfigError, StackUnreachableError, UsageError } from '../core/errors.js';
import { ApiClient, ApiError, resolveApiUrl } from './api-client.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

async function serve(handler: RequestListener): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: unknown) => err as Error,
  );
}

describe('resolveApiUrl', () => {
  it('takes --api, else HANGAR_API_URL, else the local default, without a trailing slash', () => {
    expect(resolveApiUrl(undefined, undefined)).toBe('http://127.0.0.1:8000');
    expect(resolveApiUrl(undefined, '')).toBe('http://127.0.0.1:8000');
    expect(resolveApiUrl(undefined, 'http://10.0.0.5:8000/')).toBe('http://10.0.0.5:8000');
    expect(resolveApiUrl('https://hangar.example/api/', 'http://10.0.0.5:8000')).toBe('https://hangar.example/api');
  });

  it('is a usage error naming where a bad URL came from', () => {
    expect(() => resolveApiUrl('127.0.0.1:8000', undefined)).toThrow(new UsageError('--api "127.0.0.1:8000" is not an http:// or https:// URL, like http://127.0.0.1:8000'));
    expect(() => resolveApiUrl(undefined, 'localhost:8000')).toThrow(new UsageError('HANGAR_API_URL "localhost:8000" is not an http:// or https:// URL, like http://127.0.0.1:8000'));
    expect(() => resolveApiUrl('http://h:8000/?x=1', undefined)).toThrow(new UsageError('--api "http://h:8000/?x=1" must not have a query or fragment'));
  });
});

describe('ApiClient', () => {
  it('turns a Hangar error body into an ApiError with the status, code, message and problems', async () => {
    const problems = [{ file: 'f.yaml', line: 1, col: 1, path: '', message: 'not a mapping', severity: 'error' }];
    const url = await serve((_req, res) => {
      res.writeHead(422, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'RESOURCE_INVALID', message: '1 problem(s) in f.yaml; nothing was applied', problems } }));
    });
    const err = await failure(new ApiClient({ baseUrl: url }).apply('f.yaml', '- 1'));
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 422, code: 'RESOURCE_INVALID', message: '1 problem(s) in f.yaml; nothing was applied', problems });
  });

  it('calls the stack unreachable when nothing listens, when it does not answer in time, and when the answer is not Hangar', async () => {
    const closed = await serve(() => undefined);
    server!.close();
    const refused = await failure(new ApiClient({ baseUrl: closed }).listFleets());
    expect(refused).toEqual(new StackUnreachableError(closed));
    expect((refused.cause as Error).message).toBe('fetch failed');

    const silent = await serve(() => undefined);
    const slow = await failure(new ApiClient({ baseUrl: silent, timeoutMs: 100, stateDir: () => '/srv/hangar-state' }).listFleets());
    expect(slow).toBeInstanceOf(StackUnreachableError);
    expect(slow.message).toBe(`cannot reach the Hangar stack at ${silent}: it took the request but did not answer within 0.1 s: busy or stuck (its log is /srv/hangar-state/hangar.log)`);
    expect((slow.cause as Error).name).toBe('TimeoutError');
    // A config that does not load cannot say where the state directory is: the file alone is named.
    const unreadConfig = () => {
      throw new ConfigError(['config/development.yaml: local.port_range: expected an object']);
    };
    for (const stateDir of [undefined, unreadConfig]) {
      const err = await failure(new ApiClient({ baseUrl: silent, timeoutMs: 100, stateDir }).listFleets());
      expect(err.message).toMatch(/busy or stuck \(its log is hangar\.log in the state directory of its hangar up\)$/);
    }
    await new Promise((resolve) => server!.close(resolve));

    for (const [status, type, body, cause] of [
      [200, 'text/html', '<h1>It works!</h1>', 'GET /v1/fleets answered 200 with a body that is not JSON'],
      [502, 'application/json', '{"message":"bad gateway"}', 'GET /v1/fleets answered 502 without a Hangar error body'],
    ] as const) {
      const other = await serve((_req, res) => {
        res.writeHead(status, { 'content-type': type });
        res.end(body);
      });
      const err = await failure(new ApiClient({ baseUrl: other }).listFleets());
      expect(err).toBeInstanceOf(StackUnreachableError);
      expect(err.message).toBe(`cannot reach the Hangar stack at ${other}: what answers there is not Hangar's API (${cause}): check the URL (--api or HANGAR_API_URL)`);
      server!.closeAllConnections();
      await new Promise((resolve) => server!.close(resolve));
    }
    server = undefined;
  });

  it('does not send a remote stack\'s user to npm start or to a log on this machine', () => {
    expect(new StackUnreachableError('http://hangar.example:8000').message).toBe('cannot reach the Hangar stack at http://hangar.example:8000: nothing answered: is the stack running there, and reachable from here?');
    expect(new StackUnreachableError('http://10.0.0.5:8000', { silentForMs: 10_000 }).message).toBe('cannot reach the Hangar stack at http://10.0.0.5:8000: it took the request but did not answer within 10 s: busy or stuck');
    expect(new StackUnreachableError('http://[::1]:8000').message).toBe('cannot reach the Hangar stack at http://[::1]:8000: is `hangar up` (npm start in the clone) running?');
  });

  it('stops a request in flight when its signal aborts', async () => {
    const silent = await serve(() => undefined);
    const stop = new AbortController();
    const pending = failure(new ApiClient({ baseUrl: silent, signal: stop.signal }).listGameServers());
    stop.abort();
    expect(((await pending).cause as Error).name).toBe('AbortError');
  });
});
