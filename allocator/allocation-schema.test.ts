import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { AllocationInvalidError, ErrorCode } from '../core/errors.js';
import { exampleFiles, exampleText } from '../test/fixtures/agones/agones-fixtures.js';
import type { GameServerAllocationSpec, GameServerSelector } from './allocation.js';
import { MAX_SELECTORS, parseAllocationRequest } from './allocation-schema.js';

// After Agones' TestGameServerAllocationApplyDefaults, TestGameServerAllocationValidate,
// TestGameServerAllocationConverter and the selector/counter/list validation tests.

const FLEET = 'agones.dev/fleet';

function selector(overrides: Partial<GameServerSelector> = {}): GameServerSelector {
  return { matchLabels: {}, matchExpressions: [], gameServerState: 'Ready', counters: {}, lists: {}, ...overrides };
}

function spec(overrides: Partial<GameServerAllocationSpec> = {}): GameServerAllocationSpec {
  return { selectors: [selector()], scheduling: 'Packed', priorities: [], metadata: { labels: {}, annotations: {} }, counters: {}, lists: {}, ...overrides };
}

function problemsOf(json: unknown): string[] {
  try {
    parseAllocationRequest(json);
  } catch (err) {
    expect(err).toBeInstanceOf(AllocationInvalidError);
    return [...(err as AllocationInvalidError).problems];
  }
  throw new Error('expected the request to be refused');
}

describe('parseAllocationRequest: defaults and conversion', () => {
  const cases: Array<{ description: string; input: unknown; expected: GameServerAllocationSpec }> = [
    { description: 'an empty spec allocates any Ready server, Packed', input: {}, expected: spec() },
    {
      description: 'the whole GameServerAllocation object is accepted',
      input: { apiVersion: 'allocation.agones.dev/v1', kind: 'GameServerAllocation', metadata: { name: 'a', namespace: 'default' }, spec: { selectors: [{ matchLabels: { [FLEET]: 'arena' } }] } },
      expected: spec({ selectors: [selector({ matchLabels: { [FLEET]: 'arena' } })] }),
    },
    {
      description: 'a bare spec is accepted',
      input: { selectors: [{ matchLabels: { [FLEET]: 'arena' } }], scheduling: 'Distributed' },
      expected: spec({ selectors: [selector({ matchLabels: { [FLEET]: 'arena' } })], scheduling: 'Distributed' }),
    },
    {
      description: "what client-go sends for an unset field (empty strings and structs, null) means the default",
      input: {
        metadata: { creationTimestamp: null },
        spec: { multiClusterSetting: { policySelector: {} }, required: {}, selectors: [{ matchLabels: { [FLEET]: 'arena' }, gameServerState: null }], scheduling: '', metadata: {}, priorities: null },
        status: { state: '', gameServerName: '', source: '' },
      },
      expected: spec({ selectors: [selector({ matchLabels: { [FLEET]: 'arena' } })] }),
    },
    {
      description: 'deprecated preferred come first, then required (Converter)',
      input: { required: { matchLabels: { game: 'x' } }, preferred: [{ matchLabels: { [FLEET]: 'green' } }, { matchLabels: { [FLEET]: 'blue' } }] },
      expected: spec({ selectors: [selector({ matchLabels: { [FLEET]: 'green' } }), selector({ matchLabels: { [FLEET]: 'blue' } }), selector({ matchLabels: { game: 'x' } })] }),
    },
    {
      description: 'selectors, when set, replace required and preferred',
      input: { required: { matchLabels: { game: 'x' } }, preferred: [{ matchLabels: { a: 'b' } }], selectors: [{ gameServerState: 'Allocated' }] },
      expected: spec({ selectors: [selector({ gameServerState: 'Allocated' })] }),
    },
    {
      description: 'selector defaults: expression values, counters and lists filters, players only when asked',
      input: {
        selectors: [
          {
            matchExpressions: [{ key: 'tier', operator: 'Exists' }],
            players: { maxAvailable: 10 },
            counters: { rooms: { minCount: 1 } },
            lists: { players: { containsValue: 'p1' }, bots: {} },
          },
        ],
      },
      expected: spec({
        selectors: [
          selector({
            matchExpressions: [{ key: 'tier', operator: 'Exists', values: [] }],
            players: { minAvailable: 0, maxAvailable: 10 },
            counters: { rooms: { minCount: 1, maxCount: 0, minAvailable: 0, maxAvailable: 0 } },
            lists: { players: { containsValue: 'p1', minAvailable: 0, maxAvailable: 0 }, bots: { containsValue: '', minAvailable: 0, maxAvailable: 0 } },
          }),
        ],
      }),
    },
    {
      description: 'priorities default to Ascending; actions keep only what is set',
      input: {
        priorities: [{ type: 'Counter', key: 'rooms' }, { type: 'List', key: 'players', order: 'Descending' }, { type: 'List', key: 'bots', order: '' }],
        counters: { rooms: { action: 'Increment', amount: 1 }, seats: { capacity: 4 } },
        lists: { players: { addValues: ['a'] }, bots: { capacity: 0 } },
        metadata: { labels: { mode: 'ranked' }, annotations: { 'hangar.dev/match-id': 'm1' } },
      },
      expected: spec({
        priorities: [
          { type: 'Counter', key: 'rooms', order: 'Ascending' },
          { type: 'List', key: 'players', order: 'Descending' },
          { type: 'List', key: 'bots', order: 'Ascending' },
        ],
        counters: { rooms: { action: 'Increment', amount: 1 }, seats: { capacity: 4 } },
        lists: { players: { addValues: ['a'], deleteValues: [] }, bots: { addValues: [], deleteValues: [], capacity: 0 } },
        metadata: { labels: { mode: 'ranked' }, annotations: { 'hangar.dev/match-id': 'm1' } },
      }),
    },
  ];
  for (const c of cases) {
    it(c.description, () => {
      expect(parseAllocationRequest(c.input)).toEqual(c.expected);
    });
  }

  it.each(exampleFiles().filter((f) => f.includes('gameserverallocation')))("accepts Agones' example %s", (file) => {
    const parsed = parseAllocationRequest(parse(exampleText(file)));
    expect(parsed.selectors.length).toBeGreaterThan(0);
  });

  it("reads Agones' full example as Agones does", () => {
    const parsed = parseAllocationRequest(parse(exampleText('gameserverallocation.yaml')));
    expect(parsed.selectors).toHaveLength(3);
    expect(parsed.selectors[2]).toEqual(
      selector({
        matchLabels: { game: 'my-game' },
        matchExpressions: [{ key: 'tier', operator: 'In', values: ['cache'] }],
        counters: { rooms: { minCount: 1, maxCount: 5, minAvailable: 1, maxAvailable: 10 } },
        lists: { players: { containsValue: 'x6k8z', minAvailable: 1, maxAvailable: 10 } },
      }),
    );
    expect(parsed.counters).toEqual({ rooms: { action: 'Increment', amount: 1, capacity: 5 } });
    expect(parsed.lists).toEqual({ players: { addValues: ['x7un', '8inz'], deleteValues: ['alice', 'bob'], capacity: 40 } });
  });

  it('returns a spec that shares nothing with the request', () => {
    const labels = { mode: 'ranked' };
    const parsed = parseAllocationRequest({ metadata: { labels } });
    labels.mode = 'changed';
    expect(parsed.metadata.labels).toEqual({ mode: 'ranked' });
  });
});

