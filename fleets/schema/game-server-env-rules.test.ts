import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { formatProblem } from '../../core/yaml-source.js';
import { parseResources } from '../schema.js';

// Hangar's game server refuses to start on a bad setting in its environment; a fleet that runs it
// is checked for those settings where it is written.

function problems(text: string): string[] {
  return parseResources(text, 'fleet.yaml', { now: new Date('2026-09-01T00:00:00Z') }).problems.map(formatProblem);
}

const KEY_FROM_SECRET = `                - name: ENCRYPTION_KEY
                  valueFrom:
                    secretKeyRef: { name: hangar, key: encryption-key }
`;

/** A Fleet running Hangar's game server with `env` entries (YAML lines at the env list's indent). */
function fleet(env: string, o: { run?: string; ports?: string[]; capacity?: number } = {}): string {
  const ports = (o.ports ?? ['default']).map((name) => `        - { name: ${name}, portPolicy: Passthrough, protocol: UDP }\n`).join('');
  return `apiVersion: agones.dev/v1
kind: Fleet
metadata:
  name: arena
spec:
  template:
    spec:
      ports:
${ports}      lists:
        players: { capacity: ${o.capacity ?? 100} }
      template:
        spec:
          containers:
            - name: arena
              ${o.run ?? 'command: ["node", "--expose-gc", "dist/gameserver/main.js"]'}
              env:
${env}`;
}

const MAX_100 = `                - name: MAX_PLAYERS
                  value: "100"
`;

