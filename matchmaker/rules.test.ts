import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ErrorCode, MatchmakingRulesInvalidError } from '../core/errors.js';
import { formatProblem } from '../core/yaml-source.js';
import type { FleetResource } from '../core/resources.js';
import { parseResources } from '../fleets/schema.js';
import { arenaFleetYaml } from '../test/helpers/local-stack-fixture.js';
import { fleetSeatWarnings, loadMatchmakingRules, parseMatchmakingRules } from './rules.js';
import type { QueueRules } from './ticket.js';

/** Every problem of `text` as it is printed. */
function problems(text: string): string[] {
  return parseMatchmakingRules(text, 'mm.yaml').problems.map(formatProblem);
}

/** One queue, indented under `queues:`, after a valid head. */
const queue = (body: string): string => `queues:
  - name: tdm
    fleet: arena
    teams: { count: 2, size: 4 }
${body}`;

describe('defaults', () => {
  it('fills a minimal queue: full matches only, no skill or latency limit, solo, 5 minutes to live', () => {
    const { queues, problems } = parseMatchmakingRules(queue(''), 'mm.yaml');
    expect(problems).toEqual([]);
    const expected: QueueRules[] = [
      {
        name: 'tdm',
        mode: 'tdm',
        fleet: 'arena',
        teams: { count: 2, size: 4 },
        minPlayers: 8,
        maxPlayers: 8,
        fillWaitSeconds: 30,
        skill: { initial: Infinity, steps: [] },
        latency: { initial: Infinity, steps: [] },
        maxPartySize: 1,
        ticketTtlSeconds: 300,
        backfill: false,
        acceptTimeoutSeconds: null,
      },
    ];
    expect(queues).toEqual(expected);
  });

  it('keeps every field written, and defaults minPlayers to a written maxPlayers', () => {
    const { queues, problems } = parseMatchmakingRules(
      queue(`    mode: tdm-ranked
    maxPlayers: 6
    fillWaitSeconds: 20
    skill: { initial: 100, steps: [{ afterSeconds: 10, value: 200 }] }
    latency: { initial: 50 }
    maxPartySize: 3
    ticketTtlSeconds: 120
    backfill: true
    accept: { timeoutSeconds: 15 }
`),
      'mm.yaml',
    );
    expect(problems.map(formatProblem)).toEqual(['mm.yaml:7:5: warning: queues[0].fillWaitSeconds: has no effect: minPlayers equals maxPlayers (6), so every match is full']);
    const expected: QueueRules = {
      name: 'tdm',
      mode: 'tdm-ranked',
      fleet: 'arena',
      teams: { count: 2, size: 4 },
      minPlayers: 6,
      maxPlayers: 6,
      fillWaitSeconds: 20,
      skill: { initial: 100, steps: [{ afterSeconds: 10, value: 200 }] },
      latency: { initial: 50, steps: [] },
      maxPartySize: 3,
      ticketTtlSeconds: 120,
      backfill: true,
      acceptTimeoutSeconds: 15,
    };
    expect(queues[0]).toEqual(expected);
    expect(Object.isFrozen(queues[0]!.skill.steps)).toBe(true);
  });

  it('reads config/matchmaking.yaml without a problem', async () => {
    const { queues, warnings } = await loadMatchmakingRules('config/matchmaking.yaml');
    expect(warnings).toEqual([]);
    expect(queues.map((q) => [q.name, q.fleet, q.teams, q.minPlayers, q.maxPlayers, q.maxPartySize, q.backfill, q.acceptTimeoutSeconds])).toEqual([
      ['duel', 'arena', { count: 2, size: 1 }, 2, 2, 1, false, 10],
      ['team-deathmatch', 'arena', { count: 2, size: 4 }, 6, 8, 4, true, null],
      ['battle', 'arena', { count: 2, size: 25 }, 10, 50, 5, true, null],
    ]);
  });
});

interface ProblemCase {
  description: string;
  yaml: string;
  expected: string[];
}

