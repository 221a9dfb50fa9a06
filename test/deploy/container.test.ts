import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';

// Dockerfile, .dockerignore and docker-compose.yml, checked without a Docker engine (there is none
// where these tests run): the Dockerfile's instructions and the files they copy, that the image's
// services import only what the image holds, and that the compose file parses, is complete, and
// refers only to files that exist.

const dockerfile = readFileSync('Dockerfile', 'utf8');
/** Instructions with continuation lines joined, comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const stages = instructions.reduce<string[][]>((acc, line) => {
  if (/^FROM /i.test(line)) acc.push([]);
  acc[acc.length - 1]?.push(line);
  return acc;
}, []);
const runtime = stages[stages.length - 1]!;

/** .dockerignore as Docker reads it: later lines win, "!" re-includes. */
function dockerIgnored(file: string): boolean {
  const rules = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  let ignored = false;
  for (const rule of rules) {
    const negate = rule.startsWith('!');
    const pattern = (negate ? rule.slice(1) : rule).replace(/^\//, '');
    const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*\//g, '(.*/)?').replace(/\*/g, '[^/]*')}(/.*)?$`);
    if (re.test(file)) ignored = !negate;
  }
  return ignored;
}

describe('Dockerfile', () => {
  it('builds in stages: dev dependencies to compile, production dependencies only in the image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(stages[0]!.join('\n')).toMatch(/RUN npm ci --ignore-scripts/);
    // `npm run build`: tsc, then the game servers' bundles.
    expect(stages[0]!.join('\n')).toMatch(/RUN npm run build/);
    expect(JSON.parse(readFileSync('package.json', 'utf8')).scripts.build).toBe('tsc -p tsconfig.json && node scripts/bundle.mjs');
    expect(instructions.some((l) => /^RUN npm ci --omit=dev/.test(l))).toBe(true);
    expect(runtime.join('\n')).toMatch(/COPY --from=deps \/app\/node_modules node_modules/);
    expect(runtime.join('\n')).not.toMatch(/npm ci(?! --omit=dev)/);
  });

  it('runs as a non-root user, checks /health/live, and picks the service by its command', () => {
    expect(runtime.filter((l) => /^USER /.test(l))).toEqual(['USER node']);
    expect(runtime.find((l) => l.startsWith('HEALTHCHECK'))).toMatch(/CMD \["node", "scripts\/admin-request.mjs", "live"\]/);
    expect(runtime).toContain('ENTRYPOINT ["/app/scripts/docker-entrypoint.sh"]');
    const exposed = runtime.filter((l) => l.startsWith('EXPOSE')).join(' ').split(/\s+/).slice(1);
    expect(exposed).toEqual(expect.arrayContaining(['7777/tcp', '7778/udp', '8080/tcp', '9090/tcp']));
  });

  it('copies only sources that exist and that .dockerignore lets into the build context', () => {
    const copies = instructions.filter((l) => /^COPY /.test(l) && !/--from=/.test(l));
    expect(copies.length).toBeGreaterThan(5);
    for (const line of copies) {
      const parts = line.split(/\s+/).slice(1).filter((p) => !p.startsWith('--'));
      for (const source of parts.slice(0, -1)) {
        expect([source, existsSync(source)]).toEqual([source, true]);
        expect([source, dockerIgnored(source)]).toEqual([source, false]);
      }
    }
    // And what must stay out does.
    for (const f of ['node_modules', 'dist', '.hangar', '.git', 'k8s', 'scripts/disaster-recovery.sh']) expect([f, dockerIgnored(f)]).toEqual([f, true]);
  });

  it('compiles every folder tsconfig.json includes, and the image holds every file its services import', () => {
    const tsconfig = JSON.parse(readFileSync('tsconfig.json', 'utf8')) as { include: string[] };
    const copied = instructions.filter((l) => /^COPY [a-z]+ [a-z]+$/.test(l)).map((l) => l.split(' ')[1]);
    expect(tsconfig.include.filter((d) => !copied.includes(d))).toEqual([]);
    // Walk the import graph of each service's main.js as compiled; every module it reaches must be
    // under the dist/ folders the runtime stage copies, and every package a production dependency.
    const inImage = runtime.map((l) => /^COPY --from=build \/app\/(dist\/\w+) /.exec(l)?.[1]).filter((d): d is string => d !== undefined);
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
    const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    // The game servers' bundles too: each server.js beside its launcher (main.js), the arena's network worker beside them.
    const entries = ['dist/cli/main.js', 'dist/allocator/main.js', 'dist/gameserver/main.js', 'dist/matchmaker/main.js', 'dist/bundle/gameserver/main.js', 'dist/bundle/simple-game-server/main.js'].filter((f) => existsSync(f));
    expect(entries.length).toBeGreaterThanOrEqual(3);
    const seen = new Set<string>();
    const problems: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      if (!inImage.some((d) => file.startsWith(`${d}/`))) problems.push(`${file} is imported but not copied into the image`);
      const text = readFileSync(file, 'utf8');
      // The bundles are CommonJS: their packages are required, and import.meta.url is __bundleUrl.
      for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|new URL\(\s*['"](\.[^'"]+\.js)['"]\s*,\s*(?:import\.meta\.url|__bundleUrl)|(?<![\w$.])require\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const spec = m[1] ?? m[2] ?? m[3] ?? m[4]!;
        if (spec.startsWith('.')) {
          const target = path.join(path.dirname(file), spec);
          if (!existsSync(target) || !statSync(target).isFile()) problems.push(`${file}: ${spec} does not exist`);
          else visit(target);
        } else if (!builtins.has(spec)) {
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          if (!(name in pkg.dependencies)) problems.push(`${file}: ${name} is not a production dependency`);
        }
      }
    };
    for (const e of entries) visit(e);
    expect(problems).toEqual([]);
    expect(seen.size).toBeGreaterThan(30);
  });
});

