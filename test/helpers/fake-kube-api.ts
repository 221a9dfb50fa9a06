import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { loadCrd, schemaAt } from '../fixtures/agones/agones-fixtures.js';
import { CrdValidator } from '../fixtures/agones/crd-validator.js';

// A Kubernetes API server for tests, over real HTTP (node:http), serving what Hangar's Agones
// backend touches: agones.dev/v1 GameServers (a custom resource) and
// allocation.agones.dev/v1 GameServerAllocations (Agones' aggregated, create-only API). It follows
// the real API's rules where Hangar depends on them:
//   - one resourceVersion counter for every write, like etcd's revision; lists carry it in
//     metadata.resourceVersion;
//   - watch (?watch=true&resourceVersion=N) streams JSON lines of ADDED / MODIFIED / DELETED from
//     just after N; with no resourceVersion (or "0") it first sends the current objects as ADDED;
//     after compact(), a watch from an older version gets, like the watch cache, HTTP 200 and one
//     ERROR event carrying a 410 Expired Status, then the stream ends (errorNextWatches() sends other
//     codes the same way); holdWatches() delays what
//     watches are sent while answers go on (a watch trails the writes it reports, as a real one does);
//   - update (PUT) requires metadata.resourceVersion and answers 409 Conflict when it is stale;
//     merge patches treat a resourceVersion in the patch as a precondition; JSON patches support
//     `test` (a failed test is 422 Invalid); strategic-merge and apply patches are 415 for custom
//     resources; delete honours preconditions (uid, resourceVersion) with 409; every error is a
//     `Status` object (kind, status: Failure, message, reason, details, code), a 429 with Retry-After: 1;
//   - GameServer writes are validated against Agones' CRD (test/fixtures/agones/crds), with unknown
//     fields rejected as with fieldValidation=Strict (a real server's default, Warn, drops them);
//   - bearer-token authentication (401) and, when `rules` are given, RBAC: a request outside the
//     rules is 403 Forbidden with the API server's message.
// A GameServerAllocation evaluates each selector in order over the namespace's GameServers that are
// not being deleted: matchLabels, matchExpressions and gameServerState (default Ready); the first
// match by name wins (no Packed/Distributed node scoring, no counters, lists or priorities). The
// server is marked Allocated, gets the allocation's labels and annotations and
// agones.dev/last-allocated, and the answer is 201 with the status; UnAllocated when nothing matches.
// Deleting an object with finalizers (Agones puts `agones.dev` on every GameServer) only sets
// deletionTimestamp; it goes when its finalizers are removed.
// Not modelled: TLS (plain HTTP, so the kubeconfig says insecure-skip-tls-verify), label and field
// selectors on list and watch, bookmarks, watch timeouts, server-side apply, defaulting and
// pruning, deletion grace periods, other API groups and discovery.

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

/** An RBAC PolicyRule, as in a Role; '*' matches anything. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export interface RecordedRequest {
  verb: Verb;
  group: string;
  resource: string;
  namespace: string;
  name?: string;
  method: string;
  query: URLSearchParams;
  contentType?: string;
  body?: unknown;
}

/** The rules of the Role named `name` in k8s/base/rbac.yaml: what that service may do, as deployed. */
export function deployedRole(name: 'hangar-allocator' | 'hangar-matchmaker'): PolicyRule[] {
  const docs = parseAllDocuments(readFileSync('k8s/base/rbac.yaml', 'utf8')).map((d) => d.toJS() as { kind: string; metadata: { name: string }; rules?: PolicyRule[] });
  const role = docs.find((d) => d.kind === 'Role' && d.metadata.name === name);
  if (!role?.rules) throw new Error(`k8s/base/rbac.yaml has no Role ${name} with rules`);
  return role.rules;
}

export interface FakeKubeApiOptions {
  /** The bearer token the kubeconfig carries and the server expects. */
  token?: string;
  /** RBAC rules for the token's user (USER below); everything is allowed when absent. */
  rules?: PolicyRule[];
}

interface Match {
  verb?: Verb;
  resource?: string;
}

type Obj = Record<string, unknown> & { metadata: Record<string, unknown> };

interface Event {
  rv: number;
  key: string;
  namespace: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Obj;
}

interface Watcher {
  res: ServerResponse;
  key: string;
  namespace: string;
  /** Events written while watches are held, sent on releaseWatches(). */
  held: Array<{ type: string; object: Obj }>;
}

