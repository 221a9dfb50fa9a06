import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { loadDatabaseConfig } from '../core/config.js';
import { AppError } from '../core/errors.js';
import { createLogger, silentLogger, type Logger } from '../core/logger.js';
import { openDatabase } from './database.js';
import { connectError } from './records-errors.js';
import { testPostgresConfig } from './test-database.js';

function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger({ level: 'trace', destination: { write: (s: string) => void lines.push(s) } }), lines };
}

async function codeOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AppError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected an AppError');
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('PostgreSQL', () => {
  it('connects from DATABASE_URL into its own schema, logs no password, and closes', async () => {
    const { log, lines } = capturingLogger();
    const config = testPostgresConfig({ DATABASE_URL: 'postgres://postgres:not-a-real-secret@127.0.0.1:5432/test' });
    const db = await openDatabase({ config, log, schema: 'hangar_test_connect' });
    try {
      expect(db.kind).toBe('postgres');
      expect(db.target).toBe('127.0.0.1:5432/test');
      const { rows } = await db.query<{ schema: string; app: string }>("SELECT current_schema() AS schema, current_setting('application_name') AS app");
      expect(rows[0]).toEqual({ schema: 'hangar_test_connect', app: 'hangar' });
    } finally {
      await db.query('DROP SCHEMA hangar_test_connect CASCADE');
      await db.close();
    }
    expect(lines.join('')).toContain('records database connected');
    expect(lines.join('')).not.toContain('not-a-real-secret');
    await expect(db.query('SELECT 1')).rejects.toThrow();
  });

  it('connects from DB_HOST, DB_PORT, DB_NAME, DB_USER and DB_PASSWORD_FILE', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hangar-db-'));
    writeFileSync(path.join(dir, 'password'), 'from-a-file\n');
    const config = loadDatabaseConfig({ DB_HOST: '127.0.0.1', DB_PORT: '5432', DB_NAME: 'test', DB_USER: 'postgres', DB_PASSWORD_FILE: path.join(dir, 'password') });
    const db = await openDatabase({ config, log: silentLogger });
    try {
      const { rows } = await db.query<{ user: string; db: string }>('SELECT current_user AS user, current_database() AS db');
      expect(rows[0]).toEqual({ user: 'postgres', db: 'test' });
    } finally {
      await db.close();
    }
  });

  it('names host:port when the connection is refused', async () => {
    const port = await closedPort();
    const err = await codeOf(openDatabase({ config: testPostgresConfig({ DATABASE_URL: `postgres://127.0.0.1:${port}/test` }), log: silentLogger }));
    expect(err).toEqual({ code: 'DB_UNREACHABLE', message: `cannot reach PostgreSQL at 127.0.0.1:${port}: connection refused (is it running? check DATABASE_URL)` });
  });

  it('gives up on a server that never answers after the connect timeout', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => void sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const config = loadDatabaseConfig({ DB_HOST: '127.0.0.1', DB_PORT: String(port), DB_NAME: 'test', DB_USER: 'postgres' });
      if (config.kind !== 'postgres') throw new Error('expected PostgreSQL');
      const started = Date.now();
      const err = await codeOf(openDatabase({ config: { ...config, connectTimeoutMs: 300 }, log: silentLogger }));
      expect(err.code).toBe('DB_UNREACHABLE');
      expect(err.message).toBe(`cannot reach PostgreSQL at 127.0.0.1:${port}: no answer within the connect timeout (check DB_HOST and DB_PORT)`);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('says when the user is refused, naming the user but not the password', async () => {
    const config = testPostgresConfig({ DATABASE_URL: 'postgres://hangar_no_such_role:hunter2-secret@127.0.0.1:5432/test' });
    const err = await codeOf(openDatabase({ config, log: silentLogger }));
    expect(err.code).toBe('DB_AUTH_FAILED');
    expect(err.message).toMatch(/^PostgreSQL at 127\.0\.0\.1:5432 refused user "hangar_no_such_role" for database "test": .*hangar_no_such_role.* \(check the user and password in DATABASE_URL\)$/);
    expect(err.message).not.toContain('hunter2');
  });

  it('says when the database does not exist', async () => {
    const err = await codeOf(openDatabase({ config: testPostgresConfig({ DATABASE_URL: 'postgres://127.0.0.1:5432/hangar_no_such_db' }), log: silentLogger }));
    expect(err).toEqual({ code: 'DB_CONNECT_FAILED', message: 'PostgreSQL at 127.0.0.1:5432 has no database "hangar_no_such_db": create it, or fix the database name' });
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    const err = await codeOf(openDatabase({ config: testPostgresConfig(), log: silentLogger, schema: 'x; DROP TABLE y' }));
    expect(err.code).toBe('DB_CONNECT_FAILED');
  });
});