const cases: ProblemCase[] = [
  // The file as a whole.
  { description: 'a YAML syntax error', yaml: 'queues:\n  - name: a\n   fleet: b\n', expected: ['mm.yaml:3:1: YAML syntax: Sequence item without - indicator'] },
  { description: 'an empty file', yaml: '# nothing yet\n', expected: ['mm.yaml:1:1: the file has no queues: write `queues:` with a list of queues'] },
  {
    description: 'a second document',
    yaml: `${queue('')}---\nqueues: []\n`,
    expected: ["mm.yaml:6:1: one document only: list every queue under the first document's `queues:`"],
  },
  { description: 'a list at the top', yaml: '- name: duel\n', expected: ['mm.yaml:1:1: expected a mapping (key: value), got a list'] },
  {
    description: 'a misspelt queues',
    yaml: 'queue: []\n',
    expected: ['mm.yaml:1:1: queues: missing required field "queues"', 'mm.yaml:1:1: queue: unknown field "queue" (did you mean "queues"?)'],
  },
  { description: 'no queues in the list', yaml: 'queues: []\n', expected: ['mm.yaml:1:9: queues: must have at least 1 items, got 0'] },
  { description: 'a queue that is no mapping', yaml: 'queues:\n  - duel\n', expected: ['mm.yaml:2:5: queues[0]: expected a mapping (key: value), got "duel"'] },

  // Shapes and types.
  {
    description: 'missing required fields',
    yaml: 'queues:\n  - name: duel\n    teams: { count: 2 }\n',
    expected: ['mm.yaml:2:5: queues[0].fleet: missing required field "fleet"', 'mm.yaml:3:5: queues[0].teams.size: missing required field "size"'],
  },
  {
    description: 'an unknown field with a near name',
    yaml: queue('    minPlayer: 6\n'),
    expected: ['mm.yaml:5:5: queues[0].minPlayer: unknown field "minPlayer" (did you mean "minPlayers"?)'],
  },
  {
    description: 'an unknown nested field with a near name',
    yaml: queue('    accept: { timeoutSecs: 10 }\n'),
    expected: [
      'mm.yaml:5:5: queues[0].accept.timeoutSeconds: missing required field "timeoutSeconds"',
      'mm.yaml:5:15: queues[0].accept.timeoutSecs: unknown field "timeoutSecs" (did you mean "timeoutSeconds"?)',
    ],
  },
  {
    description: 'an unknown field with no near name lists the allowed ones',
    yaml: queue('    skill: { initial: 100, curve: linear }\n'),
    expected: ['mm.yaml:5:28: queues[0].skill.curve: unknown field "curve"; allowed here: initial, steps'],
  },
  {
    description: 'a quoted number',
    yaml: queue('    maxPlayers: "8"\n'),
    expected: ['mm.yaml:5:17: queues[0].maxPlayers: expected an integer, got "8" (the quotes make it a string; write 8 without them)'],
  },
  { description: 'a fraction', yaml: queue('    fillWaitSeconds: 2.5\n'), expected: ['mm.yaml:5:22: queues[0].fillWaitSeconds: expected an integer, got 2.5'] },
  { description: 'a word for a boolean', yaml: queue('    backfill: yes\n'), expected: ['mm.yaml:5:15: queues[0].backfill: expected true or false, got "yes"'] },
  { description: 'a mapping for a list', yaml: queue('    latency: { initial: 50, steps: { afterSeconds: 10, value: 90 } }\n'), expected: ['mm.yaml:5:36: queues[0].latency.steps: expected a list, got a mapping'] },
  {
    description: 'a name with capitals',
    yaml: 'queues:\n  - name: Duel\n    fleet: arena\n    teams: { count: 2, size: 1 }\n',
    expected: ["mm.yaml:2:11: queues[0].name: must be lowercase letters, digits and '-', starting and ending with a letter or digit, got \"Duel\""],
  },
  {
    description: 'a fleet name with an underscore',
    yaml: 'queues:\n  - name: duel\n    fleet: arena_eu\n    teams: { count: 2, size: 1 }\n',
    expected: ["mm.yaml:3:12: queues[0].fleet: must be lowercase letters, digits and '-', starting and ending with a letter or digit, got \"arena_eu\""],
  },
  {
    description: 'no teams of size zero',
    yaml: 'queues:\n  - name: duel\n    fleet: arena\n    teams: { count: 2, size: 0 }\n',
    expected: ['mm.yaml:4:30: queues[0].teams.size: must be at least 1, got 0'],
  },
  { description: 'no negative window', yaml: queue('    skill: { initial: -5 }\n'), expected: ['mm.yaml:5:23: queues[0].skill.initial: must be at least 0, got -5'] },
  { description: 'no zero time to live', yaml: queue('    ticketTtlSeconds: 0\n'), expected: ['mm.yaml:5:23: queues[0].ticketTtlSeconds: must be at least 1, got 0'] },

  // Rules between fields.
  {
    description: 'minPlayers above a written maxPlayers',
    yaml: queue('    minPlayers: 7\n    maxPlayers: 6\n'),
    expected: ['mm.yaml:5:17: queues[0].minPlayers: minPlayers 7 is more than maxPlayers 6'],
  },
  {
    description: 'minPlayers above the default maxPlayers says where the maximum comes from',
    yaml: queue('    minPlayers: 10\n'),
    expected: ['mm.yaml:5:17: queues[0].minPlayers: minPlayers 10 is more than maxPlayers 8 (teams.count × teams.size, as maxPlayers is not set)'],
  },
  {
    description: 'maxPlayers above the seats of the teams',
    yaml: queue('    minPlayers: 6\n    maxPlayers: 9\n'),
    expected: ['mm.yaml:6:17: queues[0].maxPlayers: maxPlayers 9 is more than the 8 seats of teams (2 × 4)'],
  },
  {
    description: 'a party larger than a team',
    yaml: queue('    maxPartySize: 5\n'),
    expected: ['mm.yaml:5:19: queues[0].maxPartySize: a party of 5 cannot fit on a team of 4: a party plays on one team'],
  },
  {
    description: 'a party larger than the whole match',
    yaml: 'queues:\n  - name: coop\n    fleet: arena\n    teams: { count: 1, size: 8 }\n    maxPlayers: 4\n    maxPartySize: 6\n',
    expected: ['mm.yaml:6:19: queues[0].maxPartySize: a party of 6 is more than maxPlayers 4'],
  },
  {
    description: 'steps out of order',
    yaml: queue('    skill:\n      initial: 100\n      steps:\n        - { afterSeconds: 30, value: 200 }\n        - { afterSeconds: 30, value: 300 }\n        - { afterSeconds: 20, value: 400 }\n'),
    expected: [
      "mm.yaml:9:27: queues[0].skill.steps[1].afterSeconds: must be more than the previous step's afterSeconds 30: steps are listed in the order they happen",
      "mm.yaml:10:27: queues[0].skill.steps[2].afterSeconds: must be more than the previous step's afterSeconds 30: steps are listed in the order they happen",
    ],
  },
  {
    description: 'a first step narrower than initial',
    yaml: queue('    latency: { initial: 80, steps: [{ afterSeconds: 10, value: 60 }] }\n'),
    expected: ['mm.yaml:5:64: queues[0].latency.steps[0].value: 60 narrows the window (initial is 80): a window only widens while a ticket waits'],
  },
  {
    description: 'a later step narrower than the one before',
    yaml: queue('    skill:\n      initial: 100\n      steps:\n        - { afterSeconds: 10, value: 300 }\n        - { afterSeconds: 20, value: 200 }\n'),
    expected: ['mm.yaml:9:38: queues[0].skill.steps[1].value: 200 narrows the window (steps[0].value is 300): a window only widens while a ticket waits'],
  },
  {
    description: 'a step that does not widen (warning)',
    yaml: queue('    skill: { initial: 100, steps: [{ afterSeconds: 10, value: 100 }] }\n'),
    expected: ['mm.yaml:5:63: warning: queues[0].skill.steps[0].value: does not widen the window: initial is 100 already'],
  },
  {
    description: 'a step after the time to live (warning)',
    yaml: queue('    ticketTtlSeconds: 60\n    latency: { initial: 50, steps: [{ afterSeconds: 60, value: 90 }] }\n'),
    expected: ['mm.yaml:6:53: warning: queues[0].latency.steps[0].afterSeconds: 60 is not less than ticketTtlSeconds 60: tickets expire before this step'],
  },
  {
    description: 'fillWaitSeconds without short matches (warning)',
    yaml: queue('    fillWaitSeconds: 10\n'),
    expected: ['mm.yaml:5:5: warning: queues[0].fillWaitSeconds: has no effect: minPlayers equals maxPlayers (8), so every match is full'],
  },
  {
    description: 'fillWaitSeconds beyond the time to live (warning)',
    yaml: queue('    minPlayers: 6\n    fillWaitSeconds: 60\n    ticketTtlSeconds: 60\n'),
    expected: ['mm.yaml:6:22: warning: queues[0].fillWaitSeconds: 60 is not less than ticketTtlSeconds 60: tickets expire before a short match may start'],
  },
  {
    description: 'a queue name used twice',
    yaml: `${queue('')}  - name: tdm\n    fleet: arena\n    teams: { count: 2, size: 4 }\n`,
    expected: ['mm.yaml:5:11: queues[1].name: duplicate queue name "tdm": queues[0] (line 2) has it already'],
  },
];

