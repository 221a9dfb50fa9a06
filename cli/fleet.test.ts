import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { UsageError } from '../core/errors.js';
import { ApiError } from './api-client.js';
import { startCannedStackApi, type CannedStackApi } from '../test/helpers/canned-stack-api.js';
import { runFleet, type FleetCommandOptions } from './fleet.js';

const FLEET_AND_AUTOSCALER = `apiVersion: agones.dev/v1
kind: Fleet
metadata:
  name: simple
spec:
  replicas: 4
  template:
    spec:
      ports:
        - name: default
          portPolicy: Passthrough
      template:
        spec:
          containers:
            - name: game
              command: [node, dist/examples/simple-game-server/main.js]
---
apiVersion: autoscaling.agones.dev/v1
kind: FleetAutoscaler
metadata:
  name: simple-autoscaler
spec:
  fleetName: simple
  policy:
    type: Buffer
    buffer:
      bufferSize: 2
      maxReplicas: 10
`;

const INVALID = FLEET_AND_AUTOSCALER.replace('replicas: 4', 'replicas: -1').replace('Passthrough', 'Passthru');

let api: CannedStackApi;
beforeEach(async () => {
  api = await startCannedStackApi();
});
afterEach(() => api.close());

async function fleet(args: string[], options: FleetCommandOptions = {}): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runFleet(args, { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) }, { apiUrlFromEnv: api.url, ...options });
  return { code, stdout, stderr };
}

function tmpFile(name: string, text: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'hangar-fleet-')), name);
  writeFileSync(file, text);
  return file;
}

describe('hangar fleet list', () => {
  it('prints one line per fleet, and the fleet files that could not be applied on stderr', async () => {
    expect(await fleet(['list'])).toEqual({
      code: 0,
      stdout: [
        'FLEET   DESIRED  CURRENT  READY  ALLOCATED  RESERVED  PLAYERS  AUTOSCALER',
        'simple        3        3      1          1         0     4/30  Buffer: wants 3, limited',
        'duel          1        1      1          0         0        -  -',
      ],
      stderr: ['problems in fleet files:', 'config/fleets/broken.yaml:6:13: spec.replicas: Invalid input: expected number, received string'],
    });
  });
});

describe('hangar fleet scale', () => {
  it('posts the replicas as JSON and warns that an autoscaler will set them again', async () => {
    expect(await fleet(['scale', 'simple', '5'])).toEqual({
      code: 0,
      stdout: ['fleet simple scaled to 5 replicas'],
      stderr: ['warning: fleet simple has autoscaler simple-autoscaler (Buffer): it sets the replicas again at its next sync'],
    });
    expect(api.requests).toEqual([{ method: 'POST', url: '/v1/fleets/simple/scale', contentType: 'application/json', body: '{"replicas":5}' }]);
    expect(await fleet(['scale', 'duel', '1'])).toEqual({ code: 0, stdout: ['fleet duel scaled to 1 replica'], stderr: [] });
    expect(await fleet(['scale', 'duel', '0'])).toEqual({ code: 0, stdout: ['fleet duel scaled to 0 replicas'], stderr: [] });
  });

  it('sends ADMIN_TOKEN with every change to fleets (scale, apply, delete), and with nothing else', async () => {
    const options = { adminToken: 'op-secret' };
    await fleet(['scale', 'duel', '2'], options);
    await fleet(['apply', '-f', tmpFile('f.yaml', FLEET_AND_AUTOSCALER)], options);
    await fleet(['delete', 'duel'], options);
    await fleet(['list'], options);
    expect(api.requests.map((r) => `${r.method} ${r.url.replace(/\?.*/, '')} ${r.authorization}`)).toEqual([
      'POST /v1/fleets/duel/scale Bearer op-secret',
      'POST /v1/apply Bearer op-secret',
      'DELETE /v1/fleets/duel Bearer op-secret',
      'GET /v1/fleets undefined',
    ]);
  });

  it('passes on the API error for an unknown fleet', async () => {
    await expect(fleet(['scale', 'nope', '2'])).rejects.toThrow(new ApiError(404, 'FLEET_NOT_FOUND', 'fleet nope not found'));
  });

  it('rejects a replica count that is not a non-negative integer, and missing or extra arguments, without a request', async () => {
    for (const [args, message] of [
      [['scale', 'simple', '-1'], 'fleet scale: N must be a non-negative integer, not -1'],
      [['scale', 'simple', '2.5'], 'fleet scale: N must be a non-negative integer, not "2.5"'],
      [['scale', 'simple', 'three'], 'fleet scale: N must be a non-negative integer, not "three"'],
      [['scale', 'simple', '1e3'], 'fleet scale: N must be a non-negative integer, not "1e3"'],
      [['scale', 'simple'], 'fleet scale: give a fleet NAME and a replica count N: fleet scale NAME N'],
      [['scale', 'simple', '2', '3'], 'fleet scale: give a fleet NAME and a replica count N: fleet scale NAME N'],
      [['resize', 'simple', '2'], 'unknown fleet command "resize": use list, scale, apply or delete'],
      [[], 'fleet: which command? use fleet list, scale, apply or delete'],
    ] as const) {
      await expect(fleet([...args])).rejects.toThrow(new UsageError(message));
    }
    expect(api.requests).toEqual([]);
  });
});

