/**
 * AWS SDK clients as ferry uses them. The SDK's logger middleware runs every command's input and
 * output through its sensitive-data filter (a walk of the whole schema and value: every Query's
 * items) even when the logger is the no-op default, because it calls `logger?.info?.(...)` with
 * the filtered values as arguments. ferry never gives the SDK a logger, so the middleware only
 * costs: about 2 % of `ferry serve`'s CPU under load. Removed here.
 */
interface WithStack {
  middlewareStack: { remove(name: string): boolean };
}

export function withoutSdkLogging<C extends WithStack>(client: C): C {
  client.middlewareStack.remove("loggerMiddleware");
  return client;
}
