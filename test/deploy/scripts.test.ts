import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { testPostgresConfig } from '../../records/test-database.js';

// scripts/: disaster-recovery.sh refuses to run with a setting missing (what the backup CronJob
// runs, and what ops run to list and restore), and backs up, lists and restores a real database;
// set-image.sh points an overlay at an image.

const tmp = mkdtempSync(path.join(tmpdir(), 'hangar-scripts-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The script with exactly `env` (plus PATH): nothing leaks in from the test's environment. */
const dr = (args: string[], env: Record<string, string>) =>
  spawnSync('bash', ['scripts/disaster-recovery.sh', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH!, ...env } });

describe('disaster-recovery.sh refuses to run with missing settings', () => {
  const backupDir = mkdtempSync(path.join(tmp, 'backups-'));
  const database = { DB_HOST: '127.0.0.1', DB_NAME: 'hangar', DB_USER: 'hangar', DB_PASSWORD: 'secret' };

  it.each([
    ['backup', [], {}, 'refusing to back up: not set: DB_HOST DB_NAME DB_USER DB_PASSWORD (or DB_PASSWORD_FILE) BACKUP_DIR'],
    ['backup', [], { ...database }, 'refusing to back up: not set: BACKUP_DIR'],
    ['backup', [], { DB_HOST: '127.0.0.1', BACKUP_DIR: backupDir }, 'refusing to back up: not set: DB_NAME DB_USER DB_PASSWORD (or DB_PASSWORD_FILE)'],
    ['backup', [], { ...database, BACKUP_DIR: path.join(backupDir, 'nope') }, 'BACKUP_DIR'],
    ['backup', [], { ...database, BACKUP_DIR: backupDir, BACKUP_RETENTION_DAYS: 'two' }, 'BACKUP_RETENTION_DAYS must be a whole number'],
    ['backup', [], { DATABASE_URL: 'mysql://x/y', BACKUP_DIR: backupDir }, 'DATABASE_URL must start with postgres://'],
    ['list', [], {}, 'refusing to list backups: not set: BACKUP_DIR'],
    ['restore', ['latest', '--yes'], { BACKUP_DIR: backupDir }, 'refusing to restore: not set: DB_HOST DB_NAME DB_USER DB_PASSWORD (or DB_PASSWORD_FILE)'],
    ['restore', ['latest', '--yes'], { ...database }, 'refusing to restore: not set: BACKUP_DIR'],
    ['hold', [], { BACKUP_DIR: backupDir }, 'refusing to hold: not set: DB_HOST'],
  ])('%s %j with %j', (command, args, env, message) => {
    const run = dr([command, ...args], env as Record<string, string>);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stdout).toBe('');
    // It touched nothing: no dump, not even a partial one, and the password is never echoed.
    expect(readdirSync(backupDir)).toEqual([]);
    expect(run.stderr).not.toContain('secret');
  });

  it('refuses a restore without --yes, and unknown commands with usage', () => {
    const noConfirm = dr(['restore', 'latest'], { ...database, BACKUP_DIR: backupDir });
    expect(noConfirm.status).not.toBe(0);
    const unknown = dr(['drop'], {});
    expect([unknown.status, unknown.stderr]).toEqual([2, expect.stringContaining('usage: disaster-recovery.sh backup')]);
  });
});

describe('disaster-recovery.sh against a real PostgreSQL', () => {
  const admin = testPostgresConfig();
  const dbName = `hangar_dr_${process.pid}`;
  const connect = (database: string) => new pg.Client({ host: admin.host, port: admin.port, user: admin.user, password: admin.password, database });
  const sql = async (database: string, text: string) => {
    const c = connect(database);
    await c.connect();
    try {
      return (await c.query(text)).rows as Array<Record<string, unknown>>;
    } finally {
      await c.end();
    }
  };
  afterAll(async () => {
    await sql(admin.database, `DROP DATABASE IF EXISTS ${dbName}`);
  });

  it('backs up, lists, and restores (only with --yes) a database', async () => {
    await sql(admin.database, `DROP DATABASE IF EXISTS ${dbName}`);
    await sql(admin.database, `CREATE DATABASE ${dbName}`);
    await sql(dbName, 'CREATE TABLE matches (id text PRIMARY KEY, winner text); INSERT INTO matches VALUES (\'m1\', \'ada\'), (\'m2\', \'lin\')');
    const backupDir = mkdtempSync(path.join(tmp, 'pg-'));
    const env = { DB_HOST: admin.host, DB_PORT: String(admin.port), DB_NAME: dbName, DB_USER: admin.user, DB_PASSWORD: admin.password ?? 'unused', BACKUP_DIR: backupDir, BACKUP_RETENTION_DAYS: '14' };

    const backup = dr(['backup'], env);
    expect([backup.status, backup.stderr]).toEqual([0, '']);
    const dumps = readdirSync(backupDir);
    expect(dumps).toEqual([expect.stringMatching(/^hangar-\d{8}T\d{6}Z\.dump$/)]);

    const list = dr(['list'], { BACKUP_DIR: backupDir });
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^${dumps[0]!.replace('.', '\\.')}\\t\\d+\\t\\d{4}-\\d\\d-\\d\\dT`));

    await sql(dbName, 'DELETE FROM matches; INSERT INTO matches VALUES (\'m3\', \'bad\')');
    const unconfirmed = dr(['restore', 'latest'], env);
    expect(unconfirmed.status).toBe(2);
    expect(await sql(dbName, 'SELECT id FROM matches ORDER BY id')).toEqual([{ id: 'm3' }]);

    const restore = dr(['restore', dumps[0]!, '--yes'], env);
    expect([restore.status, restore.stderr]).toEqual([0, '']);
    expect(await sql(dbName, 'SELECT id, winner FROM matches ORDER BY id')).toEqual([
      { id: 'm1', winner: 'ada' },
      { id: 'm2', winner: 'lin' },
    ]);
    const missing = dr(['restore', 'hangar-19700101T000000Z.dump', '--yes'], env);
    expect([missing.status, missing.stderr]).toEqual([1, expect.stringContaining('no backup named')]);
  }, 30_000);
});

describe('set-image.sh', () => {
  it('points one overlay at an image, and refuses anything that is not IMAGE:TAG', () => {
    const k8s = path.join(tmp, 'k8s');
    cpSync('k8s', k8s, { recursive: true });
    const run = (...args: string[]) => spawnSync('bash', ['scripts/set-image.sh', ...args], { encoding: 'utf8', env: { ...process.env, HANGAR_K8S_DIR: k8s } });
    const ok = run('production', 'registry.example.com/team/hangar:1.4.0');
    expect(ok.status).toBe(0);
    const after = readFileSync(path.join(k8s, 'overlays/production/kustomization.yaml'), 'utf8');
    expect(after).toContain('    newName: registry.example.com/team/hangar\n    newTag: "1.4.0"');
    // Nothing else in the file changed, and the other overlays did not change at all.
    const before = readFileSync('k8s/overlays/production/kustomization.yaml', 'utf8');
    expect(after.split('\n').filter((l, i) => l !== before.split('\n')[i])).toEqual(['    newName: registry.example.com/team/hangar', '    newTag: "1.4.0"']);
    expect(readFileSync(path.join(k8s, 'overlays/staging/kustomization.yaml'), 'utf8')).toBe(readFileSync('k8s/overlays/staging/kustomization.yaml', 'utf8'));
    expect(run('production', 'hangar').status).toBe(2);
    expect(run('moon', 'hangar:1').status).toBe(2);
  });
});