/** Who the token authenticates as, in 403 messages. */
const USER = 'system:serviceaccount:default:hangar-allocator';
const GAME_SERVERS = 'agones.dev/gameservers';
const ALLOCATIONS = 'allocation.agones.dev/gameserverallocations';
const STORED: Record<string, { version: string; kind: string }> = { [GAME_SERVERS]: { version: 'v1', kind: 'GameServer' } };
const PATH = /^\/apis\/([^/]+)\/([^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/;
const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

let gameServerValidator: CrdValidator | undefined;
function validateGameServer(obj: unknown): string[] {
  gameServerValidator ??= new CrdValidator(loadCrd('gameservers.agones.dev'), schemaAt(loadCrd('fleets.agones.dev'), 'spec', 'template', 'metadata'));
  return gameServerValidator.errors(obj);
}

export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  readonly url: string;
  private readonly token: string;
  private readonly objects = new Map<string, Obj>();
  private history: Event[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly held = new Set<ServerResponse>();
  private readonly changes = new EventEmitter();
  private failures: Array<{ match: Match; status: number; times: number }> = [];
  private hangs: Match[] = [];
  private drops: Match[] = [];
  private watchErrors: Array<{ status: number; times: number }> = [];
  private hooks: Array<{ match: Match; fn: () => void; times: number }> = [];
  private contentions = 0;
  private watchesHeld = false;
  private rv = 1;
  /** Watches from before this resourceVersion get 410. */
  private oldestRv = 1;

  private constructor(
    private readonly server: Server,
    private readonly options: FakeKubeApiOptions,
  ) {
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.token = options.token ?? 'hangar-test-token';
    this.changes.setMaxListeners(0);
  }

  static async start(options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
    let api: FakeKubeApi | undefined;
    const server = createServer((req, res) => void api!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    api = new FakeKubeApi(server, options);
    return api;
  }

  /** A KubeConfig for this server (cluster, user with the token, context with `namespace`). */
  kubeConfig(namespace = 'default'): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromString(this.kubeConfigYaml(namespace));
    return kc;
  }

  /** The same as a kubeconfig file's text. */
  kubeConfigYaml(namespace = 'default'): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: fake`,
      // Plain HTTP: client-node accepts it only with TLS verification off.
      `  cluster: { server: "${this.url}", insecure-skip-tls-verify: true }`,
      'users:',
      `- name: hangar`,
      `  user: { token: "${this.token}" }`,
      'contexts:',
      `- name: fake`,
      `  context: { cluster: fake, user: hangar, namespace: ${namespace} }`,
      'current-context: fake',
      '',
    ].join('\n');
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.res.destroy();
    for (const res of this.held) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // --- the cluster's side: what Agones' controllers and game servers would do ---

  /** Creates or replaces a GameServer as a controller would (no resourceVersion check); validated against the CRD unless `schema` is false (a newer Agones). */
  putGameServer(object: Record<string, unknown>, options: { schema?: boolean } = {}): Obj {
    const obj = structuredClone(object) as Obj;
    const meta = obj.metadata;
    const namespace = (meta.namespace as string | undefined) ?? 'default';
    const key = objectKey(GAME_SERVERS, namespace, meta.name as string);
    const existing = this.objects.get(key);
    const stored: Obj = { ...obj, apiVersion: 'agones.dev/v1', kind: 'GameServer', metadata: { ...meta, namespace } };
    if (options.schema !== false) {
      const problems = validateGameServer(stored);
      if (problems.length > 0) throw new Error(`not a valid GameServer: ${problems.join(', ')}`);
    }
    return this.store(GAME_SERVERS, stored, existing);
  }

  /** Changes a stored GameServer as Agones would (a state change, an SDK label...). */
  updateGameServer(name: string, mutate: (obj: Obj) => void, namespace = 'default'): Obj {
    const current = this.gameServer(name, namespace);
    if (!current) throw new Error(`no GameServer ${name}`);
    mutate(current);
    return this.putGameServer(current);
  }

  removeGameServer(name: string, namespace = 'default'): void {
    const key = objectKey(GAME_SERVERS, namespace, name);
    const existing = this.objects.get(key);
    if (!existing) throw new Error(`no GameServer ${name}`);
    this.remove(key, existing);
  }

  gameServer(name: string, namespace = 'default'): Obj | undefined {
    const obj = this.objects.get(objectKey(GAME_SERVERS, namespace, name));
    return obj && structuredClone(obj);
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  /** Forgets the event history: a watch from an older resourceVersion now gets 410 Expired. */
  compact(): void {
    this.history = [];
    this.oldestRv = this.rv;
  }

  /** Ends every watch stream cleanly (as the API server does when a watch times out); later changes reach only new watches. */
  closeWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  /** Cuts every watch connection mid-stream (a dropped connection, a restarted API server). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.socket?.destroy();
    this.watchers.clear();
  }

  /**
   * Holds back what open watches would be sent (the watch cache trailing etcd, a slow link): writes
   * and answers go on, and every watch receives them, in order, on releaseWatches().
   */
  holdWatches(): void {
    this.watchesHeld = true;
  }

  releaseWatches(): void {
    this.watchesHeld = false;
    for (const w of this.watchers) {
      for (const e of w.held.splice(0)) if (!w.res.writableEnded) writeEvent(w.res, e.type, e.object);
    }
    this.changes.emit('change');
  }

  get watchCount(): number {
    return this.watchers.size;
  }

  // --- failure injection ---

  /** The next `times` requests matching `match` get `status` (a Status body). */
  failNext(match: Match, status: number, times = 1): void {
    this.failures.push({ match, status, times });
  }

  /**
   * The next `times` watches get, like one the API server fails after accepting it, HTTP 200 and one
   * ERROR event carrying a `status` Status (not 410: that is compact()'s), then the stream ends.
   */
  errorNextWatches(status: number, times = 1): void {
    this.watchErrors.push({ status, times });
  }

  /** The next request matching `match` is never answered (until close). */
  hangNext(match: Match): void {
    this.hangs.push(match);
  }

  /** The next request matching `match` is carried out, but its connection is cut instead of answered (an API server or proxy dying after the write). */
  dropNextAnswer(match: Match): void {
    this.drops.push(match);
  }

  /** Runs `fn` just before the next `times` requests matching `match` are handled (to change the cluster between a client's read and its write). */
  beforeNext(match: Match, fn: () => void, times = 1): void {
    this.hooks.push({ match, fn, times });
  }

  /** The next `times` GameServerAllocations answer Contention without allocating. */
  contendNext(times: number): void {
    this.contentions += times;
  }

  /**
   * Resolves once `predicate` holds, checking after every request and watch change here and every
   * 5 ms (for what happens on the client's side); rejects after 5 s.
   */
  until(predicate: () => boolean, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.changes.off('change', check);
        clearInterval(poll);
        clearTimeout(timer);
      };
      const check = (): void => {
        if (!predicate()) return;
        done();
        resolve();
      };
      const poll = setInterval(check, 5);
      const timer = setTimeout(() => {
        done();
        reject(new Error(`fake API server: still waiting for ${what}`));
      }, 5000);
      this.changes.on('change', check);
      check();
    });
  }

  // --- HTTP ---

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const m = PATH.exec(url.pathname);
    const raw = await readBody(req);
    if (!m) return this.fail(res, 404, 'the server could not find the requested resource');
    const [, group, version, namespace, resource, name] = m as unknown as [string, string, string, string, string, string | undefined];
    const key = `${group}/${resource}`;
    const known = key === ALLOCATIONS ? version === 'v1' : STORED[key]?.version === version;
    if (!known) return this.fail(res, 404, 'the server could not find the requested resource');
    const verb = verbOf(req.method ?? 'GET', name, url.searchParams);
    if (!verb) return this.fail(res, 405, `${req.method} is not supported here`);
    if (req.headers.authorization !== `Bearer ${this.token}`) return this.fail(res, 401, 'Unauthorized');

    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        return this.fail(res, 400, 'the request body is not JSON');
      }
    }
    const contentType = req.headers['content-type'];
    const recorded: RecordedRequest = { verb, group, resource, namespace, method: req.method ?? 'GET', query: url.searchParams, ...(name && { name }), ...(contentType && { contentType }), ...(body !== undefined && { body }) };
    this.requests.push(recorded);
    this.changes.emit('change');

    const hook = this.hooks.find((h) => matches(h.match, recorded));
    if (hook) {
      if (--hook.times === 0) this.hooks = this.hooks.filter((h) => h !== hook);
      hook.fn();
    }
    const failure = this.failures.find((f) => matches(f.match, recorded));
    if (failure) {
      if (--failure.times === 0) this.failures = this.failures.filter((f) => f !== failure);
      return this.fail(res, failure.status, failure.status >= 500 ? 'Internal error occurred: injected by the test' : 'injected by the test');
    }
    const hang = this.hangs.findIndex((h) => matches(h, recorded));
    if (hang !== -1) {
      this.hangs.splice(hang, 1);
      this.held.add(res);
      return;
    }
    const drop = this.drops.findIndex((d) => matches(d, recorded));
    if (drop !== -1) {
      this.drops.splice(drop, 1);
      res.writeHead = (() => res) as typeof res.writeHead;
      res.end = (() => {
        res.socket?.destroy();
        return res;
      }) as typeof res.end;
    }
    if (this.options.rules && !allowed(this.options.rules, recorded)) {
      const what = `${resource}.${group}${name ? ` "${name}"` : ''}`;
      return this.fail(res, 403, `${what} is forbidden: User "${USER}" cannot ${verb} resource "${resource}" in API group "${group}" in the namespace "${namespace}"`, {
        ...(name && { name }),
        group,
        kind: resource,
      });
    }

    if (key === ALLOCATIONS) {
      if (verb !== 'create') return this.fail(res, 405, `${verb} is not supported on gameserverallocations`);
      return this.allocate(res, namespace, body);
    }
    switch (verb) {
      case 'list':
        return this.list(res, key, namespace);
      case 'watch':
        return this.watch(res, key, namespace, url.searchParams.get('resourceVersion') ?? '');
      case 'get':
        return this.getOne(res, key, namespace, name!);
      case 'create':
        return this.create(res, key, namespace, body);
      case 'update':
        return this.replace(res, key, namespace, name!, body);
      case 'patch':
        return this.patch(res, key, namespace, name!, contentType ?? '', body);
      case 'delete':
        return this.deleteOne(res, key, namespace, name!, body);
    }
  }

  private list(res: ServerResponse, key: string, namespace: string): void {
    const items = this.inNamespace(key, namespace);
    send(res, 200, { apiVersion: `${key.split('/')[0]}/${STORED[key]!.version}`, kind: `${STORED[key]!.kind}List`, metadata: { resourceVersion: this.resourceVersion }, items });
  }

  private watch(res: ServerResponse, key: string, namespace: string, from: string): void {
    const rv = from === '' ? 0 : Number(from);
    if (!Number.isInteger(rv) || rv < 0) return this.fail(res, 400, `resourceVersion: Invalid value: "${from}"`);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const injected = this.watchErrors[0];
    if (injected) {
      if (--injected.times === 0) this.watchErrors.shift();
      writeEvent(res, 'ERROR', status(injected.status, 'Internal error occurred: injected by the test'));
      res.end();
      return;
    }
    if (rv === 0) {
      for (const object of this.inNamespace(key, namespace)) writeEvent(res, 'ADDED', object);
    } else {
      if (rv < this.oldestRv) {
        const expired = status(410, `too old resource version: ${from} (${this.oldestRv})`);
        writeEvent(res, 'ERROR', expired);
        res.end();
        return;
      }
      for (const e of this.history) if (e.rv > rv && e.key === key && e.namespace === namespace) writeEvent(res, e.type, e.object);
    }
    const watcher: Watcher = { res, key, namespace, held: [] };
    this.watchers.add(watcher);
    this.changes.emit('change');
    res.on('close', () => {
      this.watchers.delete(watcher);
      this.changes.emit('change');
    });
  }

  private getOne(res: ServerResponse, key: string, namespace: string, name: string): void {
    const obj = this.objects.get(objectKey(key, namespace, name));
    if (!obj) return this.notFound(res, key, name);
    send(res, 200, obj);
  }

  private create(res: ServerResponse, key: string, namespace: string, body: unknown): void {
    const obj = asObject(body);
    if (!obj) return this.fail(res, 400, 'the request body is not an object');
    let name = obj.metadata.name as string | undefined;
    if (!name && typeof obj.metadata.generateName === 'string') name = `${obj.metadata.generateName}${Math.random().toString(36).slice(2, 7)}`;
    if (!name) return this.fail(res, 422, `${STORED[key]!.kind}.${key.split('/')[0]} "" is invalid: metadata.name: Required value: name or generateName is required`);
    if (this.objects.has(objectKey(key, namespace, name))) {
      return this.fail(res, 409, `${resourceName(key)} "${name}" already exists`, { name, group: key.split('/')[0], kind: key.split('/')[1] }, 'AlreadyExists');
    }
    const stored: Obj = { ...obj, metadata: { ...obj.metadata, name, namespace } };
    if (this.invalid(res, key, stored)) return;
    send(res, 201, this.store(key, stored, undefined));
  }

  private replace(res: ServerResponse, key: string, namespace: string, name: string, body: unknown): void {
    const current = this.objects.get(objectKey(key, namespace, name));
    if (!current) return this.notFound(res, key, name);
    const obj = asObject(body);
    if (!obj) return this.fail(res, 400, 'the request body is not an object');
    if (obj.metadata.name !== name) return this.fail(res, 400, `the name of the object (${String(obj.metadata.name)}) does not match the name on the URL (${name})`);
    const rv = obj.metadata.resourceVersion;
    if (rv === undefined || rv === '') {
      return this.fail(res, 422, `${STORED[key]!.kind}.${key.split('/')[0]} "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`);
    }
    if (rv !== current.metadata.resourceVersion) return this.conflict(res, key, name, 'the object has been modified; please apply your changes to the latest version and try again');
    const next: Obj = { ...obj, metadata: { ...obj.metadata, namespace, uid: current.metadata.uid, creationTimestamp: current.metadata.creationTimestamp } };
    if (this.invalid(res, key, next)) return;
    send(res, 200, this.store(key, next, current));
  }

  private patch(res: ServerResponse, key: string, namespace: string, name: string, contentType: string, body: unknown): void {
    const current = this.objects.get(objectKey(key, namespace, name));
    if (!current) return this.notFound(res, key, name);
    let next: Obj;
    if (contentType.startsWith('application/merge-patch+json')) {
      const rv = asObject(body)?.metadata.resourceVersion;
      if (rv !== undefined && rv !== current.metadata.resourceVersion) return this.conflict(res, key, name, 'the object has been modified; please apply your changes to the latest version and try again');
      next = mergePatch(current, body) as Obj;
    } else if (contentType.startsWith('application/json-patch+json')) {
      const result = jsonPatch(current, body);
      if (typeof result === 'string') return this.fail(res, 422, `${STORED[key]!.kind}.${key.split('/')[0]} "${name}" is invalid: ${result}`);
      next = result;
    } else {
      return this.fail(res, 415, `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json`);
    }
    next.metadata = { ...next.metadata, name, namespace, uid: current.metadata.uid, creationTimestamp: current.metadata.creationTimestamp };
    if (this.invalid(res, key, next)) return;
    send(res, 200, this.store(key, next, current));
  }

  private deleteOne(res: ServerResponse, key: string, namespace: string, name: string, body: unknown): void {
    const k = objectKey(key, namespace, name);
    const current = this.objects.get(k);
    if (!current) return this.notFound(res, key, name);
    const pre = (body as { preconditions?: { uid?: string; resourceVersion?: string } } | undefined)?.preconditions;
    if (pre?.uid !== undefined && pre.uid !== current.metadata.uid) {
      return this.conflict(res, key, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${String(current.metadata.uid)}`);
    }
    if (pre?.resourceVersion !== undefined && pre.resourceVersion !== current.metadata.resourceVersion) {
      return this.conflict(res, key, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${String(current.metadata.resourceVersion)}`);
    }
    if (((current.metadata.finalizers as string[] | undefined) ?? []).length > 0) {
      // Graceful deletion: the object stays, marked, until its finalizers are removed.
      if (current.metadata.deletionTimestamp !== undefined) return send(res, 200, current);
      return send(res, 200, this.store(key, { ...current, metadata: { ...current.metadata, deletionTimestamp: new Date().toISOString() } }, current));
    }
    this.remove(k, current);
    send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: key.split('/')[0], kind: key.split('/')[1], uid: current.metadata.uid } });
  }

  private allocate(res: ServerResponse, namespace: string, body: unknown): void {
    const gsa = asObject(body);
    if (!gsa || (gsa.kind !== undefined && gsa.kind !== 'GameServerAllocation')) return this.fail(res, 400, 'the request body is not a GameServerAllocation');
    const spec = (gsa.spec ?? {}) as AllocationSpec;
    const problem = allocationProblem(spec);
    if (problem) return this.fail(res, 422, `GameServerAllocation.allocation.agones.dev "" is invalid: ${problem}`);
    const answer = (state: string, fields: Record<string, unknown> = {}, name = ''): void =>
      send(res, 201, {
        apiVersion: 'allocation.agones.dev/v1',
        kind: 'GameServerAllocation',
        metadata: { name, namespace, creationTimestamp: new Date().toISOString() },
        spec,
        status: { state, gameServerName: '', source: '', ...fields },
      });
    if (this.contentions > 0) {
      this.contentions--;
      return answer('Contention');
    }
    const selectors = spec.selectors && spec.selectors.length > 0 ? spec.selectors : [{}];
    const servers = this.inNamespace(GAME_SERVERS, namespace).filter((gs) => gs.metadata.deletionTimestamp === undefined);
    for (const selector of selectors) {
      const found = servers.find((gs) => selects(selector, gs));
      if (!found) continue;
      const meta = found.metadata;
      const allocated: Obj = {
        ...found,
        metadata: {
          ...meta,
          labels: { ...(meta.labels as object), ...spec.metadata?.labels },
          annotations: { ...(meta.annotations as object), ...spec.metadata?.annotations, 'agones.dev/last-allocated': new Date().toISOString() },
        },
        status: { ...(found.status as object), state: 'Allocated' },
      };
      const stored = this.store(GAME_SERVERS, allocated, found);
      const st = stored.status as Record<string, unknown>;
      const m = stored.metadata;
      return answer(
        'Allocated',
        {
          gameServerName: m.name,
          ports: st.ports,
          address: st.address,
          addresses: st.addresses,
          nodeName: st.nodeName,
          source: 'local',
          metadata: { labels: m.labels, annotations: m.annotations },
          counters: st.counters,
          lists: st.lists,
        },
        m.name as string,
      );
    }
    answer('UnAllocated');
  }

  // --- storage ---

  private store(key: string, obj: Obj, previous: Obj | undefined): Obj {
    if (previous && obj.metadata.deletionTimestamp !== undefined && ((obj.metadata.finalizers as string[] | undefined) ?? []).length === 0) {
      // The last finalizer is gone: the object goes.
      this.remove(objectKey(key, obj.metadata.namespace as string, obj.metadata.name as string), { ...obj, metadata: { ...previous.metadata, ...obj.metadata } });
      return structuredClone(obj);
    }
    const rv = ++this.rv;
    const specChanged = previous !== undefined && !isDeepStrictEqual(withoutMeta(previous), withoutMeta(obj));
    const stored: Obj = {
      ...obj,
      metadata: {
        ...obj.metadata,
        uid: previous?.metadata.uid ?? obj.metadata.uid ?? crypto.randomUUID(),
        creationTimestamp: previous?.metadata.creationTimestamp ?? obj.metadata.creationTimestamp ?? new Date().toISOString(),
        generation: previous ? Number(previous.metadata.generation ?? 1) + (specChanged ? 1 : 0) : 1,
        resourceVersion: String(rv),
      },
    };
    const namespace = stored.metadata.namespace as string;
    this.objects.set(objectKey(key, namespace, stored.metadata.name as string), stored);
    this.publish({ rv, key, namespace, type: previous ? 'MODIFIED' : 'ADDED', object: stored });
    return structuredClone(stored);
  }

  private remove(k: string, current: Obj): void {
    this.objects.delete(k);
    const rv = ++this.rv;
    const [group, resource] = k.split('/');
    const object: Obj = { ...current, metadata: { ...current.metadata, resourceVersion: String(rv) } };
    this.publish({ rv, key: `${group}/${resource}`, namespace: current.metadata.namespace as string, type: 'DELETED', object });
  }

  private publish(event: Event): void {
    this.history.push(event);
    for (const w of this.watchers) {
      if (w.key !== event.key || w.namespace !== event.namespace || w.res.writableEnded) continue;
      if (this.watchesHeld) w.held.push({ type: event.type, object: event.object });
      else writeEvent(w.res, event.type, event.object);
    }
    this.changes.emit('change');
  }

  private inNamespace(key: string, namespace: string): Obj[] {
    return [...this.objects.entries()]
      .filter(([k]) => k.startsWith(`${key}/${namespace}/`))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, o]) => o);
  }

  private invalid(res: ServerResponse, key: string, obj: Obj): boolean {
    if (key !== GAME_SERVERS) return false;
    const problems = validateGameServer(obj);
    if (problems.length === 0) return false;
    this.fail(res, 422, `GameServer.agones.dev "${String(obj.metadata.name)}" is invalid: ${problems.join(', ')}`);
    return true;
  }

  private notFound(res: ServerResponse, key: string, name: string): void {
    this.fail(res, 404, `${resourceName(key)} "${name}" not found`, { name, group: key.split('/')[0], kind: key.split('/')[1] });
  }

  private conflict(res: ServerResponse, key: string, name: string, why: string): void {
    this.fail(res, 409, `Operation cannot be fulfilled on ${resourceName(key)} "${name}": ${why}`, { name, group: key.split('/')[0], kind: key.split('/')[1] });
  }

  private fail(res: ServerResponse, code: number, message: string, details?: Record<string, unknown>, reason?: string): void {
    // A 429 says when to come back, as the API server's priority and fairness filter does.
    if (code === 429) return send(res, code, status(code, message, { ...details, retryAfterSeconds: 1 }, reason), { 'Retry-After': '1' });
    send(res, code, status(code, message, details, reason));
  }
}

