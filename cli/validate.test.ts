import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { arenaFleetYaml } from '../test/helpers/local-stack-fixture.js';
import { runValidate, type ValidateOptions } from './validate.js';

const ARENA = `apiVersion: agones.dev/v1
kind: Fleet
metadata:
  name: arena
spec:
  replicas: 2
  template:
    spec:
      ports:
        - name: default
          containerPort: 7777
      template:
        spec:
          containers:
            - name: game
              command: [node, dist/examples/simple-game-server/main.js]
---
apiVersion: autoscaling.agones.dev/v1
kind: FleetAutoscaler
metadata:
  name: arena-autoscaler
spec:
  fleetName: arena
  policy:
    type: Buffer
    buffer:
      bufferSize: 2
      minReplicas: 2
      maxReplicas: 20
`;

async function run(files: string[], options: Omit<ValidateOptions, 'now'> = {}): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runValidate(files, { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) }, { now: new Date('2026-09-01T00:00:00Z'), ...options });
  return { code, stdout, stderr };
}

function tmp(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'hangar-validate-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

describe('hangar validate', () => {
  it('prints one summary line per resource and exits 0 when every file is valid', async () => {
    const dir = tmp({ 'arena.yaml': ARENA });
    const file = path.join(dir, 'arena.yaml');
    expect(await run([file])).toEqual({
      code: 0,
      stdout: [
        `${file}: Fleet arena: 2 replicas, container game (node dist/examples/simple-game-server/main.js), ports default/Dynamic/UDP`,
        `${file}: FleetAutoscaler arena-autoscaler: Buffer 2 (min 2, max 20) on fleet arena`,
      ],
      stderr: [],
    });
  });

  it('prints what cannot run locally as warnings, without failing', async () => {
    const examples = 'test/fixtures/agones/examples';
    const result = await run([`${examples}/xonotic__fleet.yaml`, `${examples}/xonotic__fleetautoscaler.yaml`, `${examples}/xonotic__gameserverallocation.yaml`]);
    expect(result).toEqual({
      code: 0,
      stdout: [
        `${examples}/xonotic__fleet.yaml: Fleet xonotic: 2 replicas, container xonotic (image us-docker.pkg.dev/agones-images/examples/xonotic-example:2.8, no command), ports default/Dynamic/UDP`,
        `${examples}/xonotic__fleetautoscaler.yaml: FleetAutoscaler xonotic-autoscaler: Buffer 2 (min 0, max 10) on fleet xonotic`,
      ],
      stderr: [
        `${examples}/xonotic__fleet.yaml:21:15: warning: spec.template.spec.template.spec.containers[0]: cannot run locally: container "xonotic" has only an image (us-docker.pkg.dev/agones-images/examples/xonotic-example:2.8); Hangar runs the game-server container's command + args as a process, so add a command (e.g. command: [node, dist/server.js]) to run it locally; the file still applies to Kubernetes unchanged`,
        `${examples}/xonotic__gameserverallocation.yaml:3:7: warning: kind: GameServerAllocation is not a fleet document (allocations are requests to the allocator, not fleet configuration); skipped`,
      ],
    });
  });

  it('prints every error of every file with file:line:col and field path, and exits 1', async () => {
    const dir = tmp({
      'arena.yaml': ARENA.replace('replicas: 2', 'replicas: -2').replace('portPolicy', 'x').replace('containerPort: 7777', 'containerPort: 7777\n          portPolicy: Statc'),
      'duel.yaml': ARENA.replace('name: arena\n', 'name: duel\n').replace('bufferSize: 2', 'bufferSize: 0'),
    });
    const arena = path.join(dir, 'arena.yaml');
    const duel = path.join(dir, 'duel.yaml');
    expect(await run([arena, duel])).toEqual({
      code: 1,
      stdout: [],
      stderr: [
        `${arena}:6:13: spec.replicas: must be at least 0, got -2`,
        `${arena}:12:23: spec.template.spec.ports[0].portPolicy: must be one of Dynamic, Static, Passthrough, None; got "Statc" (did you mean Static?)`,
        `${duel}:27:19: spec.policy.buffer.bufferSize: must be more than 0, got 0`,
      ],
    });
  });

  it('validates every .yaml and .yml file of a directory, nested ones too, in name order', async () => {
    const dir = tmp({ 'b.yml': ARENA.replaceAll('arena', 'b'), 'a.yaml': ARENA.replaceAll('arena', 'a'), 'notes.txt': 'not yaml', 'more/c.yaml': ARENA.replaceAll('arena', 'c') });
    const result = await run([dir]);
    expect(result.code).toBe(0);
    expect(result.stderr).toEqual([]);
    expect(result.stdout.map((l) => l.split(': ').slice(0, 2).join(': '))).toEqual([
      `${path.join(dir, 'a.yaml')}: Fleet a`,
      `${path.join(dir, 'a.yaml')}: FleetAutoscaler a-autoscaler`,
      `${path.join(dir, 'b.yml')}: Fleet b`,
      `${path.join(dir, 'b.yml')}: FleetAutoscaler b-autoscaler`,
      `${path.join(dir, 'more/c.yaml')}: Fleet c`,
      `${path.join(dir, 'more/c.yaml')}: FleetAutoscaler c-autoscaler`,
    ]);
  });

  it("checks a matchmaking rules file (queues, no apiVersion) by the matchmaker's rules, beside fleet files", async () => {
    const rules = `queues:
  - name: duel
    fleet: arena
    teams: { count: 2, size: 1 }
    accept: { timeoutSeconds: 10 }
  - name: squads
    fleet: arena
    teams: { count: 2, size: 4 }
    minPlayers: 6
    maxPartySize: 4
    backfill: true
`;
    const dir = tmp({ 'arena.yaml': ARENA, 'matchmaking.yaml': rules });
    const file = path.join(dir, 'matchmaking.yaml');
    const valid = await run([dir]);
    expect(valid.code).toBe(0);
    expect(valid.stdout.slice(2)).toEqual([
      `${file}: matchmaking queue duel: 1 v 1 (2 players) on fleet arena, accept within 10 s`,
      `${file}: matchmaking queue squads: 4 v 4 (6–8 players) on fleet arena, parties up to 4, backfill`,
    ]);
    writeFileSync(file, rules.replace('size: 4 }', 'size: "four" }'));
    expect(await run([file])).toEqual({ code: 1, stdout: [], stderr: [`${file}:8:30: queues[1].teams.size: expected an integer, got "four"`] });
  });

  it('warns of a queue naming a fleet none of the files given defines (a misspelt fleet: its tickets would wait for ever)', async () => {
    const dir = tmp({ 'arena.yaml': ARENA, 'matchmaking.yaml': 'queues:\n  - name: duel\n    fleet: arenna\n    teams: { count: 2, size: 1 }\n' });
    expect((await run([dir])).stderr).toEqual([
      `${path.join(dir, 'matchmaking.yaml')}:3:12: warning: queues[0].fleet: no fleet arenna among the fleets given (arena): its matches would find no game server unless it comes from elsewhere`,
    ]);
    // Alone, the rules cannot know the fleets.
    expect(await run([path.join(dir, 'matchmaking.yaml')])).toMatchObject({ code: 0, stderr: [] });
  });

  it("fails a queue whose largest match does not fit its fleet's game server, whichever file comes first", async () => {
    const fleet = (players: number) => arenaFleetYaml({ replicas: 1, players, matchSeconds: 60 });
    const rules = `queues:
  - name: battle
    fleet: arena
    teams: { count: 2, size: 25 }
    minPlayers: 10
`;
    // The rules sort before the fleet: the fleets are read first all the same.
    const dir = tmp({ 'a-matchmaking.yaml': rules, 'z-fleets/arena.yaml': fleet(40) });
    const fleetFile = path.join(dir, 'z-fleets/arena.yaml');
    expect(await run([dir])).toEqual({
      code: 1,
      stdout: [],
      stderr: [`${path.join(dir, 'a-matchmaking.yaml')}:3:12: queues[0].fleet: matches of up to 50 players go to fleet arena, whose game server admits 40 (its MAX_PLAYERS in ${fleetFile}): players past 40 would be turned away`],
    });
    writeFileSync(fleetFile, fleet(50));
    expect((await run([dir])).code).toBe(0);
    // Alone, the rules cannot know the fleet.
    writeFileSync(fleetFile, fleet(40));
    expect((await run([path.join(dir, 'a-matchmaking.yaml')])).code).toBe(0);
    // A fleet that leaves MAX_PLAYERS unset admits the server's default, 100.
    writeFileSync(path.join(dir, 'a-matchmaking.yaml'), rules.replace('size: 25', 'size: 60'));
    writeFileSync(fleetFile, fleet(40).replace(/ {16}- name: MAX_PLAYERS\n {18}value: "40"\n/, ''));
    expect((await run([dir])).stderr).toEqual([
      expect.stringMatching(/matches of up to 120 players go to fleet arena, whose game server admits 100 \(MAX_PLAYERS's default; .*arena\.yaml does not set it\)/),
      expect.stringMatching(/lists\.players\.capacity: MAX_PLAYERS 100 \(its default\) is above the players List's capacity 40/),
    ]);
  });

  it('fails a second FleetAutoscaler on one fleet, in the same file or another, naming the first', async () => {
    const second = ARENA.slice(ARENA.indexOf('apiVersion: autoscaling')).replace('name: arena-autoscaler', 'name: arena-night');
    const dir = tmp({ 'a.yaml': ARENA, 'b.yaml': second });
    const message = `fleet arena already has FleetAutoscaler arena-autoscaler in ${path.join(dir, 'a.yaml')}: a fleet takes one autoscaler (two set its replicas in turn, over and over); remove one, or use a Chain policy`;
    expect(await run([dir])).toEqual({ code: 1, stdout: [], stderr: [`${path.join(dir, 'b.yaml')}:6:14: spec.fleetName: ${message}`] });
    const one = tmp({ 'a.yaml': `${ARENA}---\n${second}` });
    expect((await run([one])).stderr).toEqual([expect.stringMatching(/a\.yaml:36:14: spec\.fleetName: fleet arena already has FleetAutoscaler arena-autoscaler in this file: /)]);
  });

  it('fails a fleet or autoscaler defined a second time, in another file or the same one, naming the first, as the fleets directory refuses it', async () => {
    const dir = tmp({ 'arena.yaml': ARENA, 'more-arena.yml': ARENA });
    const first = path.join(dir, 'arena.yaml');
    const again = (kind: string, name: string) => `${kind} ${name} is already defined in ${first}: write it in one place (two definitions undo each other's edits); remove one`;
    expect(await run([dir])).toEqual({
      code: 1,
      stdout: [],
      stderr: [`${path.join(dir, 'more-arena.yml')}:4:9: metadata.name: ${again('Fleet', 'arena')}`, `${path.join(dir, 'more-arena.yml')}:21:9: metadata.name: ${again('FleetAutoscaler', 'arena-autoscaler')}`],
    });
    const fleet = ARENA.slice(0, ARENA.indexOf('---'));
    const one = tmp({ 'a.yaml': `${fleet}---\n${fleet}` });
    expect((await run([one])).stderr).toEqual([expect.stringMatching(/a\.yaml:21:9: metadata\.name: Fleet arena is already defined at line 4 of this file: /)]);
  });

  it("checks a service config (only Hangar's settings) against its schema, as a service does when it starts", async () => {
    const dir = tmp({ 'staging.yaml': 'api:\n  port: 8001\nallocator:\n  backend: redis\n' });
    const file = path.join(dir, 'staging.yaml');
    expect(await run([file])).toEqual({
      code: 0,
      stdout: [`${file}: service config: API 127.0.0.1:8001, lobby 127.0.0.1:8080, admin 127.0.0.1:9090, allocator backend redis, matchmaker queue memory (before HANGAR_* overrides)`],
      stderr: [],
    });
    writeFileSync(file, 'api:\n  port: eighty\nallocator:\n  backend: redis\n  claim_timeout: 5\n');
    expect(await run([file])).toEqual({
      code: 1,
      stdout: [],
      stderr: [expect.stringMatching(new RegExp(`^${file}:2:9: api\\.port: `)), `${file}:5:3: allocator.claim_timeout: unknown field "claim_timeout"; allowed here: backend, claim_timeout_seconds, ack_timeout_ms, rate_limit_per_second, rate_limit_burst, namespace, cluster, redis_prefix`],
    });
    // A misspelt top-level setting is named as one, not taken for an Agones document without an apiVersion.
    writeFileSync(file, 'api:\n  port: 8001\nlobyy:\n  port: 8081\n');
    expect(await run([file])).toEqual({ code: 1, stdout: [], stderr: [`${file}:3:1: lobyy: unknown field "lobyy" (did you mean "lobby"?)`] });
    // A second document is refused where it starts, and two listeners on one port before any binds.
    writeFileSync(file, 'api:\n  port: 8001\n---\nlobby:\n  port: 8081\n');
    expect(await run([file])).toEqual({
      code: 1,
      stdout: [],
      stderr: [`${file}:4:1: a second YAML document: the service config is one document; merge its settings into the first and remove the "---" line above it`],
    });
    writeFileSync(file, 'api:\n  port: 8001\nlobby:\n  port: 8001\n');
    expect(await run([file])).toEqual({
      code: 1,
      stdout: [],
      stderr: [`${file}:4:9: lobby.port: 8001 is also api.port (both on 127.0.0.1): each listener needs a port of its own, or the second fails to bind at start`],
    });
  });

  it('warns of a fleet or an autoscaler (its fleet in another file) wanting more servers than the stack\'s port range holds, without failing', async () => {
    const [fleet, autoscaler] = ARENA.split('---\n');
    const dir = tmp({ 'a-autoscaler.yaml': autoscaler!.replace('maxReplicas: 20', 'maxReplicas: 5000'), 'b-fleet.yaml': fleet!.replace('replicas: 2', 'replicas: 3000') });
    const result = await run([dir], { bounds: { portRange: { min: 7000, max: 8000 }, maxServers: 5000 } });
    expect(result.code).toBe(0);
    expect(result.stderr).toEqual([
      `${dir}/a-autoscaler.yaml:12:20: warning: spec.policy.buffer.maxReplicas: fleet arena: 5000 servers take 5000 host ports (1 each, its Dynamic and Passthrough ports), and local.port_range 7000-8000 holds 1001: at most 1001 can run here (widen local.port_range for more); the local autoscaler stops there`,
      `${dir}/b-fleet.yaml:6:13: warning: spec.replicas: cannot run locally: 3000 servers take 3000 host ports (1 each, its Dynamic and Passthrough ports), and local.port_range 7000-8000 holds 1001: at most 1001 can run here (widen local.port_range for more)`,
    ]);
    expect((await run([dir])).stderr).toEqual([]);
  });

  it('warns of fleets whose servers together pass local.max_servers, and of an autoscaler stopped by it, naming the setting', async () => {
    const duel = ARENA.split('---\n')[0]!.replace('name: arena', 'name: duel').replace('replicas: 2', 'replicas: 9');
    const dir = tmp({ 'a.yaml': ARENA, 'b-duel.yaml': duel });
    const result = await run([dir], { bounds: { portRange: { min: 7000, max: 8000 }, maxServers: 10 } });
    expect(result.code).toBe(0);
    const more = "the most game-server processes this stack runs for its machine's memory";
    const raise = '(raise local.max_servers for more, if the memory is there)';
    expect(result.stderr).toEqual([
      `${dir}/a.yaml:6:13: warning: spec.replicas: cannot run locally: 2 servers beside the 9 other game servers (fleets' and standalone) pass local.max_servers 10, ${more}: at most 1 can run here ${raise}`,
      `${dir}/a.yaml:29:20: warning: spec.policy.buffer.maxReplicas: fleet arena: 20 servers beside the 9 other game servers (fleets' and standalone) pass local.max_servers 10, ${more}: at most 1 can run here ${raise}; the local autoscaler stops there`,
      `${dir}/b-duel.yaml:6:13: warning: spec.replicas: cannot run locally: 9 servers beside the 2 other game servers (fleets' and standalone) pass local.max_servers 10, ${more}: at most 8 can run here ${raise}`,
    ]);
  });

  it('names a missing file and an empty directory as errors', async () => {
    const empty = tmp({});
    const missing = path.join(empty, 'missing.yaml');
    expect(await run([missing, empty])).toEqual({
      code: 1,
      stdout: [],
      stderr: [`${missing}: cannot read: no such file or directory`, `${empty}: no .yaml or .yml files in this directory`],
    });
  });

  it('exits 2 with usage when no file is given', async () => {
    expect(await run([])).toEqual({
      code: 2,
      stdout: [],
      stderr: ['hangar validate: no files given\nusage: hangar validate FILE|DIR... (directories: every .yaml and .yml file in them)'],
    });
  });
});
