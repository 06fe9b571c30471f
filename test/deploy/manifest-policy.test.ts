import { parseConfig } from '../../src/platform/config';
import { createMetrics } from '../../src/platform/metrics';
import { OVERLAY_DIR, byKind, one, render, type K8sObject } from './support/k8s-manifests';

// What the go-live issue requires, asserted on the overlay exactly as kubectl would apply it.
const NAMESPACE = 'scholarlink-prod';
const HOST = 'billing.scholarlink.app';
let objects: K8sObject[];
let rollout: K8sObject;
let pod: K8sObject;
let container: K8sObject;
beforeAll(() => {
  objects = render(OVERLAY_DIR);
  rollout = one(objects, 'Rollout', 'scholarlink-billing');
  pod = rollout.spec.template.spec;
  container = pod.containers[0];
});

const RESTRICTED_CONTAINER = {
  runAsNonRoot: true,
  runAsUser: 10001,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

describe('namespace and identity', () => {
  it('puts every namespaced object in scholarlink-prod and the cluster-scoped ones nowhere', () => {
    const clusterScoped = objects.filter((o) => ['Namespace', 'ClusterIssuer'].includes(o.kind));
    expect(clusterScoped.map((o) => `${o.kind} ${o.metadata.namespace ?? '(cluster)'}`).sort()).toEqual([
      'ClusterIssuer (cluster)',
      'Namespace (cluster)',
    ]);
    expect(
      objects.filter((o) => !clusterScoped.includes(o) && o.metadata.namespace !== NAMESPACE).map((o) => o.kind),
    ).toEqual([]);
    expect(one(objects, 'Namespace').metadata).toMatchObject({
      name: NAMESPACE,
      labels: { 'pod-security.kubernetes.io/enforce': 'restricted' },
    });
  });

  it('mounts no service-account token anywhere', () => {
    for (const sa of byKind(objects, 'ServiceAccount')) expect(sa.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBe('scholarlink-billing');
    expect(pod.automountServiceAccountToken).toBe(false);
  });
});

describe('pods', () => {
  it('runs the API as uid 10001, non-root, read-only root, no escalation or capabilities, seccomp default', () => {
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toMatchObject(RESTRICTED_CONTAINER);
  });

  it('runs the migration Job with the same restrictions', () => {
    const job = one(objects, 'AnalysisTemplate', 'scholarlink-billing-db-migrate').spec.metrics[0].provider.job.spec;
    expect(job.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    expect(job.template.spec.containers[0].securityContext).toMatchObject(RESTRICTED_CONTAINER);
    expect(job.template.spec.containers[0].command).toEqual(['node', 'dist/scripts/db-migrate.js']);
    expect(job.backoffLimit).toBe(0);
  });

  it('probes liveness on /healthz and readiness on /readyz of the service port', () => {
    expect(container.ports).toEqual([{ name: 'http', containerPort: 3000, protocol: 'TCP' }]);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
  });

  it('sets requests and limits, and makes /tmp (an emptyDir) the only writable mount', () => {
    expect(Object.keys(container.resources.requests).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(container.resources.limits).sort()).toEqual(['cpu', 'memory']);
    expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(pod.volumes).toEqual([
      { name: 'tmp', emptyDir: expect.objectContaining({ sizeLimit: expect.any(String) }) },
    ]);
  });

  it('lets the app drain: grace period above SHUTDOWN_GRACE_SECONDS plus the preStop pause', () => {
    const config = one(objects, 'ConfigMap', 'scholarlink-billing-config').data;
    const preStop = Number(container.lifecycle.preStop.exec.command[1]);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(config.SHUTDOWN_GRACE_SECONDS) + preStop);
  });

  it('scales between 2 and 10 replicas on CPU and memory, with at most one pod disrupted at a time', () => {
    const hpa = one(objects, 'HorizontalPodAutoscaler');
    expect(hpa.spec).toMatchObject({
      minReplicas: 2,
      maxReplicas: 10,
      scaleTargetRef: { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: rollout.metadata.name },
    });
    expect(hpa.spec.metrics.map((m: K8sObject) => m.resource.name).sort()).toEqual(['cpu', 'memory']);
    expect(rollout.spec.replicas).toBeUndefined(); // the HPA owns the count
    const pdb = one(objects, 'PodDisruptionBudget');
    expect(pdb.spec.selector.matchLabels).toEqual(rollout.spec.selector.matchLabels);
    expect(pdb.spec.maxUnavailable).toBe(1);
  });
});

describe('configuration', () => {
  it('starts in production with the ConfigMap and the ExternalSecret keys (the config parser accepts them)', () => {
    const config = one(objects, 'ConfigMap', 'scholarlink-billing-config').data as Record<string, string>;
    const external = one(objects, 'ExternalSecret');
    const secretKeys = external.spec.data.map((d: K8sObject) => d.secretKey) as string[];
    expect(external.spec.target.name).toBe(container.envFrom[1].secretRef.name);
    expect(container.envFrom[0].configMapRef.name).toBe('scholarlink-billing-config');
    const dummy = (k: string) =>
      k.endsWith('_URL')
        ? 'postgresql://u@db.internal:5432/billing'
        : k === 'EVENTS_WEBHOOK_SECRET'
          ? `whsec_${'A'.repeat(32)}`
          : 'secret';
    const dummySecrets = Object.fromEntries(secretKeys.map((k) => [k, dummy(k)]));
    expect(() => parseConfig({ ...config, ...dummySecrets })).not.toThrow();
    expect(parseConfig({ ...config, ...dummySecrets }).NODE_ENV).toBe('production');
    // Without the secret, production refuses to start: the keys above are the required ones.
    expect(() => parseConfig(config)).toThrow(/DATABASE_URL.*STRIPE_SECRET_KEY.*STRIPE_WEBHOOK_SECRET/);
    expect(secretKeys.filter((k) => k in config)).toEqual([]);
  });

  it('passes the read replica URL from the secret and sizes both pools so every pod fits the primary', () => {
    const config = one(objects, 'ConfigMap', 'scholarlink-billing-config').data as Record<string, string>;
    const read = one(objects, 'ExternalSecret').spec.data.find((d: K8sObject) => d.secretKey === 'DATABASE_READ_URL');
    expect(read.remoteRef).toEqual({ key: 'scholarlink/billing/production', property: 'DATABASE_READ_URL' });
    const parsed = parseConfig({
      ...config,
      DATABASE_URL: 'postgresql://u@db:5432/b',
      DATABASE_READ_URL: 'postgresql://u@replica:5432/b',
      STRIPE_SECRET_KEY: 's',
      STRIPE_WEBHOOK_SECRET: 's',
    });
    expect(parsed.DATABASE_READ_POOL_MAX).toBeGreaterThan(0);
    // Pods at the HPA's maximum plus two canary pods, each with its pool and one charge connection.
    const pods = one(objects, 'HorizontalPodAutoscaler').spec.maxReplicas + 2;
    const gates = one(objects, 'AnalysisTemplate', 'scholarlink-billing-canary-gates').spec.args as K8sObject[];
    const maxConnections = Number(gates.find((a) => a.name === 'db-max-connections')!.value);
    expect(pods * (parsed.DATABASE_POOL_MAX + 1)).toBeLessThanOrEqual(0.8 * maxConnections);
  });

  it('reads the secret from AWS Secrets Manager through a namespaced store', () => {
    const store = one(objects, 'SecretStore');
    expect(store.spec.provider.aws.service).toBe('SecretsManager');
    expect(one(objects, 'ExternalSecret').spec.secretStoreRef).toEqual({
      kind: 'SecretStore',
      name: store.metadata.name,
    });
    expect(byKind(objects, 'ServiceAccount').map((s) => s.metadata.name)).toContain(
      store.spec.provider.aws.auth.jwt.serviceAccountRef.name,
    );
  });
});

describe('canary rollout', () => {
  const steps = () => rollout.spec.strategy.canary.steps as Array<Record<string, K8sObject>>;

  it('migrates first, then goes 5% -> 25% -> 50% -> 100% with a pause and the gates after each weight', () => {
    expect(steps()[0].analysis.templates).toEqual([{ templateName: 'scholarlink-billing-db-migrate' }]);
    const weights = steps()
      .filter((s) => s.setWeight !== undefined)
      .map((s) => s.setWeight);
    expect(weights).toEqual([5, 25, 50, 100]);
    steps().forEach((s, i) => {
      if (s.setWeight === undefined) return;
      expect(steps()[i + 1].pause.duration).toMatch(/^\d+m$/);
      expect(steps()[i + 2].analysis.templates).toEqual([{ templateName: 'scholarlink-billing-canary-gates' }]);
    });
  });

  it('splits traffic with the Gateway API plugin between the stable and canary Services of one HTTPRoute', () => {
    const canary = rollout.spec.strategy.canary;
    const plugin = canary.trafficRouting.plugins['argoproj-labs/gatewayAPI'];
    const route = one(objects, 'HTTPRoute', plugin.httpRoute);
    expect(plugin.namespace).toBe(NAMESPACE);
    expect(route.spec.rules[0].backendRefs.map((b: K8sObject) => b.name)).toEqual([
      canary.stableService,
      canary.canaryService,
    ]);
    for (const name of [canary.stableService, canary.canaryService])
      expect(one(objects, 'Service', name).spec.ports[0].targetPort).toBe('http');
  });

  it('encodes the go-live gates: errors < 0.5%, p95 < 2x stable, webhooks > 95%, DB CPU and connections < 80%', () => {
    const metrics = one(objects, 'AnalysisTemplate', 'scholarlink-billing-canary-gates').spec.metrics as K8sObject[];
    const conditions = Object.fromEntries(metrics.map((m) => [m.name, [m.successCondition, m.failureCondition]]));
    expect(conditions).toEqual({
      'error-rate': ['result[0] < 0.005', 'result[0] >= 0.005'],
      'p95-latency-vs-stable': ['result[0] < 2', 'result[0] >= 2'],
      'webhook-success': ['result[0] > 0.95', 'result[0] <= 0.95'],
      'db-cpu': ['result[0] < 80', 'result[0] >= 80'],
      'db-pool-use': ['result[0] < 0.8', 'result[0] >= 0.8'],
      'db-server-connections': ['result[0] < 0.8', 'result[0] >= 0.8'],
    });
    const query = (name: string) => metrics.find((m) => m.name === name)!.provider.prometheus.query as string;
    expect(query('error-rate')).toContain('rollouts_pod_template_hash="{{args.canary-hash}}"');
    expect(query('p95-latency-vs-stable')).toMatch(/canary-hash[\s\S]*\/[\s\S]*stable-hash/);
    expect(query('db-cpu')).toContain('aws_rds_cpuutilization_average');
    for (const m of metrics) expect(m.failureLimit).toBe(0);
  });

  it('labels scraped series with the pod-template hash the gates select on', () => {
    const monitor = one(objects, 'ServiceMonitor');
    const service = one(objects, 'Service', 'scholarlink-billing-metrics');
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(service.spec.ports.map((p: K8sObject) => p.name)).toContain(monitor.spec.endpoints[0].port);
    expect(monitor.spec.endpoints[0].relabelings).toContainEqual({
      sourceLabels: ['__meta_kubernetes_pod_label_rollouts_pod_template_hash'],
      targetLabel: 'rollouts_pod_template_hash',
    });
  });
});

describe('public edge', () => {
  it("terminates TLS on 443 for billing.scholarlink.app with a Let's Encrypt certificate from cert-manager", () => {
    const gateway = one(objects, 'Gateway');
    const https = gateway.spec.listeners.find((l: K8sObject) => l.port === 443);
    expect(https).toMatchObject({ protocol: 'HTTPS', hostname: HOST, tls: { mode: 'Terminate' } });
    const certificate = one(objects, 'Certificate');
    expect(https.tls.certificateRefs[0].name).toBe(certificate.spec.secretName);
    expect(certificate.spec.dnsNames).toEqual([HOST]);
    const issuer = one(objects, 'ClusterIssuer', certificate.spec.issuerRef.name);
    expect(issuer.spec.acme.server).toBe('https://acme-v02.api.letsencrypt.org/directory');
  });

  it('adds the hardened headers to every API response and does not route /metrics', () => {
    const rule = one(objects, 'HTTPRoute', 'scholarlink-billing').spec.rules[0];
    const headers = Object.fromEntries(
      rule.filters[0].responseHeaderModifier.set.map((h: K8sObject) => [h.name, h.value]),
    );
    expect(rule.filters[0].type).toBe('ResponseHeaderModifier');
    expect(headers).toEqual({
      'Strict-Transport-Security': 'max-age=63072000; includeSubDomains; preload',
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
    });
    expect(JSON.stringify(rule.matches)).not.toContain('/metrics');
  });

  it('redirects HTTP to HTTPS with a 301', () => {
    const redirect = one(objects, 'HTTPRoute', 'scholarlink-billing-https-redirect');
    expect(redirect.spec.parentRefs).toEqual([{ name: 'scholarlink-billing', sectionName: 'http' }]);
    expect(redirect.spec.rules[0].filters).toEqual([
      { type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } },
    ]);
  });

  it('limits request bodies at the Gateway (NGINX Gateway Fabric ClientSettingsPolicy)', () => {
    const policy = one(objects, 'ClientSettingsPolicy');
    expect(policy.spec.targetRef).toEqual({
      group: 'gateway.networking.k8s.io',
      kind: 'Gateway',
      name: one(objects, 'Gateway').metadata.name,
    });
    expect(policy.spec.body.maxSize).toMatch(/^\d+k$/);
  });

  it('admits traffic only from the gateway and monitoring, and lets out only DNS, PostgreSQL/Redis and HTTPS', () => {
    const policy = one(objects, 'NetworkPolicy', 'scholarlink-billing');
    expect(policy.spec.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'scholarlink-billing' });
    const sources = policy.spec.ingress.flatMap((r: K8sObject) => r.from.map((f: K8sObject) => JSON.stringify(f)));
    expect(sources).toEqual([
      JSON.stringify({
        podSelector: { matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'scholarlink-billing' } },
      }),
      JSON.stringify({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'nginx-gateway' } } }),
      JSON.stringify({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }),
    ]);
    expect(policy.spec.ingress.flatMap((r: K8sObject) => r.ports.map((p: K8sObject) => p.port))).toEqual([3000, 3000]);
    expect(
      policy.spec.egress.flatMap((r: K8sObject) => r.ports.map((p: K8sObject) => `${p.port}/${p.protocol}`)),
    ).toEqual(['53/UDP', '53/TCP', '5432/TCP', '6379/TCP', '443/TCP']);
    expect(one(objects, 'NetworkPolicy', 'default-deny-all').spec).toEqual({
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
    });
  });
});

