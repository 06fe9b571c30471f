export default async function globalTeardown() {
  await (globalThis as { __EMBEDDED_PG__?: { stop(): Promise<void> } }).__EMBEDDED_PG__?.stop();
}
