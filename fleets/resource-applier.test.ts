import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ErrorCode } from '../core/errors.js';
import { GameServerState as S, transition } from '../core/game-server.js';
import { silentLogger } from '../core/logger.js';
import { createAutoscalerMetrics, createControllerMetrics, createRegistry } from '../core/metrics.js';
import { MemoryGameServerStore } from '../store/memory-game-server-store.js';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { simpleFleetYaml } from '../test/helpers/local-stack-fixture.js';
import { StepRuntime } from '../test/helpers/step-runtime.js';
import { FleetAutoscalerController } from './autoscaler/autoscaler-controller.js';
import { FleetController } from './fleet-controller.js';
import { ResourceApplier } from './resource-applier.js';

const gameServerYaml = (name: string) => `apiVersion: agones.dev/v1
kind: GameServer
metadata:
  name: ${name}
spec:
  ports:
    - name: default
      portPolicy: Passthrough
  template:
    spec:
      containers:
        - name: game
          command: ["node", "server.js"]
`;

describe('ResourceApplier', () => {
  let dir: string;
  let store: MemoryGameServerStore;
  let controller: FleetController;
  let autoscalers: FleetAutoscalerController;
  let applier: ResourceApplier;
  let runtime: StepRuntime;
  let clock: FakeClock;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hangar-apply-'));
    store = new MemoryGameServerStore();
    runtime = new StepRuntime(store);
    clock = new FakeClock();
    const registry = createRegistry();
    controller = new FleetController({ store, runtime, clock, log: silentLogger, metrics: createControllerMetrics(registry), namespace: 'default' });
    autoscalers = new FleetAutoscalerController({
      fleets: { view: async (n) => (controller.has(n) ? controller.view(n) : undefined), scaleDownOrder: (n) => controller.scaleDownOrder(n), scale: (n, r) => controller.scale(n, r), watch: (l) => controller.watch(l) },
      clock,
      log: silentLogger,
      metrics: createAutoscalerMetrics(registry),
    });
    applier = new ResourceApplier({ controller, autoscalers, store, runtime, log: silentLogger, bounds: { portRange: { min: 7000, max: 7099 }, maxServers: 150 } });
  });

  afterEach(async () => {
    await autoscalers.close();
    await controller.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (file: string, text: string) => writeFileSync(path.join(dir, file), text);
  const sync = async () => {
    const results = await applier.syncDirectory(dir);
    await controller.idle();
    return results;
  };
  const actions = (results: Map<string, { applied: Array<{ kind: string; name: string; action: string }> }>) =>
    [...results.values()].flatMap((r) => r.applied.map((a) => `${a.kind}/${a.name} ${a.action}`));

  it('applies every file, then only what changed', async () => {
    write('a.yaml', simpleFleetYaml('a', 2));
    write('b.yaml', gameServerYaml('solo'));
    expect(actions(await sync())).toEqual(['Fleet/a created', 'GameServer/solo created']);
    expect(controller.liveReplicas('a')).toBe(2);
    expect(await store.get('solo')).toBeDefined();
    expect(actions(await sync())).toEqual(['Fleet/a unchanged', 'GameServer/solo unchanged']);
    write('a.yaml', simpleFleetYaml('a', 3));
    expect(actions(await sync())).toEqual(['Fleet/a configured', 'GameServer/solo unchanged']);
    expect((await store.list({ fleet: 'a' })).length).toBe(3);
    expect(applier.fleetSource('a')).toBe(path.join(dir, 'a.yaml'));
  });

  it('keeps a scale made at run time when an edit leaves the written replicas alone (kubectl three-way rule)', async () => {
    write('a.yaml', simpleFleetYaml('a', 2));
    await sync();
    await controller.scale('a', 5);
    write('a.yaml', simpleFleetYaml('a', 2).replace('portPolicy: Passthrough', 'portPolicy: Passthrough\n          protocol: UDP'));
    await sync();
    expect(controller.liveReplicas('a')).toBe(5);
    write('a.yaml', simpleFleetYaml('a', 4));
    await sync();
    expect(controller.liveReplicas('a')).toBe(4);
  });

  it('an invalid edit changes nothing and keeps the problems until the file is fixed', async () => {
    write('a.yaml', simpleFleetYaml('a', 2));
    await sync();
    write('a.yaml', simpleFleetYaml('a', 7).replace('portPolicy: Passthrough', 'portPolicy: Whenever'));
    const results = await sync();
    expect(actions(results)).toEqual([]);
    expect(controller.liveReplicas('a')).toBe(2);
    expect(await applier.problems()).toEqual([expect.objectContaining({ file: path.join(dir, 'a.yaml'), path: 'spec.template.spec.ports[0].portPolicy', severity: 'error' })]);
    write('a.yaml', simpleFleetYaml('a', 7));
    await sync();
    expect(await applier.problems()).toEqual([]);
    expect(controller.liveReplicas('a')).toBe(7);
  });

  it('says when a file that had errors applies again, even when nothing in it changed, and only then', async () => {
    const file = path.join(dir, 'a.yaml');
    // Broken from the first read, as when the stack starts on a bad file.
    write('a.yaml', simpleFleetYaml('a', 2).replace('portPolicy: Passthrough', 'portPolicy: Whenever'));
    expect((await sync()).get(file)?.recovered).toBeUndefined();
    write('a.yaml', simpleFleetYaml('a', 2));
    expect((await sync()).get(file)).toMatchObject({ recovered: true, applied: [{ kind: 'Fleet', name: 'a', action: 'created' }] });
    expect((await sync()).get(file)?.recovered).toBeUndefined();
    // Broken again, then put back as it was: nothing changes, and it still says so.
    write('a.yaml', simpleFleetYaml('a', 2).replace('portPolicy: Passthrough', 'portPolicy: Whenever'));
    await sync();
    write('a.yaml', simpleFleetYaml('a', 2));
    expect((await sync()).get(file)).toMatchObject({ recovered: true, applied: [{ kind: 'Fleet', name: 'a', action: 'unchanged' }] });
    // Warnings alone never kept a file out: nothing to recover from.
    write('a.yaml', `${simpleFleetYaml('a', 2)}              envFrom:\n                - configMapRef: { name: settings }\n`);
    expect((await sync()).get(file)).toMatchObject({ problems: [expect.objectContaining({ severity: 'warning' })] });
    expect((await sync()).get(file)?.recovered).toBeUndefined();
  });

  it('removes what a file no longer holds, and what a deleted file held', async () => {
    write('a.yaml', `${simpleFleetYaml('a', 1)}---\n${simpleFleetYaml('b', 1)}`);
    write('c.yaml', gameServerYaml('solo'));
    await sync();
    write('a.yaml', simpleFleetYaml('a', 1));
    unlinkSync(path.join(dir, 'c.yaml'));
    expect(actions(await sync())).toEqual(['Fleet/a unchanged', 'Fleet/b deleted', 'GameServer/solo deleted']);
    expect(controller.fleetNames()).toEqual(['a']);
  });

  it('keeps a fleet that moved from one file to another', async () => {
    write('a.yaml', simpleFleetYaml('moving', 1));
    await sync();
    unlinkSync(path.join(dir, 'a.yaml'));
    write('z.yaml', simpleFleetYaml('moving', 1));
    expect(actions(await sync())).toEqual(['Fleet/moving unchanged']);
    expect(controller.has('moving')).toBe(true);
    expect(applier.fleetSource('moving')).toBe(path.join(dir, 'z.yaml'));
  });

  it('refuses a fleet a second file (or a second document) defines, so edits of the file that runs it are not undone', async () => {
    write('arena.yaml', simpleFleetYaml('arena', 2));
    await sync();
    write('arena copy.yaml', simpleFleetYaml('arena', 2));
    write('arena.yaml', simpleFleetYaml('arena', 3));
    const results = await sync();
    expect(actions(results)).toEqual(['Fleet/arena configured']);
    expect(results.get(path.join(dir, 'arena copy.yaml'))!.problems).toEqual([
      {
        file: path.join(dir, 'arena copy.yaml'),
        line: 4,
        col: 9,
        path: 'metadata.name',
        message: `Fleet arena is already defined in ${path.join(dir, 'arena.yaml')}: write it in one place (two definitions undo each other's edits); remove one`,
        severity: 'error',
      },
    ]);
    expect(controller.liveReplicas('arena')).toBe(3);
    expect(applier.fleetSource('arena')).toBe(path.join(dir, 'arena.yaml'));

    // The file that runs it removed, the other takes it over without a gap; one file defining it twice is refused.
    unlinkSync(path.join(dir, 'arena.yaml'));
    expect(actions(await sync())).toEqual(['Fleet/arena configured']);
    expect(controller.liveReplicas('arena')).toBe(2);
    write('arena copy.yaml', `${simpleFleetYaml('arena', 2)}---\n${simpleFleetYaml('arena', 5)}`);
    expect((await sync()).get(path.join(dir, 'arena copy.yaml'))!.problems.map((p) => `${p.line}: ${p.message}`)).toEqual([expect.stringMatching(/^26: Fleet arena is already defined at line 4 of this file: /)]);
    expect(controller.liveReplicas('arena')).toBe(2);
  });

  it('applies a fleet with its autoscaler, and removes the autoscaler with its document', async () => {
    const autoscaler = `---\napiVersion: autoscaling.agones.dev/v1\nkind: FleetAutoscaler\nmetadata:\n  name: a-auto\nspec:\n  fleetName: a\n  policy:\n    type: Buffer\n    buffer:\n      bufferSize: 3\n      maxReplicas: 10\n`;
    write('a.yaml', simpleFleetYaml('a', 1) + autoscaler);
    expect(actions(await sync())).toEqual(['Fleet/a created', 'FleetAutoscaler/a-auto created']);
    await autoscalers.idle();
    await controller.idle();
    expect(controller.liveReplicas('a')).toBe(3);
    write('a.yaml', simpleFleetYaml('a', 1));
    expect(actions(await sync())).toEqual(['Fleet/a unchanged', 'FleetAutoscaler/a-auto deleted']);
    expect(autoscalers.list()).toEqual([]);
  });

  it('refuses a second autoscaler on a fleet, in another file, the same file or through the API, and keeps the first', async () => {
    const autoscaler = (name: string, buffer: number) =>
      `---\napiVersion: autoscaling.agones.dev/v1\nkind: FleetAutoscaler\nmetadata:\n  name: ${name}\nspec:\n  fleetName: a\n  policy:\n    type: Buffer\n    buffer:\n      bufferSize: ${buffer}\n      maxReplicas: 10\n`;
    write('a.yaml', simpleFleetYaml('a', 1) + autoscaler('a-auto', 3));
    write('b.yaml', autoscaler('b-auto', 5).slice(4));
    const results = await sync();
    expect(actions(results)).toEqual(['Fleet/a created', 'FleetAutoscaler/a-auto created']);
    const refusal = `fleet a already has FleetAutoscaler a-auto in ${path.join(dir, 'a.yaml')}: a fleet takes one autoscaler (two set its replicas in turn, over and over); remove one, or use a Chain policy`;
    expect(results.get(path.join(dir, 'b.yaml'))!.problems).toEqual([{ file: path.join(dir, 'b.yaml'), line: 6, col: 14, path: 'spec.fleetName', message: refusal, severity: 'error' }]);
    await autoscalers.idle();
    await controller.idle();
    expect(autoscalers.list().map((a) => a.resource.metadata.name)).toEqual(['a-auto']);
    expect(controller.liveReplicas('a')).toBe(3);

    expect((await applier.applyText(autoscaler('c-auto', 4), 'api.yaml')).problems.map((p) => p.message)).toEqual([refusal]);
    write('a.yaml', simpleFleetYaml('a', 1) + autoscaler('a-auto', 3) + autoscaler('a-other', 4));
    expect((await sync()).get(path.join(dir, 'a.yaml'))!.problems.map((p) => p.message)).toEqual([expect.stringMatching(/^fleet a already has FleetAutoscaler a-auto in this file: /)]);

    // Renamed in its own file, it replaces itself; with the first gone, the other file's applies.
    write('a.yaml', simpleFleetYaml('a', 1) + autoscaler('a-renamed', 3));
    unlinkSync(path.join(dir, 'b.yaml'));
    expect(actions(await sync())).toEqual(['Fleet/a unchanged', 'FleetAutoscaler/a-renamed created', 'FleetAutoscaler/a-auto deleted']);
    write('a.yaml', simpleFleetYaml('a', 1));
    write('b.yaml', autoscaler('b-auto', 5).slice(4));
    expect(actions(await sync())).toEqual(['Fleet/a unchanged', 'FleetAutoscaler/b-auto created', 'FleetAutoscaler/a-renamed deleted']);
  });

  it('refuses a fleet whose replicas the port range cannot hold, and keeps the running one', async () => {
    write('a.yaml', simpleFleetYaml('a', 2));
    await sync();
    write('a.yaml', simpleFleetYaml('a', 100_000));
    const results = await sync();
    expect(results.get(path.join(dir, 'a.yaml'))!.problems).toEqual([
      expect.objectContaining({
        line: 6,
        path: 'spec.replicas',
        message: '100000 servers take 100000 host ports (1 each, its Dynamic and Passthrough ports), and local.port_range 7000-7099 holds 100: at most 100 can run here (widen local.port_range for more)',
        severity: 'error',
      }),
    ]);
    expect(controller.liveReplicas('a')).toBe(2);
    write('a.yaml', simpleFleetYaml('a', 100));
    expect(actions(await sync())).toEqual(['Fleet/a configured']);
  });

  it('refuses a fleet whose replicas pass what local.max_servers leaves beside the fleets of other files', async () => {
    applier = new ResourceApplier({ controller, autoscalers, store, runtime, log: silentLogger, bounds: { portRange: { min: 7000, max: 7999 }, maxServers: 10 } });
    write('a.yaml', simpleFleetYaml('a', 6));
    await sync();
    write('b.yaml', simpleFleetYaml('b', 5));
    expect((await sync()).get(path.join(dir, 'b.yaml'))!.problems).toEqual([
      expect.objectContaining({
        path: 'spec.replicas',
        message:
          "5 servers beside the 6 other game servers (fleets' and standalone) pass local.max_servers 10, the most game-server processes this stack runs for its machine's memory: at most 4 can run here (raise local.max_servers for more, if the memory is there)",
        severity: 'error',
      }),
    ]);
    expect(controller.has('b')).toBe(false);
    write('b.yaml', simpleFleetYaml('b', 4));
    expect(actions(await sync())).toContain('Fleet/b created');
  });

  it('takes a fleet file that lowers replicas while the stack runs more servers than its bounds allow, and refuses one that raises them', async () => {
    write('a.yaml', simpleFleetYaml('a', 6));
    await sync();
    // The same fleets under a lower local.max_servers (a restart with a smaller setting sees this too).
    applier = new ResourceApplier({ controller, autoscalers, store, runtime, log: silentLogger, bounds: { portRange: { min: 7000, max: 7999 }, maxServers: 4 } });
    write('a.yaml', simpleFleetYaml('a', 5));
    const lowered = await sync();
    expect(lowered.get(path.join(dir, 'a.yaml'))!.problems).toEqual([]);
    expect(controller.liveReplicas('a')).toBe(5);
    write('a.yaml', simpleFleetYaml('a', 6));
    expect((await sync()).get(path.join(dir, 'a.yaml'))!.problems).toEqual([expect.objectContaining({ path: 'spec.replicas', message: expect.stringMatching(/^6 servers pass local\.max_servers 4, .*at most 4 can run here/) })]);
    expect(controller.liveReplicas('a')).toBe(5);
  });

  it('takes an edit of a fleet file whose replicas were scaled down since by the live replicas it keeps, not by the written ones', async () => {
    applier = new ResourceApplier({ controller, autoscalers, store, runtime, log: silentLogger, bounds: { portRange: { min: 7000, max: 7999 }, maxServers: 10 } });
    write('a.yaml', simpleFleetYaml('a', 6));
    await sync();
    await controller.scale('a', 2);
    write('b.yaml', simpleFleetYaml('b', 8));
    await sync();
    // replicas: 6 as last applied, so the fleet stays at its live 2: beside b's 8, that fits.
    write('a.yaml', simpleFleetYaml('a', 6).replace('dist/examples', './dist/examples'));
    expect(actions(await sync())).toEqual(['Fleet/a configured', 'Fleet/b unchanged']);
    expect(controller.liveReplicas('a')).toBe(2);
  });

  it('counts standalone GameServers and every fleet\'s host ports against the bounds, naming the resource and the numbers', async () => {
    applier = new ResourceApplier({ controller, autoscalers, store, runtime, log: silentLogger, bounds: { portRange: { min: 7000, max: 7009 }, maxServers: 4 } });
    write('solo.yaml', gameServerYaml('solo-1') + '---\n' + gameServerYaml('solo-2'));
    write('a.yaml', simpleFleetYaml('a', 2));
    expect(actions(await sync())).toEqual(['Fleet/a created', 'GameServer/solo-1 created', 'GameServer/solo-2 created']);
    write('a.yaml', simpleFleetYaml('a', 3));
    expect((await sync()).get(path.join(dir, 'a.yaml'))!.problems).toEqual([
      expect.objectContaining({
        path: 'spec.replicas',
        message:
          "3 servers beside the 2 other game servers (fleets' and standalone) pass local.max_servers 4, the most game-server processes this stack runs for its machine's memory: at most 2 can run here (raise local.max_servers for more, if the memory is there)",
      }),
    ]);
    expect((await applier.applyText(gameServerYaml('solo-3'), 'api.yaml')).problems).toEqual([
      expect.objectContaining({
        file: 'api.yaml',
        path: 'metadata.name',
        message:
          "GameServer solo-3: 1 server beside the 4 other game servers (fleets' and standalone) pass local.max_servers 4, the most game-server processes this stack runs for its machine's memory: at most 0 can run here (raise local.max_servers for more, if the memory is there)",
      }),
    ]);
    expect(await store.get('solo-3')).toBeUndefined();
    // Host ports: the range holds 10; a's 3 servers (its file applies now) and the 2 standalone ones hold 1 each.
    applier = new ResourceApplier({ controller, autoscalers, store, runtime, log: silentLogger, bounds: { portRange: { min: 7000, max: 7009 }, maxServers: 100 } });
    write('b.yaml', simpleFleetYaml('b', 7));
    expect((await sync()).get(path.join(dir, 'b.yaml'))!.problems).toEqual([
      expect.objectContaining({
        path: 'spec.replicas',
        message:
          '7 servers take 7 host ports (1 each, its Dynamic and Passthrough ports) beside the 5 that other game servers hold, and local.port_range 7000-7009 holds 10: at most 5 can run here (widen local.port_range for more)',
      }),
    ]);
    write('b.yaml', simpleFleetYaml('b', 5));
    expect(actions(await sync())).toContain('Fleet/b created');
  });

  it('refuses more than one server of a fleet with a Static port: the others would fail for the port, be replaced and fail again', async () => {
    const fixed = (replicas: number) => simpleFleetYaml('fixed', replicas).replace('          portPolicy: Passthrough', '          portPolicy: Static\n          hostPort: 7500\n          containerPort: 7500');
    write('fixed.yaml', fixed(2));
    expect((await sync()).get(path.join(dir, 'fixed.yaml'))!.problems).toEqual([
      expect.objectContaining({
        path: 'spec.replicas',
        message:
          '2 servers would all bind Static host port 7500 (port default), which one machine has once: at most 1 can run here (use portPolicy Passthrough or Dynamic for more; on Kubernetes each runs on a node of its own)',
        severity: 'error',
      }),
    ]);
    write('fixed.yaml', fixed(1));
    expect(actions(await sync())).toEqual(['Fleet/fixed created']);
  });

  it("warns of an autoscaler whose maxReplicas is more than the port range holds of its fleet's servers, and applies it", async () => {
    const autoscaler = (max: number) =>
      `---\napiVersion: autoscaling.agones.dev/v1\nkind: FleetAutoscaler\nmetadata:\n  name: a-auto\nspec:\n  fleetName: a\n  policy:\n    type: Chain\n    chain:\n      - id: weekend\n        type: Buffer\n        buffer:\n          bufferSize: 2\n          maxReplicas: ${max}\n`;
    write('a.yaml', simpleFleetYaml('a', 1) + autoscaler(100_000));
    const results = await sync();
    expect(actions(results)).toEqual(['Fleet/a created', 'FleetAutoscaler/a-auto created']);
    const warning = {
      path: 'spec.policy.chain[0].buffer.maxReplicas',
      message:
        'fleet a: 100000 servers take 100000 host ports (1 each, its Dynamic and Passthrough ports), and local.port_range 7000-7099 holds 100: at most 100 can run here (widen local.port_range for more); the local autoscaler stops there',
      severity: 'warning',
    };
    expect(results.get(path.join(dir, 'a.yaml'))!.problems).toEqual([expect.objectContaining(warning)]);
    // Through the API, for the fleet already running (refused for being its second autoscaler, and warned of too).
    expect((await applier.applyText(autoscaler(101).replace('a-auto', 'b-auto').slice(4), 'api.yaml')).problems).toEqual([
      expect.objectContaining({ path: 'spec.fleetName', severity: 'error' }),
      expect.objectContaining({ ...warning, message: expect.stringMatching(/^fleet a: 101 servers take 101 host ports .* at most 100 can run here \(widen local.port_range for more\); the local autoscaler stops there$/) }),
    ]);
    write('a.yaml', simpleFleetYaml('a', 1) + autoscaler(100));
    expect((await sync()).get(path.join(dir, 'a.yaml'))!.problems).toEqual([]);
  });

  it("keeps an autoscaler's maxReplicas warning current: its fleet applied after its file, and other fleets taking the room", async () => {
    const maxReplicas = (max: number) =>
      `apiVersion: autoscaling.agones.dev/v1\nkind: FleetAutoscaler\nmetadata:\n  name: a-auto\nspec:\n  fleetName: a\n  policy:\n    type: Buffer\n    buffer:\n      bufferSize: 2\n      maxReplicas: ${max}\n`;
    write('a-auto.yaml', maxReplicas(60));
    expect((await sync()).get(path.join(dir, 'a-auto.yaml'))!.problems).toEqual([]);
    // Its fleet comes later, through the API; the file is not read again.
    await applier.applyText(simpleFleetYaml('a', 1), 'a.yaml');
    expect(await applier.problems()).toEqual([]);
    // Another fleet takes 50 of the 100 ports: 60 of a no longer fit.
    await applier.applyText(simpleFleetYaml('big', 50), 'big.yaml');
    expect(await applier.problems()).toEqual([
      expect.objectContaining({
        file: path.join(dir, 'a-auto.yaml'),
        line: 11,
        path: 'spec.policy.buffer.maxReplicas',
        message: expect.stringMatching(/^fleet a: 60 servers take 60 host ports .* beside the 50 that other game servers hold, .* at most 50 can run here .*; the local autoscaler stops there$/),
        severity: 'warning',
      }),
    ]);
    await applier.delete([{ kind: 'Fleet', name: 'big' }]);
    expect(await applier.problems()).toEqual([]);
  });

  it('applies text from the API without tying it to the directory', async () => {
    const result = await applier.applyText(simpleFleetYaml('api', 1), 'api.yaml');
    expect(result).toEqual({ applied: [{ kind: 'Fleet', name: 'api', action: 'created' }], problems: [] });
    await sync();
    expect(controller.has('api')).toBe(true);
    const bad = await applier.applyText('kind: Fleet\n', 'bad.yaml');
    expect(bad.applied).toEqual([]);
    expect(bad.problems[0]).toMatchObject({ file: 'bad.yaml', severity: 'error' });
    expect(await applier.problems()).toEqual([]);
  });

  describe('delete', () => {
    const autoscalerYaml = (name: string, fleet: string) =>
      `apiVersion: autoscaling.agones.dev/v1\nkind: FleetAutoscaler\nmetadata:\n  name: ${name}\nspec:\n  fleetName: ${fleet}\n  policy:\n    type: Buffer\n    buffer:\n      bufferSize: 1\n      maxReplicas: 10\n`;
    const states = async (fleet: string) => (await store.list({ fleet })).map((g) => g.status.state).sort();

    it("deletes a fleet applied through the API: its Ready servers at once, an Allocated one after its match; its autoscaler stays, without a fleet", async () => {
      await applier.applyText(`${simpleFleetYaml('api', 3)}---\n${autoscalerYaml('api-auto', 'api')}`, 'api.yaml');
      await controller.idle();
      await autoscalers.idle();
      await controller.idle();
      const [busy] = await store.list({ fleet: 'api' });
      await store.update(busy!.metadata.name, (gs) => transition(gs, S.Allocated));
      await controller.idle();

      const result = await applier.delete([{ kind: 'Fleet', name: 'api' }]);
      expect(result).toEqual({
        deleted: [{ kind: 'Fleet', name: 'api', action: 'deleted' }],
        notFound: [],
        warnings: ['FleetAutoscaler api-auto stays, with no fleet api to scale, as in Agones: hangar fleet delete -f with a file naming it deletes it, or apply the fleet again'],
      });
      await controller.idle();
      clock.advance(100); // the autoscaler's batch of changes ends
      await autoscalers.idle();
      expect(controller.has('api')).toBe(false);
      expect(await states('api')).toEqual([S.Allocated]);
      expect(autoscalers.list()[0]).toMatchObject({ problem: { code: ErrorCode.FLEET_NOT_FOUND, message: 'fleet api not found' } });
      await store.update(busy!.metadata.name, (gs) => transition(gs, S.Shutdown));
      await runtime.delete(busy!.metadata.name);
      await controller.idle();
      expect(await states('api')).toEqual([]);

      // What a file names, kind and name only (kubectl delete -f); what is gone already is listed apart.
      const byFile = await applier.deleteText(`kind: FleetAutoscaler\napiVersion: autoscaling.agones.dev/v1\nmetadata:\n  name: api-auto\n---\n${simpleFleetYaml('api', 3)}`, 'api.yaml');
      expect(byFile).toEqual({ deleted: [{ kind: 'FleetAutoscaler', name: 'api-auto', action: 'deleted' }], notFound: [{ kind: 'Fleet', name: 'api' }], warnings: [], problems: [] });
      expect(autoscalers.list()).toEqual([]);
    });

    it('deletes a standalone game server, and names what is not there', async () => {
      await applier.applyText(gameServerYaml('solo'), 'solo.yaml');
      expect((await applier.deleteText(gameServerYaml('solo'), 'solo.yaml')).deleted).toEqual([{ kind: 'GameServer', name: 'solo', action: 'deleted' }]);
      expect(await store.get('solo')).toBeUndefined();
      // Every one that is not there is named, as kubectl delete -f names each, also when none is.
      const none = [
        { kind: 'GameServer', name: 'solo' },
        { kind: 'Fleet', name: 'nope' },
        { kind: 'FleetAutoscaler', name: 'nope' },
      ] as const;
      expect(await applier.delete(none)).toEqual({ deleted: [], notFound: none, warnings: [] });
    });

    it('refuses, deleting nothing, what a file in the fleets directory holds, naming the file', async () => {
      write('a.yaml', simpleFleetYaml('a', 2));
      await sync();
      await applier.applyText(gameServerYaml('solo'), 'solo.yaml');
      const refusal = `Fleet a comes from ${path.join(dir, 'a.yaml')}, which would bring it back: remove it from that file instead (the stack applies the edit at once)`;
      await expect(applier.delete([{ kind: 'GameServer', name: 'solo' }, { kind: 'Fleet', name: 'a' }])).rejects.toMatchObject({ code: ErrorCode.RESOURCE_OWNED_BY_FILE, message: refusal });
      expect(controller.has('a')).toBe(true);
      expect(await store.get('solo')).toBeDefined();
    });

    it('refuses, applying nothing, what a file in the fleets directory holds, naming the file, as a delete is refused', async () => {
      write('a.yaml', simpleFleetYaml('a', 2));
      await sync();
      const before = controller.liveReplicas('a');
      const refusal = `Fleet a comes from ${path.join(dir, 'a.yaml')}, whose next read would undo this apply: edit that file instead, nothing was applied (the stack applies the edit at once)`;
      // The whole request is refused, the game server beside the fleet too.
      await expect(applier.applyText(`${gameServerYaml('solo')}---\n${simpleFleetYaml('a', 5)}`, 'api.yaml')).rejects.toMatchObject({ code: ErrorCode.RESOURCE_OWNED_BY_FILE, message: refusal });
      expect(controller.liveReplicas('a')).toBe(before);
      expect(await store.get('solo')).toBeUndefined();
      // What no file holds still applies.
      expect((await applier.applyText(simpleFleetYaml('b', 1), 'api.yaml')).applied).toEqual([{ kind: 'Fleet', name: 'b', action: 'created' }]);
    });

    it('reports a document that names nothing to delete, and deletes nothing', async () => {
      await applier.applyText(gameServerYaml('solo'), 'solo.yaml');
      const result = await applier.deleteText(`${gameServerYaml('solo')}---\napiVersion: agones.dev/v1\nkind: GameServer\nmetadata:\n  generateName: x-\n`, 'x.yaml');
      expect(result.deleted).toEqual([]);
      expect(result.problems).toEqual([expect.objectContaining({ file: 'x.yaml', line: 17, path: 'metadata.name', message: expect.stringMatching(/^a GameServer to delete needs its metadata.name/) })]);
      expect(await store.get('solo')).toBeDefined();
      expect((await applier.deleteText('# nothing\n', 'empty.yaml')).problems).toEqual([expect.objectContaining({ message: 'the file names nothing to delete', severity: 'error' })]);
    });
  });

  it('reports an unreadable directory as a problem', async () => {
    const results = await applier.syncDirectory(path.join(dir, 'missing'));
    expect([...results.values()][0]!.problems[0]!.message).toMatch(/^cannot read the fleets directory: ENOENT/);
  });
});