describe('parseAllocationRequest: problems', () => {
  const cases: Array<{ description: string; input: unknown; problems: string[] }> = [
    { description: 'not an object', input: 'allocate please', problems: ['spec: expected an object, got "allocate please"'] },
    { description: 'the wrong apiVersion and kind', input: { apiVersion: 'agones.dev/v1', kind: 'GameServer', spec: {} }, problems: ['apiVersion: must be allocation.agones.dev/v1, got "agones.dev/v1"', 'kind: must be GameServerAllocation, got "GameServer"'] },
    { description: 'a whole object without spec', input: { apiVersion: 'allocation.agones.dev/v1', kind: 'GameServerAllocation' }, problems: ['spec: missing required field "spec"'] },
    { description: 'an unknown field, with a guess', input: { selector: [] }, problems: ['spec.selector: unknown field "selector" (did you mean "selectors"?)'] },
    {
      description: 'an unknown field deep down names its whole path',
      input: { selectors: [{}, { matchExpressions: [{ key: 'a', operator: 'Exists', value: [] }] }] },
      problems: ['spec.selectors[1].matchExpressions[0].value: unknown field "value" (did you mean "values"?)'],
    },
    { description: 'an unknown field at the top of the object', input: { spec: {}, specs: {} }, problems: ['specs: unknown field "specs" (did you mean "spec"?)'] },
    { description: 'a label value that is not a string', input: { selectors: [{ matchLabels: { [FLEET]: 3 } }] }, problems: ['spec.selectors[0].matchLabels[agones.dev/fleet]: expected a string, got 3'] },
    { description: 'a number that is not an integer', input: { selectors: [{ players: { maxAvailable: 1.5 } }] }, problems: ['spec.selectors[0].players.maxAvailable: expected an integer, got 1.5'] },
    {
      description: 'an unknown operator',
      input: { selectors: [{}, { matchExpressions: [{ key: 'tier', operator: 'Inn', values: ['a'] }] }] },
      problems: ['spec.selectors[1].matchExpressions[0].operator: Unsupported value: "Inn" (did you mean "In"?): supported values: "In", "NotIn", "Exists", "DoesNotExist"'],
    },
    { description: 'In without values', input: { selectors: [{ matchExpressions: [{ key: 'tier', operator: 'In' }] }] }, problems: ["spec.selectors[0].matchExpressions[0].values: for 'in', 'notin' operators, values set can't be empty"] },
    { description: 'NotIn with an empty list', input: { selectors: [{ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: [] }] }] }, problems: ["spec.selectors[0].matchExpressions[0].values: for 'in', 'notin' operators, values set can't be empty"] },
    { description: 'Exists with values', input: { selectors: [{ matchExpressions: [{ key: 'tier', operator: 'Exists', values: ['a'] }] }] }, problems: ['spec.selectors[0].matchExpressions[0].values: values set must be empty for exists and does not exist'] },
    { description: 'DoesNotExist with values', input: { selectors: [{ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist', values: ['a'] }] }] }, problems: ['spec.selectors[0].matchExpressions[0].values: values set must be empty for exists and does not exist'] },
    {
      description: 'a selector label key that Kubernetes refuses',
      input: { selectors: [{ matchLabels: { 'bad key': 'x' } }] },
      problems: [
        "spec.selectors[0].matchLabels[bad key]: key name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
      ],
    },
    {
      description: 'an expression value that is no label value',
      input: { selectors: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['ok', 'not ok'] }] }] },
      problems: [
        "spec.selectors[0].matchExpressions[0].values[1]: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
      ],
    },
    { description: 'a state other than Ready or Allocated', input: { selectors: [{ gameServerState: 'Reserved' }] }, problems: ['spec.selectors[0].gameServerState: GameServerState must be either Allocated or Ready, got "Reserved"'] },
    {
      description: 'negative players bounds',
      input: { selectors: [{ players: { minAvailable: -1, maxAvailable: -2 } }] },
      problems: [
        'spec.selectors[0].players.minAvailable: must be greater than or equal to 0',
        'spec.selectors[0].players.maxAvailable: must be greater than or equal to 0',
        'spec.selectors[0].players.minAvailable: minAvailable cannot be greater than maxAvailable',
      ],
    },
    {
      description: 'players minAvailable alone (maxAvailable 0 is below it, as Agones checks)',
      input: { selectors: [{ players: { minAvailable: 2 } }] },
      problems: ['spec.selectors[0].players.minAvailable: minAvailable cannot be greater than maxAvailable'],
    },
    {
      description: 'Counter filters: negative, and max below min',
      input: { selectors: [{ counters: { rooms: { minCount: -1, minAvailable: 5, maxAvailable: 2 }, seats: { minCount: 3, maxCount: 2 } } }] },
      problems: [
        'spec.selectors[0].counters[rooms].minCount: must be greater than or equal to 0',
        'spec.selectors[0].counters[rooms]: maxAvailable must zero or greater than minAvailable 5',
        'spec.selectors[0].counters[seats]: maxCount must zero or greater than minCount 3',
      ],
    },
    {
      description: 'List filters: negative, and max below min',
      input: { selectors: [{ lists: { players: { minAvailable: 4, maxAvailable: 1 }, bots: { maxAvailable: -1 } } }] },
      problems: [
        'spec.selectors[0].lists[players]: maxAvailable must zero or greater than minAvailable 4',
        'spec.selectors[0].lists[bots].maxAvailable: must be greater than or equal to 0',
        // Agones reports a negative maximum twice: it is also below the minimum.
        'spec.selectors[0].lists[bots]: maxAvailable must zero or greater than minAvailable 0',
      ],
    },
    {
      description: 'required and preferred are checked even when selectors replace them',
      input: { selectors: [{}], required: { gameServerState: 'Nope' }, preferred: [{ matchExpressions: [{ key: 'a', operator: 'In' }] }] },
      problems: ['spec.required.gameServerState: GameServerState must be either Allocated or Ready, got "Nope"', "spec.preferred[0].matchExpressions[0].values: for 'in', 'notin' operators, values set can't be empty"],
    },
    { description: 'an unknown scheduling', input: { scheduling: 'Pakced' }, problems: ['spec.scheduling: Unsupported value: "Pakced" (did you mean "Packed"?): supported values: "Packed", "Distributed"'] },
    { description: 'multi-cluster allocation', input: { multiClusterSetting: { enabled: true } }, problems: ['spec.multiClusterSetting.enabled: multi-cluster allocation is not supported: Hangar allocates from its own game servers'] },
    {
      description: `more than ${MAX_SELECTORS} selectors`,
      input: { selectors: Array.from({ length: MAX_SELECTORS + 1 }, () => ({})) },
      problems: [`spec.selectors: must have at most ${MAX_SELECTORS} selectors, got ${MAX_SELECTORS + 1}`],
    },
    {
      description: `preferred and required together more than ${MAX_SELECTORS}`,
      input: { preferred: Array.from({ length: MAX_SELECTORS }, () => ({})) },
      problems: [`spec.preferred: must have at most ${MAX_SELECTORS} selectors, got ${MAX_SELECTORS + 1}`],
    },
    {
      description: 'priorities: type, key and order',
      input: { priorities: [{ type: 'Countr', key: '' }, { type: 'List', key: 'players', order: 'Up' }] },
      problems: ['spec.priorities[0].type: type must be "Counter" or "List" (did you mean "Counter"?), got "Countr"', 'spec.priorities[0].key: key must not be empty', 'spec.priorities[1].order: order must be "Ascending" or "Descending", got "Up"'],
    },
    { description: 'a Counter amount without action', input: { counters: { rooms: { amount: 1 } } }, problems: ['spec.counters[rooms]: action must be "Increment" or "Decrement" if the amount is not nil'] },
    { description: 'a Counter action without amount', input: { counters: { rooms: { action: 'Increment' } } }, problems: ['spec.counters[rooms]: amount must not be nil if action is not nil'] },
    {
      description: 'negative Counter amount and capacity',
      input: { counters: { rooms: { action: 'Decrement', amount: -1, capacity: -5 } } },
      problems: ['spec.counters[rooms].amount: must be greater than or equal to 0', 'spec.counters[rooms].capacity: must be greater than or equal to 0'],
    },
    { description: 'a Counter action Agones would skip at allocation time', input: { counters: { rooms: { action: 'increment', amount: 1 } } }, problems: ['spec.counters[rooms].action: action must be "Increment" or "Decrement" (did you mean "Increment"?), got "increment"'] },
    { description: 'a negative List capacity', input: { lists: { players: { capacity: -1 } } }, problems: ['spec.lists[players].capacity: must be greater than or equal to 0'] },
    { description: 'a List capacity above 1000', input: { lists: { players: { capacity: 1001 } } }, problems: ['spec.lists[players].capacity: must be at most 1000 (a List holds at most 1000 values), got 1001'] },
    {
      description: 'metadata labels and annotations Kubernetes refuses',
      input: { metadata: { labels: { 'mode/': 'x', ok: 'not ok' }, annotations: { '-bad': 'v' } } },
      problems: [
        "spec.metadata.labels[mode/]: key name part must be non-empty",
        "spec.metadata.labels[mode/]: key name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        "spec.metadata.labels[ok]: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        "spec.metadata.annotations[-bad]: key name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
      ],
    },
    {
      // The claim watchdog would read these as unset: the default timeout, and shutdown.
      description: "Hangar's claim-timeout and no-show labels with values nothing reads",
      input: { metadata: { labels: { 'hangar.dev/claim-timeout': '30s', 'hangar.dev/no-show': 'Ready' } } },
      problems: ['spec.metadata.labels[hangar.dev/claim-timeout]: a number of seconds above 0, got "30s"', 'spec.metadata.labels[hangar.dev/no-show]: "ready" or "shutdown", got "Ready"'],
    },
    { description: 'annotations over 256 KiB', input: { metadata: { annotations: { big: 'x'.repeat(256 * 1024) } } }, problems: [`spec.metadata.annotations: may not be more than ${256 * 1024} bytes, got ${256 * 1024 + 3}`] },
  ];
  for (const c of cases) {
    it(c.description, () => {
      expect(problemsOf(c.input)).toEqual(c.problems);
    });
  }

  it("takes Hangar's claim-timeout and no-show labels with the values the claim watchdog reads", () => {
    const labels = { 'hangar.dev/claim-timeout': '2.5', 'hangar.dev/no-show': 'ready' };
    expect(parseAllocationRequest({ metadata: { labels } }).metadata.labels).toEqual(labels);
  });

  it('annotation keys are checked without regard to case, as Kubernetes does', () => {
    expect(parseAllocationRequest({ metadata: { annotations: { 'Hangar.dev/Match-ID': 'x' } } }).metadata.annotations).toEqual({ 'Hangar.dev/Match-ID': 'x' });
  });

  it('throws one coded error with every problem of the request', () => {
    let error: unknown;
    try {
      parseAllocationRequest({ scheduling: 'Nope', counters: { rooms: { amount: 1 } }, selectors: [{ gameServerState: 'Nope' }] });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AllocationInvalidError);
    expect((error as AllocationInvalidError).code).toBe(ErrorCode.ALLOCATION_INVALID);
    expect((error as AllocationInvalidError).problems).toHaveLength(3);
    expect((error as Error).message).toContain('spec.counters[rooms]: action must be');
  });
});