describe('problems', () => {
  for (const c of cases) {
    it(c.description, () => {
      expect(problems(c.yaml)).toEqual(c.expected);
    });
  }

  it('reports every queue, and loads the valid ones', () => {
    const text = `queues:
  - name: duel
    fleet: arena
    teams: { count: 2, size: 1 }
  - name: tdm
    fleet: arena
    teams: { count: 2, size: 4 }
    maxPartySize: 5
  - name: ffa
    fleet: arena
    teams: { count: 8, size: "1" }
`;
    const { queues, problems } = parseMatchmakingRules(text, 'mm.yaml');
    expect(problems.map(formatProblem)).toEqual([
      'mm.yaml:8:19: queues[1].maxPartySize: a party of 5 cannot fit on a team of 4: a party plays on one team',
      'mm.yaml:11:30: queues[2].teams.size: expected an integer, got "1" (the quotes make it a string; write 1 without them)',
    ]);
    expect(queues.map((q) => q.name)).toEqual(['duel']);
  });
});

describe('loadMatchmakingRules', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'hangar-rules-'));

  it('throws MatchmakingRulesInvalidError listing every error with its position', async () => {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, queue('    minPlayers: 10\n    backfil: true\n'));
    const err = await loadMatchmakingRules(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MatchmakingRulesInvalidError);
    expect((err as MatchmakingRulesInvalidError).code).toBe(ErrorCode.MATCHMAKING_RULES_INVALID);
    expect((err as MatchmakingRulesInvalidError).problems).toEqual([`${file}:6:5: queues[0].backfil: unknown field "backfil" (did you mean "backfill"?)`]);
  });

  it('names a rules file it cannot read, and the setting that points at it, instead of failing with a bare ENOENT', async () => {
    const file = path.join(dir, 'absent.yaml');
    const err = await loadMatchmakingRules(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MatchmakingRulesInvalidError);
    expect((err as MatchmakingRulesInvalidError).problems).toEqual([expect.stringMatching(new RegExp(`^${file}: cannot read the matchmaking rules file \\(matchmaker\\.rules_file\\): ENOENT`))]);
  });

  it('returns warnings alongside the queues', async () => {
    const file = path.join(dir, 'warn.yaml');
    writeFileSync(file, queue('    fillWaitSeconds: 10\n'));
    const { queues, warnings } = await loadMatchmakingRules(file);
    expect(queues).toHaveLength(1);
    expect(warnings.map((w) => w.severity)).toEqual(['warning']);
  });
});

