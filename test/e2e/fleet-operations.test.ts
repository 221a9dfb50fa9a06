import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { answer, webhookServerFixture } from '../../fleets/autoscaler/webhook-server-fixture.js';
import type { FleetSummary, GameServerSummary, StrayAutoscalerSummary } from '../../fleets/http-api.js';
import type { LocalStack } from '../../fleets/local-stack.js';
import { runCli } from '../../cli/commands.js';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadRedisConfig } from '../../core/config.js';
import { removeRedisKeys } from '../helpers/redis-keys.js';
import { simpleFleetYaml, stackFixture, startFixtureStack, udpRequest, waitFor, type StackFixture } from '../helpers/local-stack-fixture.js';

// Fleets as ops and designers drive them, on the real local stack with real game-server
// processes: an autoscaler answering a burst of allocations, edits of the fleet files picked up
// while the stack runs (a template change rolls, an invalid edit changes nothing), and the API's
// scale and apply endpoints.

// Health pings every 5 s, 3 missed before Unhealthy: these tests are about scaling and rollouts, and
// a server starved of CPU for a few seconds while the whole suite runs must not be replaced mid-test
// (an Allocated one was, once, with the fixture's 1 s and 2).
const fleetYaml = (name: string, replicas: number) => simpleFleetYaml(name, replicas, { initialDelaySeconds: 1, periodSeconds: 5, failureThreshold: 3 });

const bufferAutoscaler = (fleet: string, size: number) => `---
apiVersion: autoscaling.agones.dev/v1
kind: FleetAutoscaler
metadata:
  name: ${fleet}-autoscaler
spec:
  fleetName: ${fleet}
  policy:
    type: Buffer
    buffer:
      bufferSize: ${size}
      minReplicas: ${size}
      maxReplicas: 20
`;

