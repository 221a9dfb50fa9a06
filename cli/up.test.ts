import { describe, expect, it } from '@jest/globals';
import { GameServerState as S, type GameServer, type GameServerState } from '../core/game-server.js';
import { testGameServer } from '../test/helpers/game-servers.js';
import { formatProblem, type SourceProblem } from '../core/yaml-source.js';
import type { ApplyResult } from '../fleets/resource-applier.js';
import type { RulesEdit } from '../matchmaker/rules.js';
import { ServerProgress, writeReload, writeRulesEdit, writeStartProblems } from './up.js';

/** `gs` in `state`: what the store's events carry, whichever way the server got there. */
function inState(gs: GameServer, state: GameServerState): GameServer {
  return { ...gs, status: { ...gs.status, state } };
}

function withPort(gs: GameServer): GameServer {
  return { ...gs, status: { ...gs.status, address: '127.0.0.1', ports: [{ name: 'default', port: 7000 }] } };
}

function withPlayer(gs: GameServer, player: string): GameServer {
  return { ...gs, status: { ...gs.status, lists: { players: { capacity: 10, values: [player] } } } };
}

describe('ServerProgress (hangar up)', () => {
  it("shows a Ready server at the port players are sent, not at a metrics port listed before it", () => {
    const gs = testGameServer('gs-1', { fleet: 'arena' });
    const ready = { ...gs, status: { ...gs.status, state: S.Ready, address: '127.0.0.1', ports: [{ name: 'metrics', port: 7001 }, { name: 'default', port: 7002 }] } };
    expect(new ServerProgress().line({ type: 'modified', object: ready })).toBe('gs-1  Ready  127.0.0.1:7002');
  });

  it('shows a line when a server enters a shown state, none for writes that leave its state as it was', () => {
    const progress = new ServerProgress();
    const created = testGameServer('gs-1', { fleet: 'arena' });
    const scheduled = withPort(inState(created, S.Scheduled));
    const ready = inState(scheduled, S.Ready);
    const allocated = inState(ready, S.Allocated);
    const lines = [
      progress.line({ type: 'added', object: inState(created, S.Scheduled) }),
      progress.line({ type: 'modified', object: scheduled }),
      progress.line({ type: 'modified', object: inState(scheduled, S.RequestReady) }),
      progress.line({ type: 'modified', object: ready }),
      progress.line({ type: 'modified', object: allocated }),
      progress.line({ type: 'modified', object: withPlayer(allocated, 'p1') }),
      progress.line({ type: 'modified', object: withPlayer(allocated, 'p2') }),
      progress.line({ type: 'modified', object: inState(allocated, S.Ready) }),
      progress.line({ type: 'deleted', object: ready }),
      progress.line({ type: 'added', object: inState(created, S.Scheduled) }),
    ];
    expect(lines).toEqual([
      'gs-1  Scheduled',
      undefined,
      undefined,
      'gs-1  Ready  127.0.0.1:7000',
      'gs-1  Allocated',
      undefined,
      undefined,
      'gs-1  Ready  127.0.0.1:7000',
      'gs-1  deleted',
      'gs-1  Scheduled',
    ]);
  });

  it('keeps each server apart', () => {
    const progress = new ServerProgress();
    const a = inState(testGameServer('a'), S.Scheduled);
    const b = inState(testGameServer('b'), S.Scheduled);
    expect([progress.line({ type: 'added', object: a }), progress.line({ type: 'added', object: b }), progress.line({ type: 'modified', object: a })]).toEqual(['a  Scheduled', 'b  Scheduled', undefined]);
  });
});

describe('writeReload (hangar up)', () => {
  const problem: SourceProblem = { file: '/repo/config/fleets/arena.yaml', line: 46, col: 26, path: 'spec.x', message: 'MATCH_SECONDS must be a whole number', severity: 'error' };
  const broken: ApplyResult = { applied: [], problems: [problem] };
  const same: ApplyResult = { applied: [{ kind: 'Fleet', name: 'arena', action: 'unchanged' }], problems: [] };
  const scaled: ApplyResult = { applied: [{ kind: 'Fleet', name: 'arena', action: 'configured' }], problems: [] };

  function run(result: ApplyResult) {
    const out = { stdout: [] as string[], stderr: [] as string[] };
    writeReload(new Map([[problem.file, result]]), { stdout: (l) => out.stdout.push(l), stderr: (l) => out.stderr.push(l) }, '/repo', '12:00:00.000');
    return out;
  }

  it('says a broken file was not applied, and says so again once it applies, even when it changed nothing', () => {
    expect(run(broken)).toEqual({
      stdout: [],
      stderr: [
        '/repo/config/fleets/arena.yaml:46:26: spec.x: MATCH_SECONDS must be a whole number',
        '12:00:00.000  config/fleets/arena.yaml: not applied (1 error(s)); the running stack keeps its previous state',
      ],
    });
    expect(run({ ...same, recovered: true })).toEqual({ stdout: ['12:00:00.000  config/fleets/arena.yaml: applied, nothing in it changed the stack'], stderr: [] });
    // Once fixed, an unchanged file is news no more.
    expect(run(same)).toEqual({ stdout: [], stderr: [] });
    expect(run(broken).stderr).toHaveLength(2);
    expect(run({ ...scaled, recovered: true })).toEqual({ stdout: ['12:00:00.000  config/fleets/arena.yaml: applied', '12:00:00.000  Fleet arena configured'], stderr: [] });
  });
});

