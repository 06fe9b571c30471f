import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/platform/paths';

const sources = (dir: string): string[] =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const full = path.join(dir, d.name);
    if (d.isDirectory()) return d.name === 'generated' ? [] : sources(full);
    return d.name.endsWith('.ts') ? [full] : [];
  });

describe('the AppError family (src/platform/errors.ts)', () => {
  it('is built only by its named constructors, so each code keeps one status and one title', () => {
    const errorsFile = path.join(PROJECT_ROOT, 'src', 'platform', 'errors.ts');
    const direct = sources(path.join(PROJECT_ROOT, 'src'))
      .filter((f) => f !== errorsFile && /new AppError\(/.test(fs.readFileSync(f, 'utf8')))
      .map((f) => path.relative(PROJECT_ROOT, f));
    expect(direct).toEqual([]);
  });
});
