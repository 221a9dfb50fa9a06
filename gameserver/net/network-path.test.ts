import { describe, expect, it } from '@jest/globals';
import { numericLookup } from './network-path.js';

describe('numericLookup', () => {
  it('answers a numeric address at once, as it is, with its family', () => {
    const answers: Array<[string, number]> = [];
    numericLookup('127.0.0.1', 4, (err, address, family) => {
      expect(err).toBeNull();
      answers.push([address, family]);
    });
    numericLookup('::1', 6, (_err, address, family) => answers.push([address, family]));
    // Again, answered from what the first call found.
    numericLookup('127.0.0.1', 4, (_err, address, family) => answers.push([address, family]));
    // Synchronously: no deferred callback, so a send goes out within the call.
    expect(answers).toEqual([
      ['127.0.0.1', 4],
      ['::1', 6],
      ['127.0.0.1', 4],
    ]);
  });

  it('leaves a host name to dns.lookup', async () => {
    const answer = await new Promise<[string, number]>((resolve, reject) => numericLookup('localhost', 4, (err, address, family) => (err ? reject(err) : resolve([address, family]))));
    expect(answer).toEqual(['127.0.0.1', 4]);
  });
});
