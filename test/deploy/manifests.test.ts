import fs from 'node:fs';
import path from 'node:path';
import {
  BASE_DIR,
  OVERLAY_DIR,
  baseObjects,
  readKustomization,
  readYamlDocuments,
  render,
  validateWithModels,
  yamlFiles,
  type K8sObject,
  type ValidationResult,
} from './support/k8s-manifests';

/**
 * Kinds whose apiVersion no kubernetes-models package ships a schema for. Each is named with the
 * reason; the test fails if the list and the manifests disagree either way, so nothing is
 * skipped silently. Their important fields are asserted in manifest-policy.test.ts.
 */
const UNVALIDATED: Record<string, string> = {
  'gateway.nginx.org/v1alpha1/ClientSettingsPolicy': 'NGINX Gateway Fabric CRD: no kubernetes-models package for it',
};
/**
 * Current apiVersions validated with the nearest schema the packages ship. External Secrets
 * serves external-secrets.io/v1 (the v1beta1 API is deprecated); @kubernetes-models/external-secrets
 * 0.5.x ships v1alpha1/v1beta1 only, and the fields used here are the same in v1beta1.
 */
const SCHEMA_FALLBACK: Record<string, string> = {
  'external-secrets.io/v1': 'external-secrets.io/v1beta1',
};

const typeOf = (o: K8sObject) => `${o.apiVersion}/${o.kind}`;

let base: K8sObject[];
let overlay: K8sObject[];
let embedded: { rolloutTemplate: ValidationResult; migrationJob: ValidationResult };
let rendered: ValidationResult[];
let broken: ValidationResult[];

/** What the schema tests check, validated in one node process (loading the schemas dominates). */
function validateEverything() {
  const objects = [...base, ...overlay];
  const rollout = overlay.find((o) => o.kind === 'Rollout')!;
  const migrate = overlay.find((o) => o.kind === 'AnalysisTemplate' && o.metadata.name.endsWith('db-migrate'))!;
  const job = migrate.spec.metrics[0].provider.job;
  // Deliberately broken copies: the validator must reject them.
  const badRollout = structuredClone(rollout);
  badRollout.spec.strategy.canary.steps[1].setWeight = 'five percent';
  const misspelt = structuredClone(rollout);
  misspelt.spec.strategy.canary.trafficRoutng = misspelt.spec.strategy.canary.trafficRouting;
  delete misspelt.spec.strategy.canary.trafficRouting;
  const badHpa = structuredClone(overlay.find((o) => o.kind === 'HorizontalPodAutoscaler')!);
  badHpa.spec.maxReplicas = '10';
  const results = validateWithModels([
    ...objects.map((object) => ({ object, schemaApiVersion: SCHEMA_FALLBACK[object.apiVersion] })),
    {
      object: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'rollout-template' },
        spec: { selector: rollout.spec.selector, template: rollout.spec.template },
      },
    },
    {
      object: {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'db-migrate', ...job.metadata },
        spec: job.spec,
      },
    },
    { object: badRollout },
    { object: badHpa },
    { object: misspelt },
  ]);
  rendered = results.slice(0, objects.length);
  const [rolloutTemplate, migrationJob, ...rest] = results.slice(objects.length);
  embedded = { rolloutTemplate, migrationJob };
  broken = rest;
}

beforeAll(() => {
  base = render(BASE_DIR);
  overlay = render(OVERLAY_DIR);
  validateEverything();
});