describe('fleetSeatWarnings', () => {
  /** The e2e arena fleet, with MAX_PLAYERS written (`players`) or left to its default. */
  const arena = (players?: number) => {
    const yaml = arenaFleetYaml({ replicas: 1, players: players ?? 100, matchSeconds: 60 });
    const text = players === undefined ? yaml.replace(/ +- name: MAX_PLAYERS\n +value: "\d+"\n/, '') : yaml;
    return parseResources(text, 'arena.yaml').resources[0]!.resource as FleetResource;
  };
  const { queues } = parseMatchmakingRules(`${queue('')}  - name: duel\n    fleet: other\n    teams: { count: 2, size: 1 }\n`, 'mm.yaml');

  it("points at MAX_PLAYERS when the fleet writes it, at the container when it leaves the default, and says nothing when the match fits", () => {
    expect(fleetSeatWarnings(arena(6), queues, 'mm.yaml')).toEqual([
      {
        path: ['spec', 'template', 'spec', 'template', 'spec', 'containers', 0, 'env', 1, 'value'],
        message: 'queue tdm (mm.yaml): matches of up to 8 players go to fleet arena, whose game server admits 6 (MAX_PLAYERS here): players past 6 would be turned away',
        severity: 'warning',
      },
    ]);
    expect(fleetSeatWarnings(arena(8), queues, 'mm.yaml')).toEqual([]);
    const large = parseMatchmakingRules(queue('').replace('size: 4', 'size: 200'), 'mm.yaml').queues;
    expect(fleetSeatWarnings(arena(), large, 'mm.yaml')).toEqual([
      {
        path: ['spec', 'template', 'spec', 'template', 'spec', 'containers', 0],
        message: expect.stringMatching(/^queue tdm \(mm\.yaml\): matches of up to 400 players go to fleet arena, whose game server admits \d+ \(MAX_PLAYERS's default: this fleet does not set it\)/),
        severity: 'warning',
      },
    ]);
  });
});