interface AllocationSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
  gameServerState?: string;
}

interface AllocationSpec {
  selectors?: AllocationSelector[];
  scheduling?: string;
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

/** What Agones' GameServerAllocation.Validate refuses, for the fields this fake reads. */
function allocationProblem(spec: AllocationSpec): string | undefined {
  if (spec.scheduling !== undefined && spec.scheduling !== 'Packed' && spec.scheduling !== 'Distributed') return `spec.scheduling: Unsupported value: "${spec.scheduling}"`;
  for (const [i, s] of (spec.selectors ?? []).entries()) {
    if (s.gameServerState !== undefined && s.gameServerState !== 'Ready' && s.gameServerState !== 'Allocated') return `spec.selectors[${i}].gameServerState: Unsupported value: "${s.gameServerState}"`;
    for (const [j, e] of (s.matchExpressions ?? []).entries()) {
      if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(e.operator)) return `spec.selectors[${i}].matchExpressions[${j}].operator: Invalid value: "${e.operator}"`;
    }
  }
  return undefined;
}

function selects(selector: AllocationSelector, gs: Obj): boolean {
  const labels = (gs.metadata.labels ?? {}) as Record<string, string>;
  const state = (gs.status as { state?: string } | undefined)?.state;
  if (state !== (selector.gameServerState ?? 'Ready')) return false;
  if (!Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v)) return false;
  return (selector.matchExpressions ?? []).every((e) => {
    const has = Object.hasOwn(labels, e.key);
    switch (e.operator) {
      case 'In':
        return has && (e.values ?? []).includes(labels[e.key]!);
      case 'NotIn':
        return !has || !(e.values ?? []).includes(labels[e.key]!);
      case 'Exists':
        return has;
      default:
        return !has;
    }
  });
}

