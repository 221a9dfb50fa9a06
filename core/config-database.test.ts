import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { loadDatabaseConfig, type PostgresDatabaseConfig } from './config.js';
import { ConfigError } from './errors.js';

function problemsOf(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    loadDatabaseConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

function postgres(env: NodeJS.ProcessEnv): PostgresDatabaseConfig {
  const config = loadDatabaseConfig(env);
  if (config.kind !== 'postgres') throw new Error(`expected postgres, got ${config.kind}`);
  return config;
}

function secretFile(text: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'hangar-secret-')), 'password');
  writeFileSync(file, text);
  return file;
}

const defaults = { sslmode: 'disable', applicationName: 'hangar', connectTimeoutMs: 10_000, poolMax: 10 };

describe('database config', () => {
  it('is the embedded PGlite when no variable is set (empty counts as unset)', () => {
    expect(loadDatabaseConfig({})).toEqual({ kind: 'pglite' });
    expect(loadDatabaseConfig({ DATABASE_URL: '', DB_HOST: '', DB_PASSWORD: '', PATH: '/bin' })).toEqual({ kind: 'pglite' });
  });

  it('reads every part of DATABASE_URL', () => {
    const config = postgres({ DATABASE_URL: 'postgresql://svc:p%40ss%2Fw0rd@db.example:6543/hangar?sslmode=verify-full&application_name=allocator&connect_timeout=3' });
    expect(config).toEqual({ kind: 'postgres', source: 'DATABASE_URL', host: 'db.example', port: 6543, database: 'hangar', user: 'svc', sslmode: 'verify-full', applicationName: 'allocator', connectTimeoutMs: 3000, poolMax: 10 });
    expect(config.password).toBe('p@ss/w0rd');
  });

  it('fills the port (5432) and user (postgres), and unbrackets IPv6 hosts', () => {
    expect(postgres({ DATABASE_URL: 'postgres://127.0.0.1/test' })).toEqual({ kind: 'postgres', source: 'DATABASE_URL', host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres', ...defaults });
    expect(postgres({ DATABASE_URL: 'postgres://[::1]:5433/test' })).toMatchObject({ host: '::1', port: 5433 });
  });

  it('takes the password beside DATABASE_URL from DB_PASSWORD or DB_PASSWORD_FILE, and DB_POOL_MAX', () => {
    expect(postgres({ DATABASE_URL: 'postgres://svc@db/hangar', DB_PASSWORD: 'inline' }).password).toBe('inline');
    expect(postgres({ DATABASE_URL: 'postgres://svc@db/hangar', DB_PASSWORD_FILE: secretFile('from-file\n') }).password).toBe('from-file');
    expect(postgres({ DATABASE_URL: 'postgres://db/hangar', DB_POOL_MAX: '25' }).poolMax).toBe(25);
  });

  it('reads the deployment guide variables', () => {
    const config = postgres({ DB_HOST: 'db.internal', DB_PORT: '5433', DB_NAME: 'hangar', DB_USER: 'svc', DB_PASSWORD: 'pw', DB_SSLMODE: 'require', DB_POOL_MAX: '4' });
    expect(config).toEqual({ kind: 'postgres', source: 'DB_HOST', host: 'db.internal', port: 5433, database: 'hangar', user: 'svc', ...defaults, sslmode: 'require', poolMax: 4 });
    expect(config.password).toBe('pw');
    expect(postgres({ DB_HOST: 'db', DB_NAME: 'hangar', DB_USER: 'svc' })).toMatchObject({ port: 5432, sslmode: 'disable' });
    expect(postgres({ DB_HOST: 'db', DB_NAME: 'hangar', DB_USER: 'svc' }).password).toBeUndefined();
  });

  it('reads a mounted password file without its final newline', () => {
    const base = { DB_HOST: 'db', DB_NAME: 'hangar', DB_USER: 'svc' };
    expect(postgres({ ...base, DB_PASSWORD_FILE: secretFile('s3cret\n') }).password).toBe('s3cret');
    expect(postgres({ ...base, DB_PASSWORD_FILE: secretFile('s3cret\r\n') }).password).toBe('s3cret');
    expect(postgres({ ...base, DB_PASSWORD_FILE: secretFile(' spaced out ') }).password).toBe(' spaced out ');
  });

  it('accepts each sslmode node-postgres can honour', () => {
    for (const mode of ['disable', 'require', 'verify-ca', 'verify-full']) {
      expect(postgres({ DATABASE_URL: `postgres://db/hangar?sslmode=${mode}` }).sslmode).toBe(mode);
      expect(postgres({ DB_HOST: 'db', DB_NAME: 'hangar', DB_USER: 'svc', DB_SSLMODE: mode }).sslmode).toBe(mode);
    }
  });

  it('keeps the password out of logs and JSON, and is frozen', () => {
    const config = postgres({ DATABASE_URL: 'postgres://svc:hunter2@db/hangar' });
    expect(JSON.stringify(config)).not.toContain('hunter2');
    expect(Object.keys(config)).not.toContain('password');
    expect(Object.isFrozen(config)).toBe(true);
  });

  const bad: Array<{ description: string; env: NodeJS.ProcessEnv; problems: string[] }> = [
    { description: 'a DATABASE_URL that is not a URL', env: { DATABASE_URL: 'db.example hangar' }, problems: ['DATABASE_URL is not a valid URL (expected postgres://USER:PASSWORD@HOST:PORT/DATABASE)'] },
    { description: 'an unparseable DATABASE_URL, without echoing its password', env: { DATABASE_URL: 'postgres://svc:hunter2@db:99999/hangar' }, problems: ['DATABASE_URL is not a valid URL (expected postgres://USER:PASSWORD@HOST:PORT/DATABASE)'] },
    { description: 'another scheme', env: { DATABASE_URL: 'mysql://db/hangar' }, problems: ['DATABASE_URL must start with postgres:// or postgresql://, not mysql:// (expected postgres://USER:PASSWORD@HOST:PORT/DATABASE)'] },
    { description: 'a host:port without a scheme', env: { DATABASE_URL: 'localhost:5432' }, problems: ['DATABASE_URL must start with postgres:// or postgresql://, not localhost:// (expected postgres://USER:PASSWORD@HOST:PORT/DATABASE)'] },
    { description: 'no host', env: { DATABASE_URL: 'postgres:///hangar' }, problems: ['DATABASE_URL has no host (expected postgres://USER:PASSWORD@HOST:PORT/DATABASE)'] },
    { description: 'no database', env: { DATABASE_URL: 'postgres://db:5432/' }, problems: ['DATABASE_URL names no database: add /DATABASE after the host (expected postgres://USER:PASSWORD@HOST:PORT/DATABASE)'] },
    { description: 'a database name with a slash', env: { DATABASE_URL: 'postgres://db/a/b' }, problems: ['DATABASE_URL: the database name must not contain "/"'] },
    { description: 'a malformed escape in the password', env: { DATABASE_URL: 'postgres://svc:100%zz@db/hangar' }, problems: ['DATABASE_URL: the password has a malformed %-escape'] },
    { description: 'a parameter Hangar does not read', env: { DATABASE_URL: 'postgres://db/hangar?sslcert=/x&target_session_attrs=any' }, problems: [
      'DATABASE_URL has the parameter sslcert, which Hangar does not read (it reads sslmode, application_name, connect_timeout)',
      'DATABASE_URL has the parameter target_session_attrs, which Hangar does not read (it reads sslmode, application_name, connect_timeout)',
    ] },
    { description: 'sslmode=prefer', env: { DATABASE_URL: 'postgres://db/hangar?sslmode=prefer' }, problems: ['DATABASE_URL sslmode must be one of disable, require, verify-ca, verify-full, not "prefer" (node-postgres cannot fall back between TLS and plain connections)'] },
    { description: 'an unknown sslmode', env: { DATABASE_URL: 'postgres://db/hangar?sslmode=yes' }, problems: ['DATABASE_URL sslmode must be one of disable, require, verify-ca, verify-full, not "yes"'] },
    { description: 'connect_timeout 0 (libpq: wait forever)', env: { DATABASE_URL: 'postgres://db/hangar?connect_timeout=0' }, problems: ['DATABASE_URL connect_timeout must be a whole number from 1 to 3600, not "0"'] },
    { description: 'connect_timeout not a number', env: { DATABASE_URL: 'postgres://db/hangar?connect_timeout=5s' }, problems: ['DATABASE_URL connect_timeout must be a whole number from 1 to 3600, not "5s"'] },
    { description: 'DATABASE_URL and DB_* together', env: { DATABASE_URL: 'postgres://db/hangar', DB_HOST: 'other', DB_NAME: 'x' }, problems: ['DATABASE_URL and DB_HOST, DB_NAME are all set: use DATABASE_URL or the DB_* variables, not both'] },
    { description: 'two passwords', env: { DATABASE_URL: 'postgres://svc:a@db/hangar', DB_PASSWORD: 'b' }, problems: ['DATABASE_URL has a password and DB_PASSWORD is set too: give it in one place'] },
    { description: 'a URL password and a password file', env: { DATABASE_URL: 'postgres://svc:a@db/hangar', DB_PASSWORD_FILE: secretFile('b') }, problems: ['DATABASE_URL has a password and DB_PASSWORD_FILE is set too: give it in one place'] },
    { description: 'DB_* without DB_HOST', env: { DB_PORT: '5432', DB_PASSWORD: 'x' }, problems: ['DB_PORT, DB_PASSWORD are set but DB_HOST is not: set DB_HOST (or DATABASE_URL), or unset them to use the embedded PGlite'] },
    { description: 'only DB_POOL_MAX', env: { DB_POOL_MAX: '5' }, problems: ['DB_POOL_MAX is set but DB_HOST is not: set DB_HOST (or DATABASE_URL), or unset them to use the embedded PGlite'] },
    { description: 'DB_HOST without DB_NAME and DB_USER', env: { DB_HOST: 'db' }, problems: ['DB_NAME is not set: name the database on DB_HOST', 'DB_USER is not set: name the user to connect as'] },
    { description: 'a URL in DB_HOST', env: { DB_HOST: 'postgres://db/hangar', DB_NAME: 'h', DB_USER: 'u' }, problems: ['DB_HOST looks like a URL: put a URL in DATABASE_URL, or only the host name in DB_HOST'] },
    { description: 'a port in DB_HOST', env: { DB_HOST: 'db:5433', DB_NAME: 'h', DB_USER: 'u' }, problems: ['DB_HOST has a port in it: put the port in DB_PORT'] },
    { description: 'spaces in DB_HOST', env: { DB_HOST: 'db example', DB_NAME: 'h', DB_USER: 'u' }, problems: ['DB_HOST must be a host name or address, without spaces'] },
    ...['abc', '0', '65536', '-1', '5432.5', '0x10'].map((port) => ({
      description: `DB_PORT=${port}`,
      env: { DB_HOST: 'db', DB_NAME: 'h', DB_USER: 'u', DB_PORT: port },
      problems: [`DB_PORT must be a whole number from 1 to 65535, not "${port}"`],
    })),
    { description: 'DB_PASSWORD and DB_PASSWORD_FILE together', env: { DB_HOST: 'db', DB_NAME: 'h', DB_USER: 'u', DB_PASSWORD: 'a', DB_PASSWORD_FILE: '/x' }, problems: ['DB_PASSWORD and DB_PASSWORD_FILE are both set: use one'] },
    { description: 'a missing password file', env: { DB_HOST: 'db', DB_NAME: 'h', DB_USER: 'u', DB_PASSWORD_FILE: '/nonexistent/pw' }, problems: ['DB_PASSWORD_FILE: cannot read /nonexistent/pw: ENOENT'] },
    { description: 'an unknown DB_SSLMODE', env: { DB_HOST: 'db', DB_NAME: 'h', DB_USER: 'u', DB_SSLMODE: 'on' }, problems: ['DB_SSLMODE must be one of disable, require, verify-ca, verify-full, not "on"'] },
    ...['0', '1001', 'ten'].map((max) => ({
      description: `DB_POOL_MAX=${max}`,
      env: { DB_HOST: 'db', DB_NAME: 'h', DB_USER: 'u', DB_POOL_MAX: max },
      problems: [`DB_POOL_MAX must be a whole number from 1 to 1000, not "${max}"`],
    })),
    { description: 'everything wrong at once', env: { DB_HOST: 'db:1', DB_PORT: 'x', DB_SSLMODE: 'maybe', DB_POOL_MAX: '0' }, problems: [
      'DB_POOL_MAX must be a whole number from 1 to 1000, not "0"',
      'DB_HOST has a port in it: put the port in DB_PORT',
      'DB_NAME is not set: name the database on DB_HOST',
      'DB_USER is not set: name the user to connect as',
      'DB_SSLMODE must be one of disable, require, verify-ca, verify-full, not "maybe"',
      'DB_PORT must be a whole number from 1 to 65535, not "x"',
    ] },
  ];
  for (const c of bad) {
    it(`refuses ${c.description}`, () => {
      const problems = problemsOf(c.env);
      expect(problems).toEqual(c.problems);
      expect(problems.join('\n')).not.toContain('hunter2');
    });
  }

  it('refuses an empty password file', () => {
    const file = secretFile('\n');
    expect(problemsOf({ DB_HOST: 'db', DB_NAME: 'h', DB_USER: 'u', DB_PASSWORD_FILE: file })).toEqual([`DB_PASSWORD_FILE: ${file} is empty`]);
  });
});
