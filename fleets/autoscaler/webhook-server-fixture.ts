import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

// Test support: a real webhook server on 127.0.0.1, port 0, plain or TLS, that records what it
// receives and answers through the test's handler.

export interface ReceivedRequest {
  method: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type WebhookHandler = (request: ReceivedRequest, res: http.ServerResponse) => void;

export interface WebhookServerFixture {
  url: string;
  received: ReceivedRequest[];
  /** Resolves with the next request the server receives. */
  nextRequest(): Promise<ReceivedRequest>;
  close(): Promise<void>;
}

export interface TlsPair {
  key: string;
  cert: string;
}

export async function webhookServerFixture(handler: WebhookHandler, tls?: TlsPair): Promise<WebhookServerFixture> {
  const received: ReceivedRequest[] = [];
  let waiting: Array<(r: ReceivedRequest) => void> = [];
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request = { method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(request);
      for (const w of waiting) w(request);
      waiting = [];
      handler(request, res);
    });
  };
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, listener) : http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/scale`,
    received,
    nextRequest: () => new Promise((resolve) => waiting.push(resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A throwaway self-signed certificate for 127.0.0.1 (made with openssl, deleted at once). */
export function selfSignedPair(): TlsPair {
  const dir = mkdtempSync(path.join(tmpdir(), 'hangar-webhook-tls-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The answer a webhook gives, as JSON. */
export function answer(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}
