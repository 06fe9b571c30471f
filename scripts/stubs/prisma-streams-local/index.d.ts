/** Throws: `prisma dev` (the only caller) is not supported here. */
export declare function startLocalDurableStreamsServer(options?: unknown): never;