describe('observability', () => {
  const known = () => {
    const names = new Set<string>(['up']);
    for (const m of createMetrics().registry.getMetricsAsArray()) {
      const { name, type } = m as unknown as { name: string; type: string };
      names.add(name);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    }
    return names;
  };
  const selectors = (promql: string) => [...promql.matchAll(/\b([a-z_:][a-z0-9_:]*)\s*\{/g)].map((m) => m[1]);
  // CloudWatch metrics of RDS through yet-another-cloudwatch-exporter: not the service's own.
  const external = (name: string) => name.startsWith('aws_rds_');

  it('queries only metrics the service exports (rules, gates and dashboard)', () => {
    const names = known();
    const rules = one(objects, 'PrometheusRule').spec.groups.flatMap((g: K8sObject) =>
      g.rules.map((r: K8sObject) => r.expr),
    );
    const gates = byKind(objects, 'AnalysisTemplate').flatMap((t) =>
      t.spec.metrics.filter((m: K8sObject) => m.provider.prometheus).map((m: K8sObject) => m.provider.prometheus.query),
    );
    const dashboard = JSON.parse(
      one(objects, 'ConfigMap', 'scholarlink-billing-dashboard').data['scholarlink-billing.json'],
    );
    const panels = dashboard.panels.flatMap((p: K8sObject) => p.targets.map((t: K8sObject) => t.expr));
    const used = [...rules, ...gates, ...panels].flatMap(selectors);
    expect(used.length).toBeGreaterThan(30);
    expect([...new Set(used.filter((n) => !names.has(n) && !external(n)))]).toEqual([]);
    expect(selectors('rate(no_such_metric_total{a="b"}[5m])').filter((n) => !names.has(n))).toEqual([
      'no_such_metric_total',
    ]);
  });

  it('alerts on errors, latency, webhooks, pool saturation, auth and rate-limit spikes, ledger, leaking holds', () => {
    const rules = one(objects, 'PrometheusRule').spec.groups.flatMap((g: K8sObject) => g.rules) as K8sObject[];
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'BillingHighErrorRate',
        'BillingHighLatencyP95',
        'BillingStripeWebhookFailures',
        'BillingDbPoolSaturated',
        'BillingAuthFailureSpike',
        'BillingRateLimitSpike',
        'BillingLedgerInvariantBroken',
        'BillingHoldsLeaking',
      ]),
    );
    expect(rules.find((r) => r.alert === 'BillingLedgerInvariantBroken')!.expr).toContain(
      'billing_ledger_invariants_ok',
    );
    expect(rules.find((r) => r.alert === 'BillingHoldsLeaking')!.expr).toContain('billing_holds_expired_unsettled');
    expect(rules.find((r) => r.alert === 'BillingStripeLookupRefused')!.expr).toContain(
      'billing_webhook_lookups_refused_total',
    );
    for (const r of rules) expect(['critical', 'warning']).toContain(r.labels.severity);
  });

  it('ships a Grafana dashboard as JSON in a ConfigMap the sidecar picks up', () => {
    const map = one(objects, 'ConfigMap', 'scholarlink-billing-dashboard');
    expect(map.metadata.labels?.grafana_dashboard).toBe('1');
    const dashboard = JSON.parse(map.data['scholarlink-billing.json']);
    expect(dashboard.uid).toBe('scholarlink-billing');
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
  });

  it('the dashboard shows charge batch retries and refused Stripe lookups, the series their alerts fire on', () => {
    const dashboard = JSON.parse(
      one(objects, 'ConfigMap', 'scholarlink-billing-dashboard').data['scholarlink-billing.json'],
    );
    const exprs: string[] = dashboard.panels.flatMap((p: K8sObject) => p.targets.map((t: K8sObject) => t.expr));
    expect(exprs.some((e) => e.includes('billing_charge_batch_retries_total'))).toBe(true);
    expect(exprs.some((e) => e.includes('billing_webhook_lookups_refused_total'))).toBe(true);
  });
});
