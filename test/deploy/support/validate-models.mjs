// Validates Kubernetes objects against the JSON schemas shipped by kubernetes-models and
// @kubernetes-models/*. Run by plain node (those packages are ES modules, which jest's CommonJS
// runtime cannot load): reads a JSON array of objects on stdin, writes one result per object.
// A schema is looked up by apiVersion/kind; "schema: null" means the packages have none.
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
      results.push({ schema: found.path, errors: [] });
    } catch (error) {
      results.push({ schema: found.path, errors: [String(error.message ?? error)] });
    }
  }
  process.stdout.write(JSON.stringify(results));
});
