import { describe, expect, it } from '@jest/globals';
import { formatProblem } from '../core/yaml-source.js';
import { localRunProblems } from './local-rules.js';
import { parseResources } from './schema.js';

/** The local-run problems of the one valid document in `text`, as printed. */
function local(text: string): string[] {
  const { resources, problems } = parseResources(text, 'arena.yaml');
  expect(problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([]);
  expect(resources).toHaveLength(1);
  return localRunProblems(resources[0]!).map(formatProblem);
}

const fleet = (container: string): string => `apiVersion: agones.dev/v1
kind: Fleet
metadata:
  name: arena
spec:
  replicas: 2
  template:
    spec:
      container: game
      ports:
        - name: default
          containerPort: 7777
      template:
        spec:
          containers:
${container}`;

const autoscaler = (policy: string): string => `apiVersion: autoscaling.agones.dev/v1
kind: FleetAutoscaler
metadata:
  name: arena-autoscaler
spec:
  fleetName: arena
  policy:
${policy}`;

describe('localRunProblems', () => {
  it('has nothing to say about a container with a command', () => {
    expect(local(fleet('            - name: game\n              command: [node, dist/game.js]\n              env:\n                - { name: MODE, value: arena }\n'))).toEqual([]);
  });

  it('cannot run a game-server container that has only an image', () => {
    expect(local(fleet('            - name: game\n              image: example/game:1.0\n'))).toEqual([
      'arena.yaml:16:15: spec.template.spec.template.spec.containers[0]: container "game" has only an image (example/game:1.0); Hangar runs the game-server container\'s command + args as a process, so add a command (e.g. command: [node, dist/server.js]) to run it locally; the file still applies to Kubernetes unchanged',
    ]);
  });

  it('warns about what only Kubernetes provides: other containers, unknown field refs, envFrom, init containers (secrets come from .hangar/secrets)', () => {
    const text = fleet(`            - name: game
              command: [node, dist/game.js]
              env:
                - name: POD_NAME
                  valueFrom: { fieldRef: { fieldPath: metadata.name } }
                - name: TOKEN
                  valueFrom: { secretKeyRef: { name: tokens, key: game } }
                - name: ACCOUNT
                  valueFrom: { fieldRef: { fieldPath: spec.serviceAccountName } }
              envFrom:
                - configMapRef: { name: settings }
            - name: metrics
              image: example/exporter:1.0
          initContainers:
            - name: migrate
              image: example/migrate:1.0
`);
    expect(local(text)).toEqual([
      'arena.yaml:24:30: warning: spec.template.spec.template.spec.containers[0].env[2].valueFrom: env ACCOUNT comes from fieldRef spec.serviceAccountName, which only Kubernetes provides; locally the variable is left unset',
      'arena.yaml:26:17: warning: spec.template.spec.template.spec.containers[0].envFrom: envFrom reads ConfigMaps and Secrets, which only Kubernetes provides; locally those variables are left unset',
      'arena.yaml:27:15: warning: spec.template.spec.template.spec.containers[1]: container "metrics" is not started locally: Hangar runs only the game-server container ("game") as a process',
      'arena.yaml:30:13: warning: spec.template.spec.template.spec.initContainers: initContainers are not run locally: Hangar starts only the game-server container',
    ]);
  });

  it('cannot run Wasm policies, wherever they sit', () => {
    expect(
      local(
        autoscaler(`    type: Chain
    chain:
      - id: buffer
        type: Buffer
        buffer: { bufferSize: 2, maxReplicas: 10 }
      - id: wasm
        type: Wasm
        wasm:
          from:
            url: { url: "https://example.com/scale.wasm" }
`),
      ),
    ).toEqual(["arena.yaml:16:11: spec.policy.chain[1].wasm: Wasm policies run inside Agones' Wasm runtime; Hangar's local autoscaler cannot run them"]);
  });

  it('cannot reach a webhook by Service name, and doubts an in-cluster URL', () => {
    expect(local(autoscaler('    type: Webhook\n    webhook:\n      service: { name: scaler, namespace: default, path: scale }\n'))).toEqual([
      'arena.yaml:10:16: spec.policy.webhook.service: names a Kubernetes Service, which resolves only inside the cluster; set webhook.url to reach the webhook locally',
    ]);
    expect(local(autoscaler('    type: Webhook\n    webhook:\n      url: https://scaler.default.svc:8000/scale\n'))).toEqual([
      'arena.yaml:10:12: warning: spec.policy.webhook.url: scaler.default.svc looks like an in-cluster Service address, which does not resolve outside the cluster',
    ]);
    expect(local(autoscaler('    type: Webhook\n    webhook:\n      url: http://127.0.0.1:8000/scale\n'))).toEqual([]);
  });
});
