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

/**
 * An object whose properties are each built the first time they are read, then kept: for a
 * module's table of schemas read as `table.key` (domain/fields.ts `out`). Spreading it reads them all.
 */
export function builtOnRead<T extends Record<string, unknown>>(builders: { [K in keyof T]: () => T[K] }): T {
  const table = {} as T;
  for (const key of Object.keys(builders) as (keyof T)[]) {
    Object.defineProperty(table, key, {
      enumerable: true,
      configurable: true,
      get() {
        const value = builders[key]();
        Object.defineProperty(table, key, { value, enumerable: true });
        return value;
      },
    });
  }
  return table;
}