function verbOf(method: string, name: string | undefined, query: URLSearchParams): Verb | undefined {
  switch (method) {
    case 'GET':
      if (name) return 'get';
      return query.get('watch') === 'true' || query.get('watch') === '1' ? 'watch' : 'list';
    case 'POST':
      return name ? undefined : 'create';
    case 'PUT':
      return name ? 'update' : undefined;
    case 'PATCH':
      return name ? 'patch' : undefined;
    case 'DELETE':
      return name ? 'delete' : undefined;
    default:
      return undefined;
  }
}

function matches(match: Match, r: RecordedRequest): boolean {
  return (match.verb === undefined || match.verb === r.verb) && (match.resource === undefined || match.resource === r.resource);
}

function allowed(rules: PolicyRule[], r: RecordedRequest): boolean {
  const has = (list: string[], v: string): boolean => list.includes('*') || list.includes(v);
  return rules.some((rule) => has(rule.apiGroups, r.group) && has(rule.resources, r.resource) && has(rule.verbs, r.verb));
}

function status(code: number, message: string, details?: Record<string, unknown>, reason?: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: reason ?? REASONS[code] ?? 'Unknown', ...(details && { details }), code };
}

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(code, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function writeEvent(res: ServerResponse, type: string, object: unknown): void {
  res.write(`${JSON.stringify({ type, object })}\n`);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (data += chunk));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

function asObject(body: unknown): Obj | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const obj = body as Record<string, unknown>;
  const metadata = obj.metadata !== null && typeof obj.metadata === 'object' ? (obj.metadata as Record<string, unknown>) : {};
  return { ...obj, metadata };
}

