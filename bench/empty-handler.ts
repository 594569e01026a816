/** The baseline for `init.empty.ms`: a handler that loads nothing. Bundled like every function. */
export const handler = async () => ({ statusCode: 204 });
