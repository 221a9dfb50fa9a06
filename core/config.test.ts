import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { defaultMaxServers, loadConfig, loadRedisConfig, parseConfig } from './config.js';
import { problemsOf } from '../test/helpers/config-problems.js';

describe('service config', () => {
  it('fills every default from an empty file', () => {
    const cfg = parseConfig('', 'empty.yaml', {});
    expect(cfg.api).toEqual({ host: '127.0.0.1', port: 8000 });
    expect(cfg.admin).toEqual({ host: '127.0.0.1', port: 9090, drain_delay_seconds: 0 });
    expect(cfg.limits.max_players).toBe(5000);
    expect(cfg.performance.game_tick_rate).toBe(30);
    expect(cfg.local.port_range).toEqual({ min: 7000, max: 8000 });
    expect(cfg.logging.outputs.console.format).toBe('json');
  });

  it('returns a frozen object', () => {
    const cfg = parseConfig('api:\n  port: 8100\n', 'c.yaml', {});
    expect(Object.isFrozen(cfg.api)).toBe(true);
    expect(() => {
      (cfg.api as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('loads the shipped development and production files', () => {
    const dev = loadConfig({ file: 'config/development.yaml', env: {} });
    expect(dev.server.environment).toBe('development');
    expect(dev.local.fleets_dir).toBe('config/fleets');
    const prod = loadConfig({ env: { GAME_SERVER_ENV: 'production' } });
    expect(prod.server.cluster.enabled).toBe(true);
    expect(prod.logging.outputs.console.format).toBe('json');
    expect(prod.admin.host).toBe('0.0.0.0');
  });

  it('applies the deployment guide variables and HANGAR_ overrides with their types', () => {
    const cfg = parseConfig('api:\n  port: 8000\n', 'c.yaml', { LOG_LEVEL: 'debug', HANGAR_API__PORT: '8123', HANGAR_LOCAL__PORT_RANGE__MIN: '7100', HANGAR_SERVER__CLUSTER__ENABLED: 'true' });
    expect(cfg.logging.level).toBe('debug');
    expect(cfg.api.port).toBe(8123);
    expect(cfg.local.port_range.min).toBe(7100);
    expect(cfg.server.cluster.enabled).toBe(true);
  });

  it('lists every problem with file, line and column, not just the first', () => {
    const text = ['api:', '  port: eighty', 'limits:', '  max_players: 6000', 'loggin:', '  level: loud', ''].join('\n');
    expect(problemsOf(() => parseConfig(text, 'bad.yaml', {}))).toEqual([
      'bad.yaml:2:9: api.port: expected a number, got "eighty"',
      'bad.yaml:4:16: limits.max_players: must be at most 5000, got 6000',
      'bad.yaml:5:1: loggin: unknown field "loggin" (did you mean "logging"?)',
    ]);
  });

  it('names the environment variable when an override is wrong', () => {
    expect(problemsOf(() => parseConfig('', 'c.yaml', { HANGAR_API__PORT: '99999', LOG_LEVEL: 'loud', HANGAR_NOPE: '1' }))).toEqual([
      'environment LOG_LEVEL: logging.level: must be one of fatal, error, warn, info, debug, trace, silent; got "loud"',
      'environment HANGAR_API__PORT: api.port: must be at most 65535, got 99999',
      'environment HANGAR_NOPE: nope: unknown field "nope"; allowed here: server, limits, performance, logging, api, admin, allocator, records, local, matchmaker, lobby',
    ]);
  });

  it('refuses a second YAML document at its line and column', () => {
    const text = ['api:', '  port: 8001', '---', 'admin:', '  port: 9091', ''].join('\n');
    expect(problemsOf(() => parseConfig(text, 'two.yaml', {}))).toEqual([
      'two.yaml:4:1: a second YAML document: the service config is one document; merge its settings into the first and remove the "---" line above it',
    ]);
  });

  it('suggests the setting an unknown key is near, at any depth, and lists what is allowed when none is near', () => {
    const text = ['admin:', '  drain_delay_secs: 3', 'lobby:', '  auth:', '    isuer: me', 'api:', '  bind: 0.0.0.0', ''].join('\n');
    expect(problemsOf(() => parseConfig(text, 'k.yaml', {}))).toEqual([
      'k.yaml:2:3: admin.drain_delay_secs: unknown field "drain_delay_secs" (did you mean "drain_delay_seconds"?)',
      'k.yaml:5:5: lobby.auth.isuer: unknown field "isuer" (did you mean "issuer"?)',
      'k.yaml:7:3: api.bind: unknown field "bind"; allowed here: host, port',
    ]);
  });

  it('says what a setting takes in words: a number, an integer, one of its values', () => {
    const text = ['api:', '  port: 80.5', 'admin:', '  drain_delay_seconds: soon', 'logging:', '  level: debg', 'server:', '  cluster:', '    enabled: "yes"', ''].join('\n');
    expect(problemsOf(() => parseConfig(text, 'w.yaml', {}))).toEqual([
      'w.yaml:2:9: api.port: expected an integer, got 80.5',
      'w.yaml:4:24: admin.drain_delay_seconds: expected a number, got "soon"',
      'w.yaml:6:10: logging.level: must be one of fatal, error, warn, info, debug, trace, silent; got "debg" (did you mean debug?)',
      'w.yaml:9:14: server.cluster.enabled: expected true or false, got "yes"',
    ]);
  });

  it('refuses two listeners on one port of overlapping addresses, naming both keys, at the one that is written', () => {
    expect(problemsOf(() => parseConfig('admin:\n  port: 8000\n', 'p.yaml', {}))).toEqual([
      "p.yaml:2:9: admin.port: 8000 is also api.port's default (both on 127.0.0.1): each listener needs a port of its own, or the second fails to bind at start",
    ]);
    // 0.0.0.0 takes the port on every address, 127.0.0.1 among them.
    expect(problemsOf(() => parseConfig('admin:\n  host: 0.0.0.0\nlobby:\n  port: 9090\n', 'p.yaml', {}))).toEqual([
      "p.yaml:4:9: lobby.port: 9090 is also admin.port's default (lobby.host 127.0.0.1 and admin.host 0.0.0.0 overlap): each listener needs a port of its own, or the second fails to bind at start",
    ]);
    // Defaulted in the file, set by the environment: the variable is named.
    expect(problemsOf(() => parseConfig('', 'p.yaml', { HANGAR_LOBBY__PORT: '8000' }))).toEqual([
      "environment HANGAR_LOBBY__PORT: lobby.port: 8000 is also api.port's default (both on 127.0.0.1): each listener needs a port of its own, or the second fails to bind at start",
    ]);
    // Only api.port is written: the problem is there, naming lobby's default.
    expect(problemsOf(() => parseConfig('api:\n  port: 8080\n', 'p.yaml', {}))).toEqual([
      "p.yaml:2:9: api.port: 8080 is also lobby.port's default (both on 127.0.0.1): each listener needs a port of its own, or the second fails to bind at start",
    ]);
    // Distinct addresses, or port 0 (a free port each), do not clash.
    expect(parseConfig('api:\n  host: 127.0.0.2\nadmin:\n  port: 8000\n', 'p.yaml', {}).admin.port).toBe(8000);
    expect(parseConfig('api:\n  port: 0\nadmin:\n  port: 0\nlobby:\n  port: 0\n', 'p.yaml', {}).lobby.port).toBe(0);
  });

  it("leaves the hangar command's own variables alone: they are not settings", () => {
    const cfg = parseConfig('api:\n  port: 8000\n', 'c.yaml', { HANGAR_API_URL: 'http://127.0.0.1:8100', HANGAR_API_KEY: 'k-1', HANGAR_API__PORT: '8100' });
    expect(cfg.api.port).toBe(8100);
  });

  it('reports YAML syntax errors with their position', () => {
    expect(problemsOf(() => parseConfig('api:\n  port: [8000\n', 'broken.yaml', {}))[0]).toMatch(/^broken\.yaml:\d+:\d+: YAML syntax: /);
  });

  it("reads the lobby's ticket grace, 15 s unless set, and names it when it is out of range", () => {
    expect(parseConfig('', 'c.yaml', {}).lobby.ticket_grace_seconds).toBe(15);
    expect(parseConfig('', 'c.yaml', { HANGAR_LOBBY__TICKET_GRACE_SECONDS: '2.5' }).lobby.ticket_grace_seconds).toBe(2.5);
    expect(problemsOf(() => parseConfig('lobby:\n  ticket_grace_seconds: 0\n', 'g.yaml', {}))).toEqual(['g.yaml:2:25: lobby.ticket_grace_seconds: must be at least 1, got 0']);
  });

  it("reads the matchmaker's claim lease, 6 s unless set, and names it when it is out of range", () => {
    expect(parseConfig('', 'c.yaml', {}).matchmaker.claim_lease_seconds).toBe(6);
    expect(parseConfig('', 'c.yaml', { HANGAR_MATCHMAKER__CLAIM_LEASE_SECONDS: '1.5' }).matchmaker.claim_lease_seconds).toBe(1.5);
    expect(problemsOf(() => parseConfig('matchmaker:\n  claim_lease_seconds: 0.5\n', 'l.yaml', {}))).toEqual(['l.yaml:2:24: matchmaker.claim_lease_seconds: must be at least 1, got 0.5']);
    expect(problemsOf(() => parseConfig('', 'c.yaml', { HANGAR_MATCHMAKER__CLAIM_LEASE_SECONDS: 'soon' }))).toEqual([expect.stringMatching(/HANGAR_MATCHMAKER__CLAIM_LEASE_SECONDS.*matchmaker\.claim_lease_seconds|matchmaker\.claim_lease_seconds.*HANGAR_MATCHMAKER__CLAIM_LEASE_SECONDS/)]);
  });

  it("reads the matchmaker's Redis command timeout, 2 s or a third of the lease unless set, and refuses one longer than a third of the lease", () => {
    expect(parseConfig('', 'c.yaml', {}).matchmaker.redis_command_timeout_seconds).toBe(2);
    expect(parseConfig('', 'c.yaml', { HANGAR_MATCHMAKER__CLAIM_LEASE_SECONDS: '1.5' }).matchmaker.redis_command_timeout_seconds).toBe(0.5);
    expect(parseConfig('matchmaker:\n  redis_command_timeout_seconds: 0.5\n', 'c.yaml', {}).matchmaker.redis_command_timeout_seconds).toBe(0.5);
    expect(problemsOf(() => parseConfig('matchmaker:\n  redis_command_timeout_seconds: 3\n', 't.yaml', {}))).toEqual([
      expect.stringMatching(/^t\.yaml:2:\d+: matchmaker\.redis_command_timeout_seconds: must be at most a third of claim_lease_seconds/),
    ]);
    expect(problemsOf(() => parseConfig('matchmaker:\n  redis_command_timeout_seconds: 0\n', 't.yaml', {}))).toEqual(['t.yaml:2:34: matchmaker.redis_command_timeout_seconds: must be at least 0.1, got 0']);
  });

  it('refuses a port range whose min exceeds its max', () => {
    expect(problemsOf(() => parseConfig('local:\n  port_range:\n    min: 8000\n    max: 7000\n', 'r.yaml', {}))).toEqual([
      'r.yaml:3:5: local.port_range: min must not exceed max',
    ]);
  });

  it("reads a records site and an Agones cluster name, and refuses one a site's name cannot carry", () => {
    const cfg = parseConfig('records:\n  site: local:ci-1:/srv/hangar\n', 's.yaml', { HANGAR_ALLOCATOR__CLUSTER: 'eu-west.1' });
    expect(cfg.records.site).toBe('local:ci-1:/srv/hangar');
    expect(cfg.allocator.cluster).toBe('eu-west.1');
    const unset = parseConfig('', 's.yaml', {});
    expect([unset.records.site, unset.allocator.cluster]).toEqual([undefined, undefined]);
    expect(problemsOf(() => parseConfig('records:\n  site: "prod eu"\nallocator:\n  cluster: ""\n', 's.yaml', {}))).toEqual([
      's.yaml:2:9: records.site: must be letters, digits, "_", ".", ":", "/", "@" and "-" only, got "prod eu"',
      's.yaml:4:12: allocator.cluster: must be letters, digits, "_", "." and "-" only, got ""',
    ]);
  });

  it("derives local.max_servers from the machine's total memory, takes a setting, and names it when it is not a whole number from 1", () => {
    const GiB = 1024 ** 3;
    // 24 GiB less 4 GiB for the stack and the OS, 96 MiB a server; a machine with less than the reserve still runs one.
    expect(defaultMaxServers(24 * GiB)).toBe(213);
    expect(defaultMaxServers(8 * GiB)).toBe(42);
    expect(defaultMaxServers(2 * GiB)).toBe(1);
    expect(parseConfig('', 'c.yaml', {}).local.max_servers).toBe(defaultMaxServers(totalmem()));
    expect(parseConfig('', 'c.yaml', { HANGAR_LOCAL__MAX_SERVERS: '40' }).local.max_servers).toBe(40);
    expect(problemsOf(() => parseConfig('local:\n  max_servers: 0\n', 'm.yaml', {}))).toEqual(['m.yaml:2:16: local.max_servers: must be at least 1, got 0']);
    expect(problemsOf(() => parseConfig('local:\n  max_servers: 2.5\n', 'm.yaml', {}))).toEqual([expect.stringMatching(/^m\.yaml:2:16: local\.max_servers: /)]);
  });

  it('says which file it could not read', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hangar-cfg-'));
    expect(problemsOf(() => loadConfig({ file: path.join(dir, 'nope.yaml'), env: {} }))[0]).toMatch(/nope\.yaml: cannot read config file: ENOENT/);
    writeFileSync(path.join(dir, 'list.yaml'), '- 1\n- 2\n');
    expect(problemsOf(() => loadConfig({ file: path.join(dir, 'list.yaml'), env: {} }))[0]).toMatch(/list\.yaml:1:1: the config must be a mapping of keys/);
  });
});

describe('redis config', () => {
  it('reads REDIS_URL, or REDIS_HOST/PORT/PASSWORD, and keeps the password out of the target', () => {
    expect(loadRedisConfig({})).toBeUndefined();
    expect(loadRedisConfig({ REDIS_URL: 'redis://127.0.0.1:6379/2' })).toEqual({ url: 'redis://127.0.0.1:6379/2', target: 'redis://127.0.0.1:6379/2' });
    const split = loadRedisConfig({ REDIS_HOST: 'cache', REDIS_PORT: '6380', REDIS_PASSWORD: 'p@ss word' })!;
    expect(split.url).toBe('redis://:p%40ss%20word@cache:6380');
    expect(split.target).toBe('redis://cache:6380');
  });

  it('names every bad variable', () => {
    expect(problemsOf(() => loadRedisConfig({ REDIS_URL: 'http://x', REDIS_HOST: 'y' }))).toEqual([
      'REDIS_URL and REDIS_HOST are both set: give one or the other',
      'REDIS_URL must start with redis:// or rediss://, not http://',
    ]);
    expect(problemsOf(() => loadRedisConfig({ REDIS_HOST: 'h', REDIS_PORT: 'x' }))).toEqual(['REDIS_PORT must be a port number, got "x"']);
    expect(problemsOf(() => loadRedisConfig({ REDIS_PASSWORD: 'p' }))).toEqual(['REDIS_PORT and REDIS_PASSWORD need REDIS_HOST']);
  });
});