describe('hangar fleet apply', () => {
  it('sends the file as YAML and prints what happened to each resource', async () => {
    const file = tmpFile('simple.yaml', FLEET_AND_AUTOSCALER);
    expect(await fleet(['apply', '-f', file])).toEqual({
      code: 0,
      stdout: ['fleet.agones.dev/simple configured', 'fleetautoscaler.autoscaling.agones.dev/simple-autoscaler created'],
      stderr: [],
    });
    expect(api.requests).toEqual([{ method: 'POST', url: `/v1/apply?${new URLSearchParams({ file })}`, contentType: 'application/yaml', body: FLEET_AND_AUTOSCALER }]);
  });

  it('reads stdin for -f -, and prints the warnings the stack returns', async () => {
    const imageOnly = FLEET_AND_AUTOSCALER.replace('name: simple\n', 'name: arena\n').replace(/ {14}command: .*\n/, '              image: arena:1.0\n');
    expect(await fleet(['apply', '--filename', '-'], { stdin: Readable.from([imageOnly]) })).toEqual({
      code: 0,
      stdout: ['fleet.agones.dev/arena created', 'fleetautoscaler.autoscaling.agones.dev/simple-autoscaler created'],
      stderr: ['<stdin>:15:15: warning: spec.template.spec.template.spec.containers[0]: cannot run locally: the container has no command'],
    });
    expect(api.requests[0]?.url).toBe('/v1/apply?file=%3Cstdin%3E');
  });

  it('prints every problem as file:line:col: field.path: message and exits 1 when the YAML is invalid', async () => {
    const file = tmpFile('broken.yaml', INVALID);
    expect(await fleet(['apply', '-f', file])).toEqual({
      code: 1,
      stdout: [],
      stderr: [
        `${file}:6:13: spec.replicas: Too small: expected number to be >=0`,
        `${file}:11:23: spec.template.spec.ports[0].portPolicy: Invalid option: expected one of "Dynamic"|"Static"|"Passthrough"|"None"`,
      ],
    });
  });

  it('exits 1 without a request when the file cannot be read or is empty', async () => {
    const missing = path.join(tmpdir(), 'hangar-no-such-dir', 'fleet.yaml');
    expect(await fleet(['apply', '-f', missing])).toEqual({ code: 1, stdout: [], stderr: [`${missing}: cannot read: no such file or directory`] });
    expect(await fleet(['delete', '-f', tmpdir()])).toEqual({ code: 1, stdout: [], stderr: [`${tmpdir()}: cannot read: is a directory: give a file`] });
    expect(await fleet(['apply', '-f', '-'], { stdin: Readable.from(['\n  \n']) })).toEqual({ code: 1, stdout: [], stderr: ['<stdin>: empty: nothing to apply'] });
    expect(api.requests).toEqual([]);
  });

  it('needs -f', async () => {
    await expect(fleet(['apply'])).rejects.toThrow(new UsageError('fleet apply: -f FILE is required (-f - reads stdin)'));
    await expect(fleet(['apply', 'simple.yaml'])).rejects.toMatchObject({ code: 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' });
  });
});

describe('hangar fleet delete', () => {
  it('deletes a fleet by name, as kubectl delete fleet does', async () => {
    expect(await fleet(['delete', 'duel'])).toEqual({ code: 0, stdout: ['fleet.agones.dev/duel deleted'], stderr: [] });
    expect(api.requests).toEqual([{ method: 'DELETE', url: '/v1/fleets/duel', contentType: undefined, authorization: undefined, body: '' }]);
  });

  it("passes on the stack's refusal of a fleet a fleets-directory file holds, and of an unknown fleet", async () => {
    await expect(fleet(['delete', 'simple'])).rejects.toThrow(
      new ApiError(409, 'RESOURCE_OWNED_BY_FILE', 'Fleet simple comes from config/fleets/simple.yaml, which would bring it back: remove it from that file instead'),
    );
    await expect(fleet(['delete', 'nope'])).rejects.toThrow(new ApiError(404, 'FLEET_NOT_FOUND', 'fleet nope not found'));
  });

  it('deletes what a file names (-f), says what was not there, and exits 1 for it', async () => {
    const yaml = FLEET_AND_AUTOSCALER.replace('name: simple\n', 'name: gone\n');
    const file = tmpFile('gone.yaml', yaml);
    expect(await fleet(['delete', '-f', file])).toEqual({
      code: 1,
      stdout: ['fleetautoscaler.autoscaling.agones.dev/simple-autoscaler deleted'],
      stderr: ['fleet.agones.dev/gone not found'],
    });
    expect(api.requests).toEqual([{ method: 'POST', url: `/v1/delete?${new URLSearchParams({ file })}`, contentType: 'application/yaml', authorization: undefined, body: yaml }]);
    expect(await fleet(['delete', '-f', '-'], { stdin: Readable.from(['\n']) })).toEqual({ code: 1, stdout: [], stderr: ['<stdin>: empty: nothing to delete'] });
  });

  it('needs a NAME or -f FILE, not both', async () => {
    for (const args of [['delete'], ['delete', 'a', 'b'], ['delete', 'a', '-f', 'a.yaml']]) {
      await expect(fleet(args)).rejects.toThrow(new UsageError('fleet delete: give a fleet NAME, or -f FILE to delete what the file names (-f - reads stdin)'));
    }
    expect(api.requests).toEqual([]);
  });
});
