/**
 * A call must end: settle `p`, or fail with "hung: <what>" after `ms`. Shared by the suites that
 * drive real clients (a hung call is the failure they look for, not a test timeout).
 */
export async function bounded<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`hung: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
