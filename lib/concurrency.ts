// Bounded concurrency for every fan-out (LISTs per kind, dry runs, applies,
// deletes, table writes, blob reads): at most `limit` items in flight, results
// in input order, and fail fast. After the first rejection no new item starts,
// and the call rejects with that first error once the items already running
// have settled, so nothing it started is still running when its caller moves on
// (to SyncFail hooks, a status write, a retry). A caller that wants every
// item's outcome despite failures catches per item.
// Imports nothing from lib: anything may use it.

/** `fn` over `items`, at most `limit` at a time; resolves to the results in input order. */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  if (!(limit >= 1)) throw new RangeError(`concurrency limit must be at least 1, got ${limit}`);
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.floor(limit), items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}
