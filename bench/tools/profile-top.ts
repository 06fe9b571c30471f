/**
 * `ts-node --transpile-only bench/tools/profile-top.ts <file.cpuprofile> [n]`: the functions with the most
 * self time in a V8 CPU profile (what `--profile` writes), plus totals by script, so a run can be read
 * without DevTools.
 */
import fs from 'node:fs';
import path from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, nArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-top.ts <file.cpuprofile> [n]');
const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const idle = [...selfUs]
  .filter(([id]) => ['(idle)', '(program)'].includes(byId.get(id)!.callFrame.functionName))
  .reduce((a, [, us]) => a + us, 0);
const busy = total - idle;

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  return url ? path.relative(process.cwd(), url.replace(/^file:\/\//, '')) : '';
}
function sum(key: (n: Node) => string): [string, number][] {
  const acc = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const k = key(byId.get(id)!);
    acc.set(k, (acc.get(k) ?? 0) + us);
  }
  return [...acc].sort((a, b) => b[1] - a[1]);
}
const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
const n = Number(nArg ?? 40);
console.log(`profile ${(total / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s (idle/program excluded from %)`);
console.log('\n-- self time by function');
for (const [k, us] of sum(
  (x) => `${x.callFrame.functionName || '(anonymous)'} ${shortUrl(x.callFrame.url)}:${x.callFrame.lineNumber + 1}`,
).slice(0, n))
  console.log(pct(us), k);
console.log('\n-- self time by package / file');
for (const [k, us] of sum((x) => {
  const u = shortUrl(x.callFrame.url);
  if (!u) return x.callFrame.functionName.startsWith('(') ? x.callFrame.functionName : '(native)';
  const m = /^(@[^/]+\/[^/]+|[^/]+)/.exec(u);
  return x.callFrame.url.includes('node_modules/') ? m![1] : u;
}).slice(0, n))
  console.log(pct(us), k);