describe('parseAllocationRequest reports every problem at once', () => {
  it('names a misshapen field and a bad value elsewhere in the same answer', () => {
    let problems: readonly string[] = [];
    try {
      parseAllocationRequest({ selectors: [{ matchLabel: {} }], scheduling: 'Sometimes' });
    } catch (err) {
      problems = (err as { problems: readonly string[] }).problems;
    }
    expect(problems).toEqual([
      'spec.selectors[0].matchLabel: unknown field "matchLabel" (did you mean "matchLabels"?)',
      'spec.scheduling: Unsupported value: "Sometimes": supported values: "Packed", "Distributed"',
    ]);
  });
});

describe('parseAllocationRequest: every field is checked for its type', () => {
  // A request that sets every field; then each field in turn gets a value of a type it cannot take.
  const full = {
    apiVersion: 'allocation.agones.dev/v1',
    kind: 'GameServerAllocation',
    metadata: { name: 'n', generateName: 'g', namespace: 'default', labels: { a: 'b' }, annotations: { c: 'd' }, creationTimestamp: null },
    spec: {
      multiClusterSetting: { enabled: false, policySelector: { matchLabels: { a: 'b' }, matchExpressions: [{ key: 'k', operator: 'In', values: ['v'] }] } },
      required: { matchLabels: { a: 'b' } },
      preferred: [{ matchLabels: { c: 'd' } }],
      selectors: [
        {
          matchLabels: { a: 'b' },
          matchExpressions: [{ key: 'k', operator: 'In', values: ['v'] }],
          gameServerState: 'Ready',
          players: { minAvailable: 1, maxAvailable: 5 },
          counters: { c: { minCount: 1, maxCount: 2, minAvailable: 0, maxAvailable: 0 } },
          lists: { l: { containsValue: 'x', minAvailable: 1, maxAvailable: 0 } },
        },
      ],
      scheduling: 'Distributed',
      priorities: [{ type: 'Counter', key: 'c', order: 'Descending' }],
      metadata: { labels: { x: 'y' }, annotations: { z: 'w' } },
      counters: { c: { action: 'Increment', amount: 1, capacity: 3 } },
      lists: { l: { addValues: ['a'], deleteValues: ['b'], capacity: 4 } },
    },
  };

  function leaves(value: unknown, path: Array<string | number> = []): Array<{ path: Array<string | number>; value: unknown }> {
    if (value === null || typeof value !== 'object') return [{ path, value }];
    return [{ path, value }, ...Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, Array.isArray(value) ? Number(k) : k]))];
  }

  it('accepts the request as written', () => {
    expect(() => parseAllocationRequest(full)).not.toThrow();
  });

  // creationTimestamp (null) would take the string.
  it.each(leaves(full).filter((l) => l.path.length > 0 && l.value !== null))('refuses a misshapen $path', ({ path, value }) => {
    const request = structuredClone(full) as Record<string | number, unknown>;
    let owner = request;
    for (const key of path.slice(0, -1)) owner = owner[key] as Record<string | number, unknown>;
    // A value of another kind: a string where anything else was, a list where a string was; 1.5 where an integer was.
    owner[path.at(-1)!] = typeof value === 'string' ? ['x'] : typeof value === 'number' ? 1.5 : 'x';
    expect(problemsOf(request).length).toBeGreaterThan(0);
  });
});