describe('fleet operations on the local stack', () => {
  let fixture: StackFixture;
  let stack: LocalStack;
  let api: string;

  const get = async <T>(p: string): Promise<T> => (await (await fetch(`${api}${p}`)).json()) as T;
  const servers = async (fleet: string) => (await get<{ items: GameServerSummary[] }>(`/v1/gameservers?fleet=${fleet}`)).items;
  const fleet = (name: string) => get<FleetSummary>(`/v1/fleets/${name}`);
  const readyCount = async (name: string) => (await servers(name)).filter((g) => g.state === 'Ready').length;

  beforeAll(async () => {
    fixture = stackFixture();
    fixture.writeFleet('buffered.yaml', fleetYaml('buffered', 2) + bufferAutoscaler('buffered', 2));
    fixture.writeFleet('rolling.yaml', fleetYaml('rolling', 3));
    stack = await startFixtureStack(fixture);
    api = `http://127.0.0.1:${stack.apiPort}`;
    await waitFor('both fleets Ready', async () => (await readyCount('buffered')) === 2 && (await readyCount('rolling')) === 3);
  });

  afterAll(async () => {
    await stack?.stop();
    await fixture?.cleanup();
  });

  it('a Buffer of 2 raises the desired replicas within a second of a burst of allocations, and 2 Ready servers return', async () => {
    const ready = (await servers('buffered')).filter((g) => g.state === 'Ready');
    const started = performance.now();
    await Promise.all(ready.map((g) => udpRequest(g.ports[0]!.port, 'ALLOCATE')));
    const raised = await waitFor('the autoscaler to raise replicas', async () => ((await fleet('buffered')).spec.replicas >= 4 ? performance.now() - started : undefined), 5000);
    expect(raised).toBeLessThan(1000);
    const summary = await fleet('buffered');
    expect(summary.autoscaler).toMatchObject({ name: 'buffered-autoscaler', policy: 'Buffer', status: { ableToScale: true, desiredReplicas: 4 } });
    await waitFor('2 Ready servers beside the 2 Allocated', async () => (await readyCount('buffered')) === 2, 15_000);
    expect((await servers('buffered')).filter((g) => g.state === 'Allocated')).toHaveLength(2);
  });

  it('an edited template rolls every Ready server and leaves the Allocated one alone', async () => {
    const [busy] = (await servers('rolling')).filter((g) => g.state === 'Ready');
    expect(await udpRequest(busy!.ports[0]!.port, 'ALLOCATE')).toBe('OK');
    await waitFor('Allocated', async () => (await servers('rolling')).some((g) => g.name === busy!.name && g.state === 'Allocated'));
    const before = new Set((await servers('rolling')).map((g) => g.name));
    const edited = fleetYaml('rolling', 3).replace('              command:', '              env:\n                - name: MAP\n                  value: dust2\n              command:');
    writeFileSync(path.join(fixture.fleetsDir, 'rolling.yaml'), edited);
    const after = await waitFor(
      'the rollout to finish',
      async () => {
        const list = await servers('rolling');
        const fresh = list.filter((g) => !before.has(g.name));
        return fresh.length === 2 && fresh.every((g) => g.state === 'Ready') && list.length === 3 ? list : undefined;
      },
      20_000,
    );
    expect(after.find((g) => g.name === busy!.name)?.state).toBe('Allocated');
    const summary = await fleet('rolling');
    expect(summary.spec.template.spec.template.spec.containers[0]!.env).toEqual([{ name: 'MAP', value: 'dust2' }]);
  });

  it('an invalid edit changes nothing and is reported in GET /v1/fleets', async () => {
    const before = (await servers('rolling')).map((g) => g.name).sort();
    writeFileSync(path.join(fixture.fleetsDir, 'rolling.yaml'), fleetYaml('rolling', 3).replace('replicas: 3', 'replicas: lots'));
    const problems = await waitFor('the problem to be reported', async () => {
      const body = await get<{ problems: Array<{ file: string; line: number; path: string; message: string; severity: string }> }>('/v1/fleets');
      return body.problems.length ? body.problems : undefined;
    });
    expect(problems).toEqual([expect.objectContaining({ file: path.join(fixture.fleetsDir, 'rolling.yaml'), line: 6, path: 'spec.replicas', severity: 'error' })]);
    expect((await fleet('rolling')).spec.replicas).toBe(3);
    expect((await servers('rolling')).map((g) => g.name).sort()).toEqual(before);
    // Fixing the file clears the report.
    writeFileSync(path.join(fixture.fleetsDir, 'rolling.yaml'), fleetYaml('rolling', 3));
    await waitFor('the report to clear', async () => (await get<{ problems: unknown[] }>('/v1/fleets')).problems.length === 0);
  });

  it('scales through the API and refuses bad scale requests with a clear message', async () => {
    const scale = (name: string, body: string) => fetch(`${api}/v1/fleets/${name}/scale`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const ok = await scale('rolling', '{"replicas": 1}');
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as FleetSummary).spec.replicas).toBe(1);
    for (const [body, message] of [
      ['{"replicas": -1}', 'replicas: Too small'],
      ['{"replicas": 1.5}', 'replicas: Invalid input: expected int'],
      ['{"replicas": 2, "extra": true}', 'body: Unrecognized key: "extra"'],
      ['{"replicas": ', 'JSON'],
    ] as const) {
      const res = await scale('rolling', body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain(message);
    }
    // Past what the port range holds (25 ports, one a server, some held by the other fleets): refused before the stack drowns in servers waiting for ports.
    const past = await scale('rolling', '{"replicas": 100000}');
    expect(past.status).toBe(400);
    const message = ((await past.json()) as { error: { message: string } }).error.message;
    const others = Number(/beside the (\d+) that other game servers hold/.exec(message)?.[1]);
    expect(others).toBeGreaterThan(0);
    expect(message).toBe(
      `replicas: fleet rolling: 100000 servers take 100000 host ports (1 each, its Dynamic and Passthrough ports) beside the ${others} that other game servers hold, and local.port_range ${fixture.portRange.min}-${fixture.portRange.max} holds 25: at most ${25 - others} can run here (widen local.port_range for more)`,
    );
    const missing = await scale('nope', '{"replicas": 1}');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: 'FLEET_NOT_FOUND', message: 'fleet nope not found' } });
    expect((await fleet('rolling')).spec.replicas).toBe(1);
  });

  it('applies YAML sent to /v1/apply, or reports every problem and applies nothing', async () => {
    const apply = (yaml: string) => fetch(`${api}/v1/apply?file=extra.yaml`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: yaml });
    // What `hangar up` prints on its terminal hears of each apply that changed the stack.
    const heard: Array<[string, string[]]> = [];
    stack.onReload((results) => heard.push(...[...results].map(([file, r]) => [file, r.applied.map((a) => `${a.kind}/${a.name} ${a.action}`)] as [string, string[]])));
    const bad = await apply(`${fleetYaml('extra', 1).replace('replicas: 1', 'replicas: -2')}---\n${fleetYaml('extra2', 1).replace('portPolicy: Passthrough', 'portPolicy: Sometimes')}`);
    expect(bad.status).toBe(422);
    const body = (await bad.json()) as { error: { code: string; problems: Array<{ file: string; path: string }> } };
    expect(body.error.code).toBe('RESOURCE_INVALID');
    expect(body.error.problems.map((p) => `${p.file} ${p.path}`)).toEqual(['extra.yaml spec.replicas', 'extra.yaml spec.template.spec.ports[0].portPolicy']);
    expect((await fetch(`${api}/v1/fleets/extra`)).status).toBe(404);

    const good = await apply(fleetYaml('extra', 1));
    expect(good.status).toBe(200);
    expect(await good.json()).toEqual({ applied: [{ kind: 'Fleet', name: 'extra', action: 'created' }], warnings: [] });
    await waitFor('the applied fleet to be Ready', async () => (await readyCount('extra')) === 1);
    expect(((await (await apply(fleetYaml('extra', 1))).json()) as { applied: unknown[] }).applied).toEqual([{ kind: 'Fleet', name: 'extra', action: 'unchanged' }]);
    expect((await apply('')).status).toBe(400);
    expect(heard).toEqual([
      ['extra.yaml', ['Fleet/extra created']],
      ['extra.yaml', ['Fleet/extra unchanged']],
    ]);
  });

  it('lists every game server with a metrics port in the Prometheus target file', async () => {
    const yaml = fleetYaml('scraped', 1).replace('          portPolicy: Passthrough\n', '          portPolicy: Passthrough\n        - name: metrics\n          portPolicy: Passthrough\n          protocol: TCP\n');
    const res = await fetch(`${api}/v1/apply?file=scraped.yaml`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: yaml });
    expect(res.status).toBe(200);
    const [gs] = await waitFor('the scraped fleet to be Ready', async () => {
      const list = (await servers('scraped')).filter((g) => g.state === 'Ready');
      return list.length === 1 ? list : undefined;
    });
    const metricsPort = gs!.ports.find((p) => p.name === 'metrics')!.port;
    const groups = await waitFor('the target file to list it', async () => {
      const parsed = JSON.parse(readFileSync(stack.targetsFile, 'utf8')) as Array<{ targets: string[]; labels: Record<string, string> }>;
      return parsed.length ? parsed : undefined;
    });
    expect(groups).toEqual([{ targets: [`127.0.0.1:${metricsPort}`], labels: { gameserver: gs!.name, namespace: 'default', fleet: 'scraped' } }]);
  });

  const postYaml = (route: string, file: string, yaml: string) => fetch(`${api}${route}?file=${file}`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: yaml });
  const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string; problems?: Array<{ path: string; message: string }> } }).error;

  it('holds a fleet whose webhook asks for 100000 servers at what the port range holds, answers throughout, says why; deleting the fleet leaves its autoscaler listed without it', async () => {
    const webhook = await webhookServerFixture((_req, res) => answer(res, 200, { response: { scale: true, replicas: 100_000 } }));
    try {
      // 12 host ports a server: the fixture's 25-port range holds 2, and 1 beside the other fleets' servers.
      const ports = Array.from({ length: 12 }, (_, i) => `        - name: p${i}\n          portPolicy: Passthrough\n`).join('');
      const fleetDoc = fleetYaml('greedy', 1).replace('        - name: default\n          portPolicy: Passthrough\n', ports);
      const autoscalerDoc = `apiVersion: autoscaling.agones.dev/v1\nkind: FleetAutoscaler\nmetadata:\n  name: greedy-autoscaler\nspec:\n  fleetName: greedy\n  policy:\n    type: Webhook\n    webhook:\n      url: ${webhook.url}\n`;
      expect((await postYaml('/v1/apply', 'greedy.yaml', `${fleetDoc}---\n${autoscalerDoc}`)).status).toBe(200);
      const held = await waitFor('the autoscaler to scale', async () => {
        const f = await fleet('greedy');
        return f.autoscaler?.status?.desiredReplicas ? f : undefined;
      });
      const others = Number(/beside the (\d+) that other game servers hold/.exec(held.autoscaler?.problem?.message ?? '')?.[1]);
      expect(others).toBeGreaterThan(1);
      expect(others).toBeLessThanOrEqual(13);
      expect(held.spec.replicas).toBe(1);
      expect(held.autoscaler).toMatchObject({
        status: { ableToScale: true, scalingLimited: true, desiredReplicas: 1 },
        problem: {
          code: 'PORT_UNAVAILABLE',
          message: `Webhook asks for 100000 replicas; 100000 servers take 1200000 host ports (12 each, its Dynamic and Passthrough ports) beside the ${others} that other game servers hold, and local.port_range ${fixture.portRange.min}-${fixture.portRange.max} holds 25: at most 1 can run here (widen local.port_range for more), so the fleet is held at 1`,
        },
      });
      expect(webhook.received.length).toBeGreaterThan(0);
      expect((await fetch(`http://127.0.0.1:${stack.adminPort}/health/live`)).status).toBe(200);
      expect((await fleet('greedy')).spec.replicas).toBe(1);

      const deleted = await fetch(`${api}/v1/fleets/greedy`, { method: 'DELETE' });
      expect(deleted.status).toBe(200);
      expect(await deleted.json()).toEqual({
        deleted: [{ kind: 'Fleet', name: 'greedy', action: 'deleted' }],
        notFound: [],
        warnings: ['FleetAutoscaler greedy-autoscaler stays, with no fleet greedy to scale, as in Agones: hangar fleet delete -f with a file naming it deletes it, or apply the fleet again'],
      });
      const listed = await get<{ items: FleetSummary[]; strayAutoscalers: StrayAutoscalerSummary[] }>('/v1/fleets');
      expect(listed.items.map((f) => f.name)).not.toContain('greedy');
      expect(listed.strayAutoscalers).toEqual([expect.objectContaining({ name: 'greedy-autoscaler', fleetName: 'greedy', problem: { code: 'FLEET_NOT_FOUND', message: 'fleet greedy not found' } })]);
      await waitFor('its servers to go', async () => (await servers('greedy')).length === 0, 15_000);

      const byFile = await postYaml('/v1/delete', 'greedy.yaml', `${fleetDoc}---\n${autoscalerDoc}`);
      expect(byFile.status).toBe(200);
      expect(await byFile.json()).toEqual({ deleted: [{ kind: 'FleetAutoscaler', name: 'greedy-autoscaler', action: 'deleted' }], notFound: [{ kind: 'Fleet', name: 'greedy' }], warnings: [] });
      expect((await get<{ strayAutoscalers: unknown[] }>('/v1/fleets')).strayAutoscalers).toEqual([]);
    } finally {
      await webhook.close();
    }
  });

  it('refuses bad deletes with a JSON error naming what, and what a fleet file holds', async () => {
    const missing = await fetch(`${api}/v1/fleets/nope`, { method: 'DELETE' });
    expect(missing.status).toBe(404);
    expect(await errorOf(missing)).toEqual({ code: 'FLEET_NOT_FOUND', message: 'fleet nope not found' });

    const owned = await fetch(`${api}/v1/fleets/rolling`, { method: 'DELETE' });
    expect(owned.status).toBe(409);
    expect(await errorOf(owned)).toEqual({
      code: 'RESOURCE_OWNED_BY_FILE',
      message: `Fleet rolling comes from ${path.join(fixture.fleetsDir, 'rolling.yaml')}, which would bring it back: remove it from that file instead (the stack applies the edit at once)`,
    });
    expect((await fleet('rolling')).name).toBe('rolling');

    // An apply of it is refused the same way: the file's next read would undo it.
    const replicas = (await fleet('rolling')).spec.replicas;
    const applied = await postYaml('/v1/apply', 'x.yaml', readFileSync(path.join(fixture.fleetsDir, 'rolling.yaml'), 'utf8').replace(/replicas: \d+/, 'replicas: 1'));
    expect(applied.status).toBe(409);
    expect(await errorOf(applied)).toEqual({
      code: 'RESOURCE_OWNED_BY_FILE',
      message: `Fleet rolling comes from ${path.join(fixture.fleetsDir, 'rolling.yaml')}, whose next read would undo this apply: edit that file instead, nothing was applied (the stack applies the edit at once)`,
    });
    expect((await fleet('rolling')).spec.replicas).toBe(replicas);

    expect((await postYaml('/v1/delete', 'x.yaml', '')).status).toBe(400);
    const nameless = await postYaml('/v1/delete', 'x.yaml', 'apiVersion: agones.dev/v1\nkind: Fleet\nmetadata:\n  generateName: x-\n');
    expect(nameless.status).toBe(422);
    expect((await errorOf(nameless)).problems).toEqual([expect.objectContaining({ path: 'metadata.name', message: expect.stringMatching(/^a Fleet to delete needs its metadata.name/) })]);
    const nothing = await postYaml('/v1/delete', 'x.yaml', 'apiVersion: autoscaling.agones.dev/v1\nkind: FleetAutoscaler\nmetadata:\n  name: nobody\n');
    expect(nothing.status).toBe(200);
    expect(await nothing.json()).toEqual({ deleted: [], notFound: [{ kind: 'FleetAutoscaler', name: 'nobody' }], warnings: [] });

    // hangar fleet delete -f names each one, as kubectl delete -f does, and exits 1.
    const file = path.join(fixture.dir, 'ghosts.yaml');
    writeFileSync(file, `${simpleFleetYaml('ghost', 1)}---\napiVersion: autoscaling.agones.dev/v1\nkind: FleetAutoscaler\nmetadata:\n  name: ghost-autoscaler\n`);
    const out = { stdout: [] as string[], stderr: [] as string[] };
    const code = await runCli(['fleet', 'delete', '-f', file, '--api', api], { stdout: (l) => out.stdout.push(l), stderr: (l) => out.stderr.push(l) }, {});
    expect({ code, ...out }).toEqual({ code: 1, stdout: [], stderr: ['fleet.agones.dev/ghost not found', 'fleetautoscaler.autoscaling.agones.dev/ghost-autoscaler not found'] });
  });
});

