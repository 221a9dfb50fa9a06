import { describe, expect, it } from '@jest/globals';
import { AllocationInvalidError } from '../core/errors.js';
import { parseAllocationParts, parseAllocationRequest } from './allocation-schema.js';
import { AllocationTemplate, mergeAllocation } from './prepared-allocation.js';

// A template and a prepared allocation's parts make the allocation the whole request would have
// made, and its record's JSON is what JSON.stringify of that allocation writes.

const TEMPLATE = {
  selectors: [{ matchLabels: { 'agones.dev/fleet': 'arena' }, gameServerState: 'Ready' }],
  scheduling: 'Distributed',
  priorities: [{ type: 'List', key: 'players', order: 'Ascending' }],
  metadata: { labels: { 'hangar.dev/queue': 'ranked', mode: 'duel' }, annotations: { team: 'blue' } },
  counters: { rounds: { action: 'Increment', amount: 1 } },
  lists: { players: { addValues: ['bot'], capacity: 10 } },
};

const parts = (json: unknown) => parseAllocationParts(json, 'allocation');

describe('prepared allocations', () => {
  it('merges labels and annotations key by key and Counter and List actions by name, the allocation winning', () => {
    const template = parseAllocationRequest(TEMPLATE);
    const merged = mergeAllocation(template, parts({ metadata: { labels: { mode: 'solo' }, annotations: { 'hangar.dev/match-id': 'm-1' } }, lists: { players: { addValues: ['ann', 'bo'] } } }));
    expect(merged).toEqual(
      parseAllocationRequest({
        ...TEMPLATE,
        metadata: { labels: { 'hangar.dev/queue': 'ranked', mode: 'solo' }, annotations: { team: 'blue', 'hangar.dev/match-id': 'm-1' } },
        // The whole action is the allocation's: the template's capacity does not carry over.
        lists: { players: { addValues: ['ann', 'bo'] } },
      }),
    );
    // What the allocation leaves out is the template's, untouched.
    expect(merged.counters).toBe(template.counters);
    expect(template.metadata.labels).toEqual({ 'hangar.dev/queue': 'ranked', mode: 'duel' });
    const emptyLists = mergeAllocation(template, parts({ lists: {} }));
    expect(emptyLists.lists).toEqual(template.lists);
  });

  it('keeps a Counter or List named __proto__ as a name, in the template or the allocation', () => {
    const template = parseAllocationRequest(JSON.parse('{"lists":{"__proto__":{"capacity":3},"a":{"capacity":1}}}') as object);
    const merged = mergeAllocation(template, parts(JSON.parse('{"lists":{"__proto__":{"addValues":["x"]}},"counters":{"__proto__":{"capacity":2}}}')));
    expect(Object.keys(merged.lists)).toEqual(['__proto__', 'a']);
    expect(Object.getOwnPropertyDescriptor(merged.lists, '__proto__')?.value).toEqual({ addValues: ['x'], deleteValues: [] });
    expect(Object.getOwnPropertyDescriptor(merged.counters, '__proto__')?.value).toEqual({ capacity: 2 });
    expect(Object.getPrototypeOf(merged.lists)).toBe(Object.prototype);
  });

  it("writes the allocation's JSON as JSON.stringify would, from the template's kept JSON where the allocation leaves a part alone", () => {
    const template = new AllocationTemplate(parseAllocationRequest(TEMPLATE));
    for (const json of [
      {},
      { metadata: { annotations: { 'hangar.dev/match-id': 'm-2' } } },
      { metadata: { labels: { mode: 'solo' } }, counters: { rounds: { action: 'Decrement', amount: 2 } } },
      { lists: { players: { addValues: ['ann'], deleteValues: ['bot'] }, spectators: { capacity: 4 } } },
      JSON.parse('{"lists":{"__proto__":{"addValues":["x"]}}}') as object,
    ]) {
      const spec = template.allocation(parts(json), 'allocation');
      expect(template.json(spec)).toBe(JSON.stringify(spec));
      expect(JSON.parse(template.json(spec))).toEqual(parseAllocationRequest(JSON.parse(JSON.stringify(spec)) as object));
    }
    // The template's spec is frozen: no allocation can change what the next one gets.
    expect(Object.isFrozen(template.spec.selectors[0]!.matchLabels)).toBe(true);
  });

  it('names what a prepared allocation may not carry, and every invalid part by its field', () => {
    const problems = (json: unknown) => {
      try {
        parts(json);
      } catch (err) {
        expect(err).toBeInstanceOf(AllocationInvalidError);
        return (err as AllocationInvalidError).problems;
      }
      throw new Error('parsed');
    };
    expect(problems({ selectors: [], scheduling: 'Packed', colour: 'red' })).toEqual([
      'allocation.selectors: not allowed in a prepared allocation: its template gives it (send metadata, counters, lists)',
      'allocation.scheduling: not allowed in a prepared allocation: its template gives it (send metadata, counters, lists)',
      'allocation.colour: unknown field; a prepared allocation carries metadata, counters, lists',
    ]);
    expect(problems([])).toEqual(['allocation: expected an object, got a list']);
    expect(problems({ metadata: { labels: { mode: 7 } } })).toEqual(['allocation.metadata.labels[mode]: expected a string, got 7']);
    expect(problems({ metadata: { labels: { mode: 'not valid!' } }, counters: { rounds: { amount: 1 } }, lists: { players: { capacity: 5000 } } })).toEqual([
      'allocation.counters[rounds]: action must be "Increment" or "Decrement" if the amount is not nil',
      'allocation.lists[players].capacity: must be at most 1000 (a List holds at most 1000 values), got 5000',
      expect.stringMatching(/^allocation\.metadata\.labels\[mode\]: /),
    ]);
  });

  it('refuses an allocation whose annotations, with the template’s, are over the bound', () => {
    const template = new AllocationTemplate(parseAllocationRequest({ metadata: { annotations: { big: 'x'.repeat(200 * 1024) } } }));
    const more = parts({ metadata: { annotations: { more: 'y'.repeat(100 * 1024) } } });
    expect(() => template.allocation(more, 'allocation')).toThrow(/allocation\.metadata\.annotations, with the template's: may not be more than 262144 bytes, got 307207/);
    expect(template.allocation(parts({ metadata: { annotations: { big: 'small now' } } }), 'allocation').metadata.annotations).toEqual({ big: 'small now' });
  });
});
