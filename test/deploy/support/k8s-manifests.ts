import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

export const REPO_ROOT = path.resolve(__dirname, '../../..');
export const K8S_DIR = path.join(REPO_ROOT, 'k8s');
export const BASE_DIR = path.join(K8S_DIR, 'base');
export const OVERLAY_DIR = path.join(K8S_DIR, 'overlays', 'production');

// Loose on purpose: each test narrows what it reads, and a missing field fails its assertion.
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [key: string]: any;
};

/** Every YAML document of a file, parsed strictly (duplicate keys and syntax errors throw). */
export function readYamlDocuments(file: string): unknown[] {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'), { uniqueKeys: true });
  return docs
    .map((doc) => {
      if (doc.errors.length)
        throw new Error(`${path.relative(REPO_ROOT, file)}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS();
    })
    .filter((d) => d !== null);
}

export function yamlFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => path.join(dir, f));
}

export interface Kustomization {
  resources?: string[];
  patches?: Array<{ path: string; target?: { group?: string; version?: string; kind?: string; name?: string } }>;
  images?: Array<{ name: string; newName?: string; newTag?: string; digest?: string }>;
}

export function readKustomization(dir: string): Kustomization {
  return readYamlDocuments(path.join(dir, 'kustomization.yaml'))[0] as Kustomization;
}

/** The base's objects as written, one entry per document of each listed resource file. */
export function baseObjects(): K8sObject[] {
  const { resources = [] } = readKustomization(BASE_DIR);
  return resources.flatMap((r) => readYamlDocuments(path.join(BASE_DIR, r)) as K8sObject[]);
}

/**
 * The overlay as kubectl would apply it. `kubectl kustomize` is kustomize itself (it ships in
 * kubectl); it runs offline. Rendering matters: a strategic-merge patch on a CRD list replaces
 * the whole list, which only the rendered output shows.
 */
export function render(dir: string): K8sObject[] {
  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  if (kubectl.error)
    throw new Error('kubectl is needed to render the kustomizations (kubectl kustomize); install kubectl');
  const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  return YAML.parseAllDocuments(out)
    .map((d) => d.toJS())
    .filter(Boolean) as K8sObject[];
}

export const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);

export function one(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` named ${name}` : ''}, found ${found.length}`);
  return found[0];
}

export interface ValidationResult {
  schema: string | null;
  errors: string[];
}

/** Validates objects with kubernetes-models' schemas (in a plain node process: they are ES modules). */
export function validateWithModels(
  requests: Array<{ object: unknown; schemaApiVersion?: string }>,
): ValidationResult[] {
  const out = execFileSync(process.execPath, [path.join(__dirname, 'validate-models.mjs')], {
    input: JSON.stringify(requests),
    encoding: 'utf8',
    cwd: REPO_ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(out) as ValidationResult[];
}