describe("Hangar's game server's settings in a fleet", () => {
  it('finds nothing wrong with the shipped arena fleet', () => {
    expect(problems(readFileSync('config/fleets/arena.yaml', 'utf8'))).toEqual([]);
  });

  it('names each setting the server would refuse, at its value, with the rule it breaks', () => {
    const env = `                - name: TICK_RATE
                  value: "abc"
                - name: MAX_PLAYERS
                  value: "9000"
                - name: LOG_LEVEL
                  value: loud
${KEY_FROM_SECRET}`;
    expect(problems(fleet(env))).toEqual([
      'fleet.yaml:19:26: spec.template.spec.template.spec.containers[0].env[0].value: TICK_RATE must be a whole number from 1 to 128, not "abc"; the game server does not start with it',
      'fleet.yaml:21:26: spec.template.spec.template.spec.containers[0].env[1].value: MAX_PLAYERS must be a whole number from 1 to 5000, not "9000"; the game server does not start with it',
      'fleet.yaml:23:26: spec.template.spec.template.spec.containers[0].env[2].value: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, not "loud"; the game server does not start with it',
    ]);
  });

  it('requires the connect-token key, and warns when it is written in the file instead of a Secret', () => {
    expect(problems(fleet(MAX_100))).toEqual([
      'fleet.yaml:17:15: spec.template.spec.template.spec.containers[0].env: ENCRYPTION_KEY is required: the 32-byte key shared with the matchmaker (64 hex digits or base64); the game server does not start with it',
    ]);
    const literal = `${MAX_100}                - name: ENCRYPTION_KEY
                  value: "${'ab'.repeat(32)}"
`;
    expect(problems(fleet(literal))).toEqual([
      'fleet.yaml:21:26: warning: spec.template.spec.template.spec.containers[0].env[1].value: ENCRYPTION_KEY is written in the YAML: anyone who reads the file can mint connect tokens; take it from a Secret (valueFrom.secretKeyRef)',
    ]);
    const short = `${MAX_100}                - name: ENCRYPTION_KEY
                  value: "abcd"
`;
    expect(problems(fleet(short))[0]).toMatch(/env\[1\]\.value: ENCRYPTION_KEY must be 32 bytes, written as 64 hex digits or as base64; the game server does not start with it$/);
  });

  it('leaves a value from elsewhere (a Secret, a field) to the server, which alone can read it', () => {
    const env = `${MAX_100}${KEY_FROM_SECRET}                - name: TICK_RATE
                  valueFrom:
                    configMapKeyRef: { name: tuning, key: tick-rate }
`;
    expect(problems(fleet(env))).toEqual([]);
  });

  it('reads $(NAME) references as Kubernetes expands them: from the entries above, in order', () => {
    const seats = (value: string) => `                - name: SEATS
                  value: "${value}"
                - name: MAX_PLAYERS
                  value: "$(SEATS)"
                - name: TICK_RATE
                  value: "$$(SEATS)"
${KEY_FROM_SECRET}`;
    // Expanded, "$(SEATS)" is 100 and agrees with the List; the escaped "$$(SEATS)" stays literal.
    expect(problems(fleet(seats('100')))).toEqual([
      'fleet.yaml:23:26: spec.template.spec.template.spec.containers[0].env[2].value: TICK_RATE must be a whole number from 1 to 128, not "$(SEATS)"; the game server does not start with it',
    ]);
    expect(problems(fleet(seats('60')))).toContainEqual(expect.stringMatching(/env\[1\]\.value: MAX_PLAYERS 60 is below the players List's capacity 100/));
    // A reference to an entry below it, or to none, is passed on as written: the message says why.
    const later = `                - name: MAX_PLAYERS
                  value: "$(SEATS)"
                - name: SEATS
                  value: "100"
${KEY_FROM_SECRET}`;
    expect(problems(fleet(later))).toEqual([
      'fleet.yaml:19:26: spec.template.spec.template.spec.containers[0].env[0].value: MAX_PLAYERS must be a whole number from 1 to 5000, not "$(SEATS)" ($(SEATS): no env entry above it defines it, so it stays as written); the game server does not start with it',
    ]);
    // Built from a Secret's value, it is known only where the server runs.
    const secret = `${KEY_FROM_SECRET}                - name: MAX_PLAYERS
                  value: "$(ENCRYPTION_KEY)"
`;
    expect(problems(fleet(secret))).toEqual([]);
  });

  it('needs a UDP port for each network worker, named after GAME_PORT_NAME', () => {
    const env = `${MAX_100}${KEY_FROM_SECRET}                - name: NETWORK_WORKERS
                  value: "3"
`;
    expect(problems(fleet(env, { ports: ['default', 'default-1'] }))).toEqual([
      'fleet.yaml:9:9: spec.template.spec.ports: has no port named default-2: the game server binds one UDP port per network thread, named default, default-1, default-2 (GAME_PORT_NAME, NETWORK_WORKERS), and does not start without them',
    ]);
    expect(problems(fleet(env, { ports: ['default', 'default-1', 'default-2'] }))).toEqual([]);
    const renamed = `${MAX_100}${KEY_FROM_SECRET}                - name: GAME_PORT_NAME
                  value: game
`;
    expect(problems(fleet(renamed))).toEqual([expect.stringMatching(/spec\.template\.spec\.ports: has no port named game: /)]);
  });

  it('warns when MAX_PLAYERS and the players List capacity disagree, whichever is larger', () => {
    expect(problems(fleet(`${MAX_100}${KEY_FROM_SECRET}`, { capacity: 150 }))).toEqual([
      'fleet.yaml:19:26: warning: spec.template.spec.template.spec.containers[0].env[0].value: MAX_PLAYERS 100 is below the players List\'s capacity 150: allocation and backfill count 150 seats, and players past 100 are turned away; make them equal',
    ]);
    expect(problems(fleet(KEY_FROM_SECRET, { capacity: 50 }))).toEqual([
      "fleet.yaml:11:30: warning: spec.template.spec.lists.players.capacity: MAX_PLAYERS 100 (its default) is above the players List's capacity 50: the server admits at most 50; make them equal",
    ]);
  });

  it("checks the image's gameserver entry point and the bundle too, and leaves other game servers alone", () => {
    const bad = `                - name: TICK_RATE
                  value: "0"
${MAX_100}${KEY_FROM_SECRET}`;
    expect(problems(fleet(bad, { run: 'args: ["gameserver"]' }))).toEqual([expect.stringMatching(/env\[0\]\.value: TICK_RATE must be a whole number from 1 to 128, not "0"/)]);
    expect(problems(fleet(bad, { run: 'command: ["node", "--expose-gc", "dist/bundle/gameserver/main.js"]' }))).toEqual([expect.stringMatching(/TICK_RATE must be a whole number/)]);
    expect(problems(fleet(bad, { run: 'command: ["node", "dist/server.js"]' }))).toEqual([]);
  });
});
