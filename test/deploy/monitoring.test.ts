import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { metricNames } from './promql-names.js';

// monitoring/: Prometheus' configs, alert rules and their tests pass promtool (Debian's prometheus
// package; .ci/run installs it), every alert has a test that fires it and one that keeps it quiet
// and a runbook that exists, and the Grafana dashboards and provisioning are well formed.
// (That every metric they name is one Hangar exports is checked against live processes in
// live-monitoring.test.ts.)

const promtool = (...args: string[]) => spawnSync('promtool', args, { encoding: 'utf8' });
const tmp = mkdtempSync(path.join(tmpdir(), 'hangar-monitoring-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rulesFiles = readdirSync('monitoring/rules').filter((f) => f.endsWith('.yaml')).map((f) => `monitoring/rules/${f}`);
const rules: Rule[] = rulesFiles.flatMap((f) => (parse(readFileSync(f, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules));
const alerts = rules.filter((r) => r.alert);

/** GitHub's heading anchors of a markdown file. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const line of markdown.split('\n')) {
    const m = /^#{1,6}\s+(.*)$/.exec(line);
    if (m) out.add(m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'));
  }
  return out;
}

describe('Prometheus configuration', () => {
  it('promtool is installed (Debian package prometheus; .ci/run installs it)', () => {
    expect(promtool('--version').status).toBe(0);
  });

  it('promtool check config passes on monitoring/prometheus.yml (Kubernetes jobs with empty static targets: Debian builds Prometheus without Kubernetes discovery)', () => {
    const file = path.join(tmp, 'check.yml');
    writeFileSync(file, execFileSync('node', ['scripts/prometheus-config.mjs', 'check'], { encoding: 'utf8' }));
    const run = promtool('check', 'config', file);
    expect(run.stdout + run.stderr).toContain('SUCCESS');
    expect(run.status).toBe(0);
    // What was swapped out is what upstream Prometheus reads: pod discovery in Hangar's namespaces.
    const original = parse(readFileSync('monitoring/prometheus.yml', 'utf8')) as { scrape_configs: Array<{ job_name: string; kubernetes_sd_configs?: Array<{ role: string; namespaces?: { names: string[] } }>; file_sd_configs?: Array<{ files: string[] }> }> };
    const k8s = original.scrape_configs.filter((j) => j.kubernetes_sd_configs);
    expect(k8s.map((j) => j.job_name)).toEqual(['hangar', 'hangar-gameservers']);
    for (const j of k8s) for (const sd of j.kubernetes_sd_configs!) {
      expect(['pod', 'endpoints', 'endpointslice', 'service', 'node', 'ingress']).toContain(sd.role);
      expect(sd.namespaces?.names).toContain('hangar');
    }
    // The local file_sd job reads the file Hangar writes (fleets/prometheus-targets.ts).
    const fileSd = original.scrape_configs.find((j) => j.file_sd_configs)!;
    expect(path.resolve('monitoring', fileSd.file_sd_configs![0]!.files[0]!)).toBe(path.resolve('.hangar/prometheus/gameservers.json'));
  });

  it('promtool check config passes on the local config scripts/prometheus-config.mjs derives, and on the compose config', () => {
    const local = path.join(tmp, 'local.yml');
    writeFileSync(local, execFileSync('node', ['scripts/prometheus-config.mjs', 'local'], { encoding: 'utf8' }));
    expect(readFileSync(local, 'utf8')).not.toContain('kubernetes_sd_configs');
    for (const file of [local, 'monitoring/prometheus-compose.yml']) {
      const run = promtool('check', 'config', file);
      expect([file, run.status, run.stdout + run.stderr]).toEqual([file, 0, expect.stringContaining('SUCCESS')]);
    }
  });
});

describe('alert rules', () => {
  it('promtool check rules passes', () => {
    const run = promtool('check', 'rules', ...rulesFiles);
    expect(run.stdout + run.stderr).toMatch(/SUCCESS: \d+ rules found/);
    expect(run.status).toBe(0);
  });

  it('covers the deployment guide\'s alerts and Hangar\'s own', () => {
    const byMetric = (m: string) => alerts.filter((a) => metricNames(a.expr).includes(m)).map((a) => a.alert);
    // The guide: player count high and at capacity, p99 latency, error rate, memory, restarts.
    expect(byMetric('game_server_player_count')).toEqual(['GameServerPlayerCountHigh', 'GameServerAtCapacity']);
    expect(byMetric('game_server_request_duration_seconds_bucket')).toEqual(['HangarRequestLatencyHigh']);
    expect(byMetric('game_server_errors_total')).toEqual(['HangarErrorRateHigh', 'GameServerNetworkWorkerFailed']);
    expect(byMetric('game_server_memory_usage_bytes')).toEqual(['GameServerMemoryHigh', 'GameServerMemoryCritical']);
    expect(byMetric('kube_pod_container_status_restarts_total')).toEqual(['HangarPodRestarting']);
    // Hangar's: Ready buffer exhausted, allocation failures and p99, tick overruns, matchmaking wait.
    expect(byMetric('agones_fleets_replicas_count')).toEqual(['FleetReadyBufferExhausted']);
    expect(byMetric('agones_gameservers_allocations_total')).toEqual(['AllocationFailures']);
    expect(byMetric('agones_gameserver_allocations_duration_seconds_bucket')).toEqual(['AllocationLatencyHigh']);
    expect(byMetric('game_server_tick_overruns_total')).toEqual(['GameServerTickOverruns']);
    expect(byMetric('hangar_matchmaker_time_to_match_seconds_bucket')).toEqual(['MatchmakingWaitHigh']);
  });

  it('gives every alert a severity, a summary and a runbook link to a section of docs/operations.md (each branch of a templated link)', () => {
    const headings = anchors(readFileSync('docs/operations.md', 'utf8'));
    for (const a of alerts) {
      expect([a.alert, a.labels?.severity]).toEqual([a.alert, expect.stringMatching(/^(warning|critical)$/)]);
      expect([a.alert, typeof a.annotations?.summary]).toEqual([a.alert, 'string']);
      // What the template's actions ({{ if ... }}, {{ else }}, {{ end }}) leave: one link per branch.
      const links = (a.annotations?.runbook_url ?? '').split(/\{\{.*?\}\}/).filter((l) => l !== '');
      expect([a.alert, links.length > 0]).toEqual([a.alert, true]);
      for (const link of links) {
        const [file, anchor] = link.split('#');
        expect([a.alert, file, headings.has(anchor ?? '') ? anchor : `no heading for #${anchor}`]).toEqual([a.alert, 'docs/operations.md', anchor]);
      }
    }
  });

  it('has a promtool test for every alert that fires it, and one that keeps it quiet', () => {
    type RuleTest = { alertname: string; exp_alerts?: unknown[] };
    const suite = parse(readFileSync('monitoring/tests/hangar-alerts.test.yaml', 'utf8')) as { rule_files: string[]; tests: Array<{ alert_rule_test?: RuleTest[] }> };
    expect(suite.rule_files.map((f) => path.join('monitoring/tests', f)).sort()).toEqual(rulesFiles.sort());
    const cases = suite.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      expect([a.alert, mine.some((c) => (c.exp_alerts ?? []).length > 0), mine.some((c) => (c.exp_alerts ?? []).length === 0)]).toEqual([a.alert, true, true]);
    }
    // And no test names an alert that does not exist.
    for (const c of cases) expect(alerts.map((a) => a.alert)).toContain(c.alertname);
  });

  it('promtool test rules passes', () => {
    const run = promtool('test', 'rules', 'monitoring/tests/hangar-alerts.test.yaml');
    expect(run.stdout + run.stderr).toContain('SUCCESS');
    expect(run.status).toBe(0);
  });
});

describe('Grafana', () => {
  type Panel = { id: number; type: string; title: string; datasource?: { uid: string }; targets?: Array<{ expr: string; refId: string }>; gridPos: { x: number; y: number; w: number; h: number } };
  const dashboards = readdirSync('monitoring/grafana/dashboards').filter((f) => f.endsWith('.json'));

  it('has the fleets, allocator, game-server performance and matchmaker dashboards, each well formed', () => {
    expect(dashboards.sort()).toEqual(['allocator.json', 'fleets.json', 'gameserver-performance.json', 'matchmaker.json']);
    const uids = new Set<string>();
    for (const file of dashboards) {
      const d = JSON.parse(readFileSync(`monitoring/grafana/dashboards/${file}`, 'utf8')) as { uid: string; title: string; panels: Panel[] };
      expect(uids.has(d.uid)).toBe(false);
      uids.add(d.uid);
      const ids = d.panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const p of d.panels.filter((p) => p.type !== 'row')) {
        expect([file, p.title, p.datasource?.uid]).toEqual([file, p.title, 'prometheus']);
        expect(p.targets!.length).toBeGreaterThan(0);
        for (const t of p.targets!) expect([file, p.title, metricNames(t.expr).length > 0]).toEqual([file, p.title, true]);
        expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      }
    }
  });

  it('provisions the dashboards from files and the datasource they name', () => {
    const providers = parse(readFileSync('monitoring/grafana/provisioning/dashboards/hangar.yaml', 'utf8')) as { providers: Array<{ type: string; options: { path: string } }> };
    expect(providers.providers[0]).toMatchObject({ type: 'file', options: { path: '/var/lib/grafana/dashboards' } });
    const sources = parse(readFileSync('monitoring/grafana/provisioning/datasources/prometheus.yaml', 'utf8')) as { datasources: Array<{ uid: string; type: string }> };
    expect(sources.datasources).toEqual([expect.objectContaining({ uid: 'prometheus', type: 'prometheus' })]);
    // docker-compose.yml mounts exactly these directories where the provisioning expects them.
    const compose = readFileSync('docker-compose.yml', 'utf8');
    expect(compose).toContain('./monitoring/grafana/dashboards:/var/lib/grafana/dashboards:ro');
    expect(compose).toContain('./monitoring/grafana/provisioning:/etc/grafana/provisioning:ro');
  });

  it('reads metric names out of PromQL as the checks need', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (job, le) (rate(game_server_request_duration_seconds_bucket{job=~"a|b"}[$__rate_interval]))) > 0.1')).toEqual(['game_server_request_duration_seconds_bucket']);
    expect(metricNames('(agones_fleets_replicas_count{type="ready"} == 0) and on (name) (agones_fleets_replicas_count{type="desired"} > 0)')).toEqual(['agones_fleets_replicas_count']);
    expect(metricNames('time() - max(kube_cronjob_status_last_successful_time{cronjob="x"}) > 26 * 3600')).toEqual(['kube_cronjob_status_last_successful_time']);
    expect(metricNames('game_server_memory_usage_bytes / game_server_memory_limit_bytes offset 5m')).toEqual(['game_server_memory_limit_bytes', 'game_server_memory_usage_bytes']);
  });
});