describe('a stack whose local.max_servers is smaller than its port range', () => {
  let fixture: StackFixture;
  let stack: LocalStack;

  beforeAll(async () => {
    fixture = stackFixture({ maxServers: 3 });
    fixture.writeFleet('a.yaml', fleetYaml('a', 2));
    fixture.writeFleet('b.yaml', fleetYaml('b', 0));
    stack = await startFixtureStack(fixture);
  });

  afterAll(async () => {
    await stack?.stop();
    await fixture?.cleanup();
  });

  it("refuses a scale past what max_servers leaves beside the other fleets' servers, naming it, and takes one within it", async () => {
    const scale = (replicas: number) =>
      fetch(`http://127.0.0.1:${stack.apiPort}/v1/fleets/b/scale`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ replicas }) });
    const past = await scale(2);
    expect(past.status).toBe(400);
    expect(((await past.json()) as { error: { message: string } }).error.message).toBe(
      "replicas: fleet b: 2 servers beside the 2 other game servers (fleets' and standalone) pass local.max_servers 3, the most game-server processes this stack runs for its machine's memory: at most 1 can run here (raise local.max_servers for more, if the memory is there)",
    );
    const within = await scale(1);
    expect(within.status).toBe(200);
    expect(((await within.json()) as FleetSummary).spec.replicas).toBe(1);
  });
});

