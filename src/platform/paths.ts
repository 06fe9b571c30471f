import fs from 'node:fs';
import path from 'node:path';

/** The folder holding package.json, whether running from src/ (ts-jest) or dist/src/ (node). */
function findRoot(start: string): string {
  let dir = start;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}

export const PROJECT_ROOT = findRoot(__dirname);