describe('connect errors', () => {
  const target = { host: 'db.example', port: 5433, database: 'hangar', user: 'svc', source: 'DB_HOST' };
  const cases: Array<{ description: string; err: unknown; code: string; message: RegExp }> = [
    { description: 'unknown host', err: Object.assign(new Error('getaddrinfo ENOTFOUND db.example'), { code: 'ENOTFOUND' }), code: 'DB_UNREACHABLE', message: /db\.example:5433: host not found/ },
    { description: 'refused on every address of a name', err: Object.assign(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]), {}), code: 'DB_UNREACHABLE', message: /connection refused \(is it running\? check DB_HOST and DB_PORT\)/ },
    { description: 'wrong password', err: Object.assign(new Error('password authentication failed for user "svc"'), { code: '28P01' }), code: 'DB_AUTH_FAILED', message: /refused user "svc" for database "hangar": password authentication failed.*DB_USER and DB_PASSWORD/ },
    { description: 'a password is required and none is set', err: new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'), code: 'DB_AUTH_FAILED', message: /asks user "svc" for a password and none is set/ },
    { description: 'TLS refused', err: new Error('The server does not support SSL connections'), code: 'DB_CONNECT_FAILED', message: /db\.example:5433 as "svc", database "hangar": The server does not support SSL/ },
  ];
  for (const c of cases) {
    it(c.description, () => {
      const err = connectError(c.err, target);
      expect(err.code).toBe(c.code);
      expect(err.message).toMatch(c.message);
      expect(err.cause).toBe(c.err);
    });
  }
});

describe('PGlite', () => {
  it('serves pg over a socket on 127.0.0.1 in the given schema, and close stops the socket server too', async () => {
    const db = await openDatabase({ config: { kind: 'pglite' }, log: silentLogger, dataDir: 'memory://', schema: 'records' });
    const { rows } = await db.query<{ version: string; schema: string }>('SELECT version(), current_schema() AS schema');
    expect(db.kind).toBe('pglite');
    expect(db.target).toBe('memory://');
    expect(rows[0]?.version).toMatch(/PGlite/);
    expect(rows[0]?.schema).toBe('records');
    expect(db.pool.options.max).toBe(1);
    const { host, port } = db.pool.options as { host: string; port: number };
    expect(host).toBe('127.0.0.1');
    await db.close();
    expect(await canConnect(host, port)).toBe(false);
    await db.close(); // twice is harmless
  });

  it('keeps its one connection through a statement it refuses: the error has its SQLSTATE and the next query runs', async () => {
    const db = await openDatabase({ config: { kind: 'pglite' }, log: silentLogger, dataDir: 'memory://' });
    try {
      await db.query('CREATE TABLE t (n int CHECK (n > 0))');
      await expect(db.query('INSERT INTO t VALUES ($1)', [-1])).rejects.toMatchObject({ code: '23514' });
      await expect(db.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
      await db.query('INSERT INTO t VALUES ($1)', [1]);
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 1 }]);
    } finally {
      await db.close();
    }
  });

  it("runs queries on a thread of its own: the caller's event loop keeps turning while a long one runs", async () => {
    const db = await openDatabase({ config: { kind: 'pglite' }, log: silentLogger, dataDir: 'memory://' });
    try {
      let turns = 0;
      const counting = setInterval(() => turns++, 1);
      // Hundreds of milliseconds of work for the WebAssembly PostgreSQL; on the caller's thread no timer would fire meanwhile.
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM generate_series(1, 300000)');
      clearInterval(counting);
      expect(rows[0]?.n).toBe(300_000);
      expect(turns).toBeGreaterThan(10);
    } finally {
      await db.close();
    }
  });

  describe('in a directory', () => {
    const parent = mkdtempSync(path.join(tmpdir(), 'hangar-pglite-'));
    const dir = path.join(parent, 'pglite');
    afterAll(() => rmSync(parent, { recursive: true, force: true }));

    it('keeps its data across restarts, and one process at a time', async () => {
      const first = await openDatabase({ config: { kind: 'pglite' }, log: silentLogger, dataDir: dir });
      await first.query('CREATE TABLE kept (n int)');
      await first.query('INSERT INTO kept VALUES (42)');
      expect(readFileSync(`${dir}.lock`, 'utf8')).toBe(String(process.pid));
      const second = await codeOf(openDatabase({ config: { kind: 'pglite' }, log: silentLogger, dataDir: dir }));
      expect(second).toEqual({ code: 'DB_CONNECT_FAILED', message: `the PGlite directory ${dir} is already open in this process` });
      await first.close();
      expect(existsSync(`${dir}.lock`)).toBe(false);

      // A lock left by a process that died is taken over.
      writeFileSync(`${dir}.lock`, '999999999');
      const again = await openDatabase({ config: { kind: 'pglite' }, log: silentLogger, dataDir: dir });
      try {
        expect((await again.query<{ n: number }>('SELECT n FROM kept')).rows).toEqual([{ n: 42 }]);
      } finally {
        await again.close();
      }
    });

    it('names the other process holding the directory', async () => {
      writeFileSync(`${dir}.lock`, String(process.ppid));
      const err = await codeOf(openDatabase({ config: { kind: 'pglite' }, log: silentLogger, dataDir: dir }));
      expect(err).toEqual({ code: 'DB_CONNECT_FAILED', message: `the PGlite directory ${dir} is in use by process ${process.ppid}: stop it, or give this one another directory (or PostgreSQL)` });
      rmSync(`${dir}.lock`);
    });
  });
});
