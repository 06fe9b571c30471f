import v8 from 'node:v8';

/**
 * Turns off V8's allocation-site pretenuring for the server process.
 *
 * V8 starts allocating a site's objects straight into the old generation once most of them survive a
 * scavenge. On the charge path that guess is wrong: whatever the ~10 requests in flight hold at a scavenge
 * looks long-lived, so sites on the request path got pretenured while their objects die milliseconds
 * later, and the old generation filled with garbage. At 1,100 paced charges/s that meant ~1.4 MB/s into
 * the old generation and a mark-compact every ~5 s; without pretenuring ~0.5 MB/s, one in 15 s, and
 * shorter scavenges (docs/decisions/v8-pretenuring-off.md).
 *
 * Node accepts only a few V8 flags in NODE_OPTIONS, so the server sets this one itself, before it loads
 * config or opens a connection; `npm start`, the container and the bench all run it.
 */
export function tuneV8(): void {
  v8.setFlagsFromString('--no-allocation-site-pretenuring');
}
