// Validates Kubernetes objects against the JSON schemas shipped by kubernetes-models and
// @kubernetes-models/*. Run by plain node (those packages are ES modules, which jest's CommonJS
// runtime cannot load): reads a JSON array of objects on stdin, writes one result per object.
// A schema is looked up by apiVersion/kind; "schema: null" means the packages have none.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const GROUP_PACKAGES = {
  'argoproj.io': '@kubernetes-models/argo-rollouts',
  'cert-manager.io': '@kubernetes-models/cert-manager',
  'external-secrets.io': '@kubernetes-models/external-secrets',
  'gateway.networking.k8s.io': '@kubernetes-models/gateway-api',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

function modulePath(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (!group) return `kubernetes-models/${version}/${kind}`;
  const pkg = GROUP_PACKAGES[group];
  if (pkg) return `${pkg}/${group}/${version}/${kind}`;
  return `kubernetes-models/${group}/${version}/${kind}`;
}

async function loadModel(apiVersion, kind) {
  const path = modulePath(apiVersion, kind);
  try {
    const mod = await import(path);
    return mod[kind] ? { model: mod[kind], path } : null;
  } catch (error) {
    if (error && (error.code === 'ERR_MODULE_NOT_FOUND' || error.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED')) return null;
    throw error;
  }
}

// The Argo Rollouts models accept unknown fields, but the API server prunes or (with strict field
// validation) rejects them: a typo like `trafficRoutng` would silently do nothing. Their CRD
// schema is a JSON literal in the model's CommonJS file; walk the object against it.
const require = createRequire(import.meta.url);
function crdSchema(path) {
  if (!path.startsWith('@kubernetes-models/argo-rollouts/')) return null;
  const text = readFileSync(require.resolve(path), 'utf8');
  const start = text.indexOf('const schema = ');
  const end = text.indexOf('\n};\n', start);
  return start < 0 || end < 0 ? null : JSON.parse(text.slice(start + 'const schema = '.length, end + 2));
}

function unknownFields(value, schema, at, out) {
  if (!schema || value === null || typeof value !== 'object') return out;
  if (Array.isArray(value)) {
    value.forEach((v, i) => unknownFields(v, schema.items, `${at}[${i}]`, out));
    return out;
  }
  // An empty "properties" is a free-form map whose x-kubernetes-preserve-unknown-fields the
  // generator dropped (e.g. trafficRouting.plugins): anything goes there.
  if (
    !schema.properties ||
    !Object.keys(schema.properties).length ||
    schema.additionalProperties ||
    schema['x-kubernetes-preserve-unknown-fields']
  )
    return out;
  for (const [key, v] of Object.entries(value)) {
    if (!(key in schema.properties)) out.push(`unknown field ${at}.${key}`);
    else if (key !== 'metadata') unknownFields(v, schema.properties[key], `${at}.${key}`, out);
  }
  return out;
}

let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', async () => {
  const requests = JSON.parse(input);
  const results = [];
  for (const { object, schemaApiVersion } of requests) {
    const apiVersion = schemaApiVersion ?? object.apiVersion;
    const found = await loadModel(apiVersion, object.kind);
    if (!found) {
      results.push({ schema: null, errors: [] });
      continue;
    }
    try {
      // The model stamps its own apiVersion: a fallback schema validates the same body.
      new found.model({ ...object, apiVersion: found.model.apiVersion }).validate();
      results.push({ schema: found.path, errors: unknownFields(object, crdSchema(found.path), '', []) });
    } catch (error) {
      results.push({ schema: found.path, errors: [String(error.message ?? error)] });
    }
  }
  process.stdout.write(JSON.stringify(results));
});
