/**
 * Group commit: calls that arrive while `maxInFlight` batches are already running wait and leave
 * together as the next batch (at most `maxBatch`). When the service is idle a call leaves at once,
 * alone, so grouping adds no latency; under load one round trip and one commit serve many calls.
 * `run` answers one result or Error per item, in order; a rejected `run` fails the whole batch.
 */
export class GroupCommit<I, O> {
  private waiting: Array<{ item: I; resolve: (o: O) => void; reject: (e: unknown) => void }> = [];
  private inFlight = 0;

  constructor(
    private readonly run: (items: I[]) => Promise<Array<O | Error>>,
    private readonly options: { maxInFlight: number; maxBatch: number },
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump() {
    while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.options.maxBatch);
      this.inFlight++;
      this.run(batch.map((b) => b.item))
        .then(
          (results) =>
            batch.forEach((b, i) => {
              const result = results[i];
              if (result instanceof Error) b.reject(result);
              else if (result === undefined) b.reject(new Error('group commit: no result for an item'));
              else b.resolve(result);
            }),
          (error: unknown) => batch.forEach((b) => b.reject(error)),
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
