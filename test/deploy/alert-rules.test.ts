import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { describeWithTool } from '../helpers/tools';
import { K8S_DIR, OVERLAY_DIR, byKind, one, render, type K8sObject } from './support/k8s-manifests';

// promtool (Debian package "prometheus", installed by npm test's pretest, scripts/test-tools.js)
// checks and unit-tests the rules
// offline. The PrometheusRule stays the single source: its groups are extracted here.
const TESTS_FILE = path.join(K8S_DIR, 'tests', 'billing-alerts.test.yaml');
let dir: string;
let objects: K8sObject[];

function promtool(...args: string[]) {
  const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' });
  if (r.error) throw new Error('promtool is needed (Debian package "prometheus"): ' + r.error.message);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'billing-rules-'));
  objects = render(OVERLAY_DIR);
  fs.writeFileSync(
    path.join(dir, 'rules.yaml'),
    YAML.stringify({ groups: one(objects, 'PrometheusRule').spec.groups }),
  );
  fs.copyFileSync(TESTS_FILE, path.join(dir, 'billing-alerts.test.yaml'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describeWithTool('promtool', 'prometheus', 'alert rules (promtool)', () => {
  it('pass `promtool check rules`', () => {
    const r = promtool('check', 'rules', 'rules.yaml');
    const rules = one(objects, 'PrometheusRule').spec.groups.flatMap((g: { rules: unknown[] }) => g.rules);
    expect(r.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.status).toBe(0);
  });

  it('pass `promtool test rules` with series that must and must not fire each alert', () => {
    const r = promtool('test', 'rules', 'billing-alerts.test.yaml');
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('have a unit test for every alert, firing at least once', () => {
    const tests = YAML.parse(fs.readFileSync(TESTS_FILE, 'utf8')).tests as Array<{
      alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }>;
    }>;
    const firing = new Set(
      tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)),
    );
    const alerts = one(objects, 'PrometheusRule').spec.groups.flatMap((g: K8sObject) =>
      g.rules.map((r: K8sObject) => r.alert),
    );
    expect([...firing].sort()).toEqual([...alerts].sort());
  });

  it('fail when an expectation is wrong (the unit tests can fail)', () => {
    const broken = fs
      .readFileSync(TESTS_FILE, 'utf8')
      .replace(
        'exp_labels: { severity: critical, service: scholarlink-billing }',
        'exp_labels: { severity: warning, service: scholarlink-billing }',
      );
    fs.writeFileSync(path.join(dir, 'broken.test.yaml'), broken);
    const r = promtool('test', 'rules', 'broken.test.yaml');
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('FAILED');
  });
});

describeWithTool('promtool', 'prometheus', 'PromQL of the canary gates and the dashboard', () => {
  it('parses (each query checked by promtool as a recording rule, template args filled in)', () => {
    const args = (t: K8sObject) =>
      Object.fromEntries((t.spec.args ?? []).map((a: K8sObject) => [a.name, a.value ?? 'abcdef1234']));
    const gates = byKind(objects, 'AnalysisTemplate').flatMap((t) =>
      t.spec.metrics
        .filter((m: K8sObject) => m.provider.prometheus)
        .map((m: K8sObject) =>
          (m.provider.prometheus.query as string).replace(/\{\{args\.([a-z-]+)\}\}/g, (_s, n: string) => args(t)[n]),
        ),
    );
    const dashboard = JSON.parse(
      one(objects, 'ConfigMap', 'scholarlink-billing-dashboard').data['scholarlink-billing.json'],
    );
    const panels = dashboard.panels.flatMap((p: K8sObject) => p.targets.map((t: K8sObject) => t.expr as string));
    const rules = [...gates, ...panels].map((expr, i) => ({ record: `scholarlink:query_${i}`, expr }));
    fs.writeFileSync(path.join(dir, 'queries.yaml'), YAML.stringify({ groups: [{ name: 'queries', rules }] }));
    const r = promtool('check', 'rules', 'queries.yaml');
    expect(r.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(gates).toHaveLength(6);
    // And a broken query is caught.
    fs.writeFileSync(
      path.join(dir, 'bad.yaml'),
      YAML.stringify({
        groups: [{ name: 'q', rules: [{ record: 'x:y', expr: 'sum(rate(http_requests_total[5m])' }] }],
      }),
    );
    expect(promtool('check', 'rules', 'bad.yaml').status).not.toBe(0);
  });
});