describe('changes to the fleets at the same instant', () => {
  let fixture: StackFixture;
  let stack: LocalStack;
  // In Redis, as the stack keeps its game servers when allocators share them: reading what runs
  // takes a round trip, during which another change could slip in.
  const prefix = `hangar-e2e-bounds-${process.pid}-${randomBytes(4).toString('hex')}`;
  const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

  beforeAll(async () => {
    fixture = stackFixture({ maxServers: 4, extraConfig: `allocator:\n  backend: redis\n  redis_prefix: ${prefix}` });
    stack = await startFixtureStack(fixture, { redis: loadRedisConfig({ REDIS_URL: redisUrl }) });
  });

  afterAll(async () => {
    await stack?.stop();
    await fixture?.cleanup();
    const redis = new Redis(redisUrl);
    await removeRedisKeys(redis, prefix);
    redis.disconnect();
  });

  it('cannot together pass local.max_servers, though each alone fits: the bounds are checked and the change made as one step', async () => {
    const api = `http://127.0.0.1:${stack.apiPort}`;
    const apply = (file: string, yaml: string) => fetch(`${api}/v1/apply?file=${file}`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: yaml });
    for (const name of ['c', 'd']) expect((await apply(`${name}.yaml`, fleetYaml(name, 0))).status).toBe(200);
    const scale = (name: string) => fetch(`${api}/v1/fleets/${name}/scale`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ replicas: 3 }) });
    const answers = await Promise.all([scale('c'), scale('d'), apply('e.yaml', fleetYaml('e', 3)), apply('f.yaml', fleetYaml('f', 3))]);
    expect(answers.filter((r) => r.ok).map((r) => r.url)).toHaveLength(1);
    const fleets = ((await (await fetch(`${api}/v1/fleets`)).json()) as { items: FleetSummary[] }).items;
    expect(fleets.reduce((sum, f) => sum + f.spec.replicas, 0)).toBe(3);

    // One server left: of standalone GameServers applied at once, one runs.
    const solo = (name: string) => `apiVersion: agones.dev/v1\nkind: GameServer\nmetadata:\n  name: ${name}\nspec:\n  ports:\n    - name: default\n      portPolicy: Passthrough\n  template:\n    spec:\n      containers:\n        - name: game\n          command: ["node", "dist/examples/simple-game-server/main.js"]\n`;
    const created = await Promise.all(['s1', 's2', 's3'].map((name) => apply(`${name}.yaml`, solo(name))));
    expect(created.filter((r) => r.ok).map((r) => r.url)).toHaveLength(1);
    const standalone = ((await (await fetch(`${api}/v1/gameservers`)).json()) as { items: GameServerSummary[] }).items.filter((g) => g.fleet === null);
    expect(standalone).toHaveLength(1);
  });
});
