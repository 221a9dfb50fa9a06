import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { ClientAuth } from './client-auth.js';

const request = (o: { authorization?: string; from?: string; tls?: { authorized: boolean; cn?: string } }): IncomingMessage =>
  ({
    headers: o.authorization ? { authorization: o.authorization } : {},
    socket: { remoteAddress: o.from ?? '10.0.0.5', ...(o.tls ? { authorized: o.tls.authorized, getPeerCertificate: () => ({ subject: { CN: o.tls!.cn } }) } : {}) },
  }) as unknown as IncomingMessage;

describe('ClientAuth', () => {
  const keys = [
    { client: 'matchmaker', key: 'mm-secret-0123456789' },
    { client: 'ops', key: 'ops-secret-0123456789' },
  ];

  it('names the client by its API key, and refuses missing or wrong keys with 401', () => {
    const auth = new ClientAuth({ apiKeys: keys, mutualTls: false });
    expect(auth.authenticate(request({ authorization: 'Bearer mm-secret-0123456789' }))).toMatchObject({ client: 'matchmaker' });
    expect(auth.authenticate(request({ authorization: 'Bearer ops-secret-0123456789' }))).toMatchObject({ client: 'ops' });
    expect(auth.authenticate(request({}))).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', message: 'send Authorization: Bearer <API key>' });
    expect(auth.authenticate(request({ authorization: 'Bearer nope' }))).toMatchObject({ status: 401, message: 'the API key is not valid' });
    expect(auth.authenticate(request({ authorization: 'Basic xyz', from: '127.0.0.1' }))).toMatchObject({ status: 401 });
  });

  it('takes a verified client certificate, naming the client by its CN', () => {
    const auth = new ClientAuth({ apiKeys: [], mutualTls: true });
    expect(auth.authenticate(request({ tls: { authorized: true, cn: 'matchmaker-eu' } }))).toEqual({ client: 'matchmaker-eu' });
    expect(auth.authenticate(request({ tls: { authorized: false, cn: 'forged' } }))).toMatchObject({ status: 401, message: 'present a client certificate signed by the allocator CA' });
  });

  it('with nothing configured, lets only loopback callers in', () => {
    const auth = new ClientAuth({ apiKeys: [], mutualTls: false });
    expect(auth.authenticate(request({ from: '127.0.0.1' }))).toEqual({ client: 'local' });
    expect(auth.authenticate(request({ from: '::1' }))).toEqual({ client: 'local' });
    expect(auth.authenticate(request({ from: '192.168.1.9' }))).toMatchObject({ status: 403, code: 'FORBIDDEN' });
  });
});
