import { spawnSync } from 'node:child_process';

/**
 * A tool from the machine's package manager that some tests need (`npm test`'s pretest installs it
 * when it can: scripts/test-tools.js). Without it, `describeWithTool` reports one failing test that
 * names the tool and its Debian package, instead of each test failing on a spawn error.
 */
export const hasTool = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

export function describeWithTool(cmd: string, debianPackage: string, name: string, body: () => void) {
  if (hasTool(cmd)) return describe(name, body);
  describe(name, () => {
    it(`needs ${cmd}`, () => {
      throw new Error(
        `${cmd} is not installed: apt-get install ${debianPackage} (npm test installs it when run as root on Debian)`,
      );
    });
  });
}
