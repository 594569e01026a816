/**
 * A value built the first time it is asked for, then kept for the container's life. For what a
 * module would otherwise build at load (zod schemas, a logger): a Lambda cold start runs every
 * module's top level, including the parts the first request never needs.
 */
export function builtOnFirstUse<T>(build: () => T): () => T {
  let value: T | undefined;
  let built = false;
  return () => {
    if (!built) {
      value = build();
      built = true;
    }
    return value as T;
  };
}
