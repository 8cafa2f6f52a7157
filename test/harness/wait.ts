/** Waiting in tests: poll a condition, bounded. */

/** Poll `fn` until it holds; throws `timed out waiting for <what>` after `timeoutMs`. */
export async function until(fn: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