describe('writeStartProblems (hangar up)', () => {
  const error: SourceProblem = { file: '/repo/config/fleets/bad.yaml', line: 11, col: 23, path: 'spec.template.spec.ports[0].portPolicy', message: 'must be one of Dynamic, Static, Passthrough, None; got "Often"', severity: 'error' };
  const warning: SourceProblem = { ...error, file: '/repo/config/fleets/ok.yaml', message: 'only on Kubernetes', severity: 'warning' };

  function run(problems: SourceProblem[], fleets: string[], fleetsDir = '/repo/config/fleets') {
    const out = { stdout: [] as string[], stderr: [] as string[] };
    writeStartProblems(problems, fleets, fleetsDir, { stdout: (l) => out.stdout.push(l), stderr: (l) => out.stderr.push(l) }, '/repo');
    return out;
  }

  it('says a rejected file was not applied, not that the fleets directory has no Fleet YAML', () => {
    expect(run([error, warning], [])).toEqual({
      stdout: ['/repo/config/fleets/ok.yaml:11:23: warning: spec.template.spec.ports[0].portPolicy: only on Kubernetes'],
      stderr: [
        '/repo/config/fleets/bad.yaml:11:23: spec.template.spec.ports[0].portPolicy: must be one of Dynamic, Static, Passthrough, None; got "Often"',
        'config/fleets/bad.yaml: not applied (1 error(s)); the stack applies it once it is fixed',
        'no fleets running: fix the problems above',
      ],
    });
    expect(run([error], ['arena']).stderr.slice(1)).toEqual(['config/fleets/bad.yaml: not applied (1 error(s)); the stack applies it once it is fixed']);
  });

  it('points to the fleets directory when it holds no fleet and nothing failed', () => {
    expect(run([warning], [])).toEqual({ stdout: [expect.stringContaining('only on Kubernetes'), 'no fleets to run: add Fleet YAML to config/fleets/'], stderr: [] });
    expect(run([], ['arena'])).toEqual({ stdout: [], stderr: [] });
  });

  it('names no file to fix when the fleets directory itself cannot be read', () => {
    const unreadable: SourceProblem = { file: '/repo/nowhere', line: 1, col: 1, path: '', message: 'cannot read the fleets directory: ENOENT', severity: 'error' };
    expect(run([unreadable], [], '/repo/nowhere').stderr).toEqual([formatProblem(unreadable), 'no fleets running: fix the problems above']);
  });
});

describe('writeRulesEdit (hangar up)', () => {
  const file = '/repo/config/matchmaking.yaml';
  function run(edit: RulesEdit) {
    const out = { stdout: [] as string[], stderr: [] as string[] };
    writeRulesEdit(edit, { stdout: (l) => out.stdout.push(l), stderr: (l) => out.stderr.push(l) }, '/repo', '12:00:00.000');
    return out;
  }

  it('says the running queues stay until a restart, and why a restart would fail', () => {
    expect(run({ file, problems: [], changed: true })).toEqual({
      stdout: ['12:00:00.000  config/matchmaking.yaml changed: the matchmaker reads its queues only at start; restart `hangar up` to use them (it keeps those it started with until then)'],
      stderr: [],
    });
    const problem: SourceProblem = { file, line: 4, col: 30, path: 'queues[0].teams.size', message: 'expected an integer, got "four"', severity: 'error' };
    expect(run({ file, problems: [problem], changed: true })).toEqual({
      stdout: [],
      stderr: [
        '/repo/config/matchmaking.yaml:4:30: queues[0].teams.size: expected an integer, got "four"',
        '12:00:00.000  config/matchmaking.yaml: 1 error(s): the matchmaker keeps the queues it started with, and would not start with this file',
      ],
    });
  });
});
