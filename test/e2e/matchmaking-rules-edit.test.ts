import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { LocalStack } from '../../fleets/local-stack.js';
import type { RulesEdit } from '../../matchmaker/rules.js';
import { stackFixture, startFixtureStack, type StackFixture } from '../helpers/local-stack-fixture.js';

// A designer edits the matchmaking rules while the real local stack runs. The matchmaker reads them
// only at start; an edit used to go unremarked, the lobby serving the old queues as if the file
// were still what it started with. Now each edit that would change the queues is heard, with the
// file's problems, and the running queues stay as they were.

const rules = (size: number | string) => `queues:\n  - name: squads\n    fleet: arena\n    teams: { count: 2, size: ${size} }\n`;

describe('the matchmaking rules edited while the local stack runs', () => {
  let fixture: StackFixture;
  let stack: LocalStack;
  const edits: RulesEdit[] = [];
  let heard: (() => void) | undefined;
  const nextEdit = () => new Promise<void>((resolve) => (heard = resolve));

  beforeAll(async () => {
    fixture = stackFixture({ matchmakingRules: rules(4) });
    stack = await startFixtureStack(fixture);
    stack.onRulesEdit((edit) => {
      edits.push(edit);
      heard?.();
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await fixture?.cleanup();
  });

  const queues = async () => ((await (await fetch(`http://127.0.0.1:${stack.matchmaker.lobby.port}/v1/queues`)).json()) as { queues: Array<{ name: string; teams: unknown }> }).queues;

  it('says what a restart would run, or why it would fail, and keeps the queues it started with', async () => {
    const file = stack.matchmaker.rulesFile;
    let next = nextEdit();
    writeFileSync(file, rules(5));
    await next;
    expect(edits).toEqual([{ file, problems: [], changed: true }]);
    expect(await queues()).toEqual([expect.objectContaining({ name: 'squads', teams: { count: 2, size: 4 } })]);

    next = nextEdit();
    writeFileSync(file, rules('"four"'));
    await next;
    expect(edits[1]).toEqual({ file, problems: [{ file, line: 4, col: 30, path: 'queues[0].teams.size', message: 'expected an integer, got "four"', severity: 'error' }], changed: true });

    // Back as it started: nothing to restart for, so nothing is said; the next edit that changes something is the next heard.
    writeFileSync(file, rules(4));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    next = nextEdit();
    writeFileSync(file, rules(3));
    await next;
    expect(edits.map((e) => e.problems.length)).toEqual([0, 1, 0]);
    expect(await queues()).toEqual([expect.objectContaining({ name: 'squads', teams: { count: 2, size: 4 } })]);
  }, 20_000);
});