function objectKey(key: string, namespace: string, name: string): string {
  return `${key}/${namespace}/${name}`;
}

/** "gameservers.agones.dev", as the API server names a resource in messages. */
function resourceName(key: string): string {
  const [group, resource] = key.split('/');
  return `${resource}.${group}`;
}

function withoutMeta(obj: Obj): unknown {
  const { metadata: _metadata, ...rest } = obj;
  return rest;
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** RFC 6902 JSON patch (add, remove, replace, test); the problem as text when an operation fails. */
function jsonPatch(target: Obj, ops: unknown): Obj | string {
  if (!Array.isArray(ops)) return 'the patch is not a JSON array';
  const doc = structuredClone(target) as Record<string, unknown>;
  for (const op of ops as Array<{ op: string; path: string; value?: unknown }>) {
    const segments = op.path.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = segments.pop();
    if (last === undefined) return `unsupported path "${op.path}"`;
    let parent: unknown = doc;
    for (const s of segments) parent = (parent as Record<string, unknown> | undefined)?.[s];
    if (parent === null || typeof parent !== 'object') return `path "${op.path}" does not exist`;
    const container = parent as Record<string, unknown> & unknown[];
    const index = Array.isArray(container) ? (last === '-' ? container.length : Number(last)) : undefined;
    switch (op.op) {
      case 'test':
        if (!isDeepStrictEqual(container[last], op.value)) return `testing value ${JSON.stringify(op.path)} failed: test failed`;
        break;
      case 'add':
        if (index !== undefined) container.splice(index, 0, op.value);
        else container[last] = op.value;
        break;
      case 'replace':
        if (!(last in container)) return `replace operation does not apply: doc is missing key: ${op.path}`;
        container[last] = op.value;
        break;
      case 'remove':
        if (!(last in container)) return `remove operation does not apply: doc is missing path: ${op.path}`;
        if (index !== undefined) container.splice(index, 1);
        else delete container[last];
        break;
      default:
        return `unsupported JSON patch operation "${op.op}"`;
    }
  }
  return doc as Obj;
}

export interface AgonesGameServerOptions {
  fleet?: string;
  state?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  hostPort?: number;
}

/**
 * A GameServer as Agones stores it once its webhook and controller have been through it (the shape
 * `kubectl get gs NAME -o json` shows for the simple-game-server fleet), in state Ready by default.
 */
export function agonesGameServer(name: string, options: AgonesGameServerOptions = {}): Record<string, unknown> {
  const fleet = options.fleet ?? 'simple-game-server';
  const hostPort = options.hostPort ?? 7085;
  return {
    apiVersion: 'agones.dev/v1',
    kind: 'GameServer',
    metadata: {
      name,
      namespace: options.namespace ?? 'default',
      generateName: `${fleet}-7pjrq-`,
      labels: { 'agones.dev/fleet': fleet, 'agones.dev/gameserverset': `${fleet}-7pjrq`, ...options.labels },
      annotations: { 'agones.dev/ready-container-id': 'containerd://4b1f', 'agones.dev/sdk-version': '1.61.0', ...options.annotations },
      finalizers: ['agones.dev'],
      ownerReferences: [{ apiVersion: 'agones.dev/v1', kind: 'GameServerSet', name: `${fleet}-7pjrq`, uid: '5c0e7d38-7d1e-4a55-9a52-0d5e2c1f6a10', controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      container: 'simple-game-server',
      ports: [{ name: 'default', portPolicy: 'Dynamic', container: 'simple-game-server', containerPort: 7654, hostPort, protocol: 'UDP' }],
      health: { periodSeconds: 5, failureThreshold: 3, initialDelaySeconds: 5 },
      scheduling: 'Packed',
      sdkServer: { logLevel: 'Info', grpcPort: 9357, httpPort: 9358 },
      template: {
        metadata: { creationTimestamp: null },
        spec: {
          containers: [
            {
              name: 'simple-game-server',
              image: 'us-docker.pkg.dev/agones-images/examples/simple-game-server:0.41',
              resources: { limits: { cpu: '20m', memory: '64Mi' }, requests: { cpu: '20m', memory: '64Mi' } },
            },
          ],
        },
      },
      eviction: { safe: 'Never' },
    },
    status: {
      state: options.state ?? 'Ready',
      ports: [{ name: 'default', port: hostPort }],
      address: '34.105.12.7',
      addresses: [
        { type: 'InternalIP', address: '10.128.0.5' },
        { type: 'ExternalIP', address: '34.105.12.7' },
        { type: 'PodIP', address: '10.16.0.7' },
      ],
      nodeName: 'gke-hangar-default-pool-1a2b',
      reservedUntil: null,
      eviction: { safe: 'Never' },
      immutableReplicas: 1,
    },
  };
}