describe('kustomize layout', () => {
  it('lists every base manifest file as a resource, and every listed resource exists', () => {
    const listed = (readKustomization(BASE_DIR).resources ?? []).slice().sort();
    const files = yamlFiles(BASE_DIR)
      .map((f) => path.basename(f))
      .filter((f) => f !== 'kustomization.yaml')
      .sort();
    expect(listed).toEqual(files);
  });

  it('parses every YAML document of the base, the overlay and the alert tests without error or duplicate key', () => {
    const files = [...yamlFiles(BASE_DIR), ...yamlFiles(OVERLAY_DIR), ...yamlFiles(path.join(BASE_DIR, '..', 'tests'))];
    const counts = files.map((f) => readYamlDocuments(f).length);
    expect(counts.every((n) => n > 0)).toBe(true);
    expect(files.length).toBeGreaterThan(20);
  });

  it('renders the overlay with the same objects as the base, plus nothing unexpected', () => {
    const ids = (objects: K8sObject[]) => objects.map((o) => `${typeOf(o)}/${o.metadata.name}`).sort();
    expect(ids(overlay)).toEqual(ids(base));
    expect(ids(base)).toEqual(ids(baseObjects()));
  });

  it('points every overlay patch at an object of the base, and every JSON-patch path at an existing field', () => {
    const k = readKustomization(OVERLAY_DIR);
    expect(k.resources).toEqual(['../../base']);
    const objects = baseObjects();
    for (const patch of k.patches ?? []) {
      const file = path.join(OVERLAY_DIR, patch.path);
      expect(fs.existsSync(file)).toBe(true);
      const content = readYamlDocuments(file)[0];
      if (Array.isArray(content)) {
        // JSON 6902: the target is named in the kustomization; each replace/remove path must exist.
        const t = patch.target!;
        const target = objects.filter(
          (o) => o.kind === t.kind && o.metadata.name === t.name && o.apiVersion === `${t.group}/${t.version}`,
        );
        expect(target).toHaveLength(1);
        for (const op of content as Array<{ op: string; path: string }>) {
          const segments = op.path.split('/').slice(1);
          const parent = segments
            .slice(0, -1)
            .reduce<unknown>((v, s) => (v as Record<string, unknown>)?.[s], target[0]);
          expect(parent).toBeDefined();
          if (op.op !== 'add') expect((parent as Record<string, unknown>)[segments[segments.length - 1]]).toBeDefined();
        }
      } else {
        const p = content as K8sObject;
        const target = objects.filter(
          (o) =>
            o.kind === p.kind && o.metadata.name === p.metadata.name && o.metadata.namespace === p.metadata.namespace,
        );
        expect(target).toHaveLength(1);
      }
    }
  });

  it('sets the release image on the Rollout and on the migration Job alike', () => {
    const image = readKustomization(OVERLAY_DIR).images![0];
    const wanted = `${image.newName ?? image.name}:${image.newTag}`;
    const images = JSON.stringify(overlay).match(/"image":"[^"]+"/g);
    expect(images).toEqual([`"image":"${wanted}"`, `"image":"${wanted}"`]);
  });
});

describe('schemas (kubernetes-models)', () => {
  it('validates every rendered object of the base and the overlay; only the declared kinds lack a schema', () => {
    const objects = [...base, ...overlay];
    const results = rendered;
    const failures = results.flatMap((r, i) =>
      r.errors.map((e) => `${typeOf(objects[i])} ${objects[i].metadata.name}: ${e}`),
    );
    expect(failures).toEqual([]);
    const withoutSchema = [...new Set(results.flatMap((r, i) => (r.schema ? [] : [typeOf(objects[i])])))].sort();
    expect(withoutSchema).toEqual(Object.keys(UNVALIDATED).sort());
    const fellBack = [...new Set(objects.filter((o) => SCHEMA_FALLBACK[o.apiVersion]).map((o) => o.apiVersion))];
    expect(fellBack).toEqual(Object.keys(SCHEMA_FALLBACK));
  });

  it('validates the pod template of the Rollout and the migration Job with the core schemas', () => {
    const results = [embedded.rolloutTemplate, embedded.migrationJob];
    expect(results.map((r) => r.schema)).toEqual([
      'kubernetes-models/apps/v1/Deployment',
      'kubernetes-models/batch/v1/Job',
    ]);
    expect(results.flatMap((r) => r.errors)).toEqual([]);
  });

  it('reports a schema violation (the validator is not a rubber stamp)', () => {
    const [r1, r2, r3] = broken;
    expect(r1.errors.join()).toMatch(/setWeight must be integer/);
    expect(r2.errors.join()).toMatch(/maxReplicas must be integer/);
    expect(r3.errors).toEqual(['unknown field .spec.strategy.canary.trafficRoutng']);
  });
});
