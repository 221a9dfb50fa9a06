import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubernetesGameServers } from '../allocator/agones/kubernetes-game-servers.js';
import { systemClock } from '../core/clock.js';
import { CLAIMED_ANNOTATION, LAST_ALLOCATED_ANNOTATION, MATCH_ID_ANNOTATION, MATCH_RESULT_ANNOTATION } from '../core/hangar-metadata.js';
import { silentLogger } from '../core/logger.js';
import { createRecordsMetrics, createRegistry } from '../core/metrics.js';
import { MatchRecords } from '../records/match-records.js';
import { migrate } from '../records/migrate.js';
import { openTestDatabase, type TestDatabase } from '../records/test-database.js';
import { agonesGameServer, deployedRole, FakeKubeApi } from '../test/helpers/fake-kube-api.js';
import { waitFor } from '../test/helpers/local-stack-fixture.js';
import { recordMatchNews } from './match-news.js';

// On a cluster the matchmaker learns how its matches went from Agones' GameServers, read through
// the Kubernetes API with the permissions its Role in k8s/base/rbac.yaml grants (the fake API
// server enforces them), and writes it to PostgreSQL.

const ALLOCATED_AT = '2026-11-28T01:00:00.000Z';

describe('match news from Agones GameServers', () => {
  let fake: FakeKubeApi;
  let view: KubernetesGameServers;
  let database: TestDatabase;
  let stop: () => void;
  const row = async (id: string) =>
    (await database.db.query<{ started_at: Date | null; ended_at: Date | null; result: unknown }>('SELECT started_at, ended_at, result FROM matches WHERE id = $1', [id])).rows[0];

  beforeAll(async () => {
    fake = await FakeKubeApi.start({ rules: deployedRole('hangar-matchmaker') });
    database = await openTestDatabase('postgres');
    await migrate({ db: database.db, log: silentLogger });
    const records = new MatchRecords(database.db, silentLogger, createRecordsMetrics(createRegistry()), 'agones:test/default');
    for (const [id, gameServer] of [['m-1', 'gs-1'], ['m-2', 'gs-2']]) {
      records.matchMade({ id: id!, queue: 'duel', mode: 'duel', fleet: 'arena', gameServer: gameServer!, createdAt: new Date(ALLOCATED_AT), players: [] });
    }
    await records.flush();
    view = new KubernetesGameServers({ kubeConfig: fake.kubeConfig(), namespace: 'default', log: silentLogger });
    stop = recordMatchNews(view, records, systemClock, silentLogger);
    await view.start();
  });

  afterAll(async () => {
    stop();
    await view.close();
    await fake.close();
    await database.drop();
  });

  it('dates the start, records the result, and ends as abandoned a match whose server is deleted', async () => {
    const allocated = { [MATCH_ID_ANNOTATION]: 'm-1', [LAST_ALLOCATED_ANNOTATION]: ALLOCATED_AT };
    fake.putGameServer(agonesGameServer('gs-1', { state: 'Allocated', annotations: allocated }));
    fake.updateGameServer('gs-1', (o) => ((o.metadata as { annotations: Record<string, string> }).annotations[CLAIMED_ANNOTATION] = ALLOCATED_AT));
    await waitFor('m-1 started', async () => (await row('m-1'))?.started_at);
    fake.updateGameServer('gs-1', (o) => ((o.metadata as { annotations: Record<string, string> }).annotations[MATCH_RESULT_ANNOTATION] = '{"matchId":"m-1","winner":"p1"}'));
    const ended = await waitFor('m-1 ended', async () => ((await row('m-1'))?.ended_at ? row('m-1') : undefined));
    expect(ended!.result).toEqual({ matchId: 'm-1', winner: 'p1' });

    fake.putGameServer(agonesGameServer('gs-2', { state: 'Allocated', annotations: { [MATCH_ID_ANNOTATION]: 'm-2', [LAST_ALLOCATED_ANNOTATION]: ALLOCATED_AT } }));
    await waitFor('gs-2 in the view', async () => (await view.get('gs-2')) !== undefined);
    fake.removeGameServer('gs-2');
    const abandoned = await waitFor('m-2 ended', async () => ((await row('m-2'))?.ended_at ? row('m-2') : undefined));
    expect(abandoned!.result).toEqual({ matchId: 'm-2', abandoned: true, reason: 'its game server was deleted (last state Allocated) before it reported a result' });
    // It only read, as its Role allows: lists and watches.
    expect(fake.requests.filter((r) => r.verb !== 'list' && r.verb !== 'watch')).toEqual([]);
  });
});
