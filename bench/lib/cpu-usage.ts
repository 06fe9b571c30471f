import fs from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

/**
 * CPU the whole machine spent busy so far (user, nice, system, irq, softirq; not idle, iowait or time
 * stolen by the hypervisor), in ms summed over cores: per request, it says what a charge costs the
 * machine in all (server, PostgreSQL, load generator), which is what two cores run out of.
 */
export function machineBusyMs(): number {
  const [user, nice, system, , , irq, softirq] = fs
    .readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return (user + nice + system + irq + softirq) * TICK_MS;
}

/** Fields 3 onwards of /proc/<pid>/stat (after the command name, which may hold spaces), 0-based. */
function statFields(pid: number | 'self'): number[] {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
}

/** User + system CPU time of a process so far, in ms. */
export function cpuMsOf(pid: number): number {
  const [utime, stime] = statFields(pid).slice(11, 13);
  return (utime + stime) * TICK_MS;
}

/** This process's CPU plus that of its children already waited for (wrk once it has exited), in ms. */
export function ownAndChildrenCpuMs(): number {
  const [utime, stime, cutime, cstime] = statFields('self').slice(11, 15);
  return (utime + stime + cutime + cstime) * TICK_MS;
}

/**
 * CPU of a PostgreSQL server so far, in ms: the postmaster, the backends it has reaped (its children's
 * time) and the ones still running, found by their parent in /proc.
 */
export function serverTreeCpuMs(postmaster: number): number {
  const [utime, stime, cutime, cstime] = statFields(postmaster).slice(11, 15);
  let ms = (utime + stime + cutime + cstime) * TICK_MS;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const f = statFields(Number(entry));
      if (f[1] === postmaster) ms += (f[11] + f[12]) * TICK_MS;
    } catch {
      // exited between the listing and the read: its time is in the postmaster's children's time
    }
  }
  return ms;
}
