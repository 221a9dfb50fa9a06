import { describe, expect, it } from '@jest/globals';
import { labelValueProblems, qualifiedNameProblems } from './kubernetes-names.js';

const NAME_REGEX =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const VALUE_REGEX =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

describe('qualifiedNameProblems (Kubernetes IsQualifiedName)', () => {
  const cases: { description: string; key: string; problems: string[] }[] = [
    { description: 'a plain name', key: 'mode', problems: [] },
    { description: 'mixed case, digits, dot, dash and underscore', key: 'Mode_1.x-y', problems: [] },
    { description: 'a DNS prefix', key: 'example.com/mode', problems: [] },
    { description: '63 characters', key: 'a'.repeat(63), problems: [] },
    { description: 'empty', key: '', problems: ['name part must be non-empty', NAME_REGEX] },
    { description: 'a space', key: 'bad key', problems: [NAME_REGEX] },
    { description: 'a leading dash', key: '-mode', problems: [NAME_REGEX] },
    { description: '64 characters', key: 'a'.repeat(64), problems: ['name part must be no more than 63 bytes'] },
    { description: 'an empty prefix', key: '/mode', problems: ['prefix part must be non-empty'] },
    {
      description: 'an upper-case prefix',
      key: 'Example.com/mode',
      problems: [
        "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      ],
    },
    {
      description: 'two slashes',
      key: 'a/b/c',
      problems: [
        "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
      ],
    },
  ];
  for (const c of cases) {
    it(c.description, () => expect(qualifiedNameProblems(c.key)).toEqual(c.problems));
  }
});

describe('labelValueProblems (Kubernetes IsValidLabelValue)', () => {
  const cases: { description: string; value: string; problems: string[] }[] = [
    { description: 'empty', value: '', problems: [] },
    { description: 'a word', value: 'ranked', problems: [] },
    { description: '63 characters', value: 'v'.repeat(63), problems: [] },
    { description: '64 characters', value: 'v'.repeat(64), problems: ['must be no more than 63 bytes'] },
    { description: 'a space', value: 'two words', problems: [VALUE_REGEX] },
    { description: 'a trailing dot', value: 'v1.', problems: [VALUE_REGEX] },
    { description: 'non-ASCII, counted in bytes', value: 'é'.repeat(32), problems: ['must be no more than 63 bytes', VALUE_REGEX] },
  ];
  for (const c of cases) {
    it(c.description, () => expect(labelValueProblems(c.value)).toEqual(c.problems));
  }
});
