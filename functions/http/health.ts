/** `GET /health`: unauthenticated liveness, no I/O. */
export async function handler() {
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'ok' }) };
}
