import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';

// Every game server is a process of its own, many to a machine, so what it loads is paid for in
// each one's idle RSS (BENCHMARKS.md, "idle RSS"). The packages below are the control plane's:
// one came back in through a shared error helper (ioredis, ~10 MiB a game server) with nothing to
// say so. This follows the game server's static imports from its entry point, as Node loads them.

const CONTROL_PLANE_PACKAGES = ['ioredis', 'express', 'zod', 'yaml', 'pg', '@electric-sql/pglite', '@electric-sql/pglite-socket', '@kubernetes/client-node', 'ws', 'ajv', 'jose'];

/** The static value imports, re-exports and requires of a module (type-only imports, which the compiler erases, left out). */
function importsOf(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const specifiers: string[] = [];
  for (const m of source.matchAll(/^\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*'([^']+)'/gms)) {
    const [, , typeOnly, clause, specifier] = m;
    if (typeOnly) continue;
    // `import { type A, type B } from` is erased too.
    const names = /^\{([^}]*)\}$/s.exec(clause!.trim());
    if (names && names[1]!.split(',').every((n) => n.trim() === '' || n.trim().startsWith('type '))) continue;
    specifiers.push(specifier!);
  }
  for (const m of source.matchAll(/^\s*import\s+'([^']+)'/gm)) specifiers.push(m[1]!);
  // CommonJS packages loaded through createRequire.
  for (const m of source.matchAll(/\brequire\('([^']+)'\)/g)) specifiers.push(m[1]!);
  return specifiers;
}

/** Package names reachable from `entry` through relative imports of this repository's TypeScript. */
function packagesReachableFrom(entry: string): Map<string, string> {
  const packages = new Map<string, string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const specifier of importsOf(file)) {
      if (specifier.startsWith('.')) visit(path.resolve(path.dirname(file), specifier.replace(/\.js$/, '.ts')));
      else if (!specifier.startsWith('node:')) {
        const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
        if (!packages.has(name)) packages.set(name, path.relative(process.cwd(), file));
      }
    }
  };
  visit(path.resolve(entry));
  return packages;
}

describe("the game server's imports", () => {
  it("load none of the control plane's packages", () => {
    const reachable = packagesReachableFrom('gameserver/main.ts');
    const offenders = CONTROL_PLANE_PACKAGES.filter((p) => reachable.has(p)).map((p) => `${p} (imported by ${reachable.get(p)})`);
    expect(offenders).toEqual([]);
    // The walk itself works: the game server's own packages are found.
    expect([...reachable.keys()]).toEqual(expect.arrayContaining(['@google-cloud/agones-sdk', 'pino', 'prom-client']));
  });

  it('are followed through re-exports and value imports, not type-only ones', () => {
    const reachable = packagesReachableFrom('core/http-errors.ts');
    // http-errors imports express's types only.
    expect(reachable.has('express')).toBe(false);
    expect(packagesReachableFrom('core/redis-connection.ts').has('ioredis')).toBe(true);
  });
});