describe('docker-entrypoint.sh', () => {
  const entry = (...args: string[]) => spawnSync('sh', ['scripts/docker-entrypoint.sh', ...args], { encoding: 'utf8' });

  it('runs the service the first argument names, and any other command as given', () => {
    const help = entry('hangar', 'help');
    expect(help.status).toBe(0);
    expect(help.stdout + help.stderr).toMatch(/usage: hangar <command>/);
    expect(entry('node', '-e', 'process.stdout.write(process.cwd())').stdout).toBe(process.cwd());
    const none = entry();
    expect([none.status, none.stderr]).toEqual([2, expect.stringContaining('usage: docker run IMAGE')]);
    // Each service name maps onto a compiled main.js.
    const script = readFileSync('scripts/docker-entrypoint.sh', 'utf8');
    for (const m of script.matchAll(/exec node (?:\S+ )*?(dist\/\w+\/main\.js)/g)) expect([m[1], existsSync(m[1]!) || m[1] === 'dist/matchmaker/main.js']).toEqual([m[1], true]);
  });
});

describe('docker-compose.yml', () => {
  type Service = {
    image?: string;
    build?: { context: string };
    command?: string[] | string;
    environment?: Record<string, string | number>;
    volumes?: string[];
    healthcheck?: { test: string[] };
    depends_on?: Record<string, { condition: string }>;
  };
  const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };

  it('parses, and runs the allocator, matchmaker, a fleet of game servers, PostgreSQL, Redis, Prometheus and Grafana', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['allocator', 'fleet', 'grafana', 'matchmaker', 'postgres', 'prometheus', 'redis']);
    for (const name of ['allocator', 'fleet', 'matchmaker']) {
      const s = compose.services[name]!;
      expect([name, s.build?.context, s.image]).toEqual([name, '.', 'hangar:dev']);
    }
    expect(compose.services.allocator!.command).toEqual(['allocator']);
    expect(compose.services.matchmaker!.command).toEqual(['matchmaker']);
    // The stack keeps ENCRYPTION_KEY as the Secret its fleets read: nothing to write by hand first.
    expect(compose.services.fleet!.command).toEqual(['up']);
    expect(compose.services.fleet!.environment).toMatchObject({ ENCRYPTION_KEY: expect.stringContaining('ENCRYPTION_KEY') });
    expect(compose.services.redis!.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
  });

  it('gives every service a health check, and every dependency waits on one', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      expect([name, Array.isArray(s.healthcheck?.test)]).toEqual([name, true]);
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(compose.services[dep]).toBeDefined();
        expect([name, dep, condition]).toEqual([name, dep, expect.stringMatching(/^service_(healthy|started)$/)]);
      }
    }
    expect(compose.services.allocator!.depends_on).toMatchObject({ postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
    expect(compose.services.matchmaker!.depends_on).toMatchObject({ allocator: { condition: 'service_healthy' } });
  });

  it('mounts only files and directories that exist, and named volumes it declares', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (source.startsWith('.')) expect([name, source, existsSync(source)]).toEqual([name, source, true]);
        else expect([name, source, source in compose.volumes]).toEqual([name, source, true]);
      }
    }
    // Prometheus reads the file_sd list where the fleet writes it: the same volume.
    expect(compose.services.fleet!.volumes).toContain('hangar-state:/app/.hangar');
    expect(compose.services.prometheus!.volumes).toContain('hangar-state:/hangar:ro');
    expect(readFileSync('monitoring/prometheus-compose.yml', 'utf8')).toContain('/hangar/prometheus/gameservers.json');
  });

  it('configures the services with the deployment guide\'s variables, secrets only from the environment', () => {
    const env = (name: string) => compose.services[name]!.environment ?? {};
    for (const name of ['allocator', 'matchmaker', 'fleet']) {
      expect(Object.keys(env(name))).toEqual(expect.arrayContaining(['DATABASE_URL', 'REDIS_URL', 'GAME_SERVER_ENV', 'LOG_LEVEL']));
    }
    expect(String(env('matchmaker').ENCRYPTION_KEY)).toMatch(/^\$\{ENCRYPTION_KEY:\?/);
    expect(String(env('matchmaker').JWT_SECRET)).toMatch(/^\$\{JWT_SECRET:\?/);
    expect(env('allocator').HANGAR_ALLOCATOR__BACKEND).toBe('redis');
    expect(env('fleet').HANGAR_ALLOCATOR__BACKEND).toBe('redis');
  });
});
