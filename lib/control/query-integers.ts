import type { FastifyRequest } from 'fastify'

/** Canonical decimal digits of a safe integer: no sign, exponent, fraction, blanks or leading zeros. */
const DECIMAL = /^(0|[1-9][0-9]{0,14})$/

/**
 * A preValidation hook that turns the query fields `schema` types as integer from text into numbers, but
 * only when the text is canonical decimal digits. Anything else stays text and fails the schema, so
 * `since=1e3`, `since=0x10`, `since=` or a repeated `since` answer 400 rather than being read as a number.
 */
export function queryIntegers (schema: { properties: Record<string, { type?: string }> }): (req: FastifyRequest) => Promise<void> {
  const fields = Object.entries(schema.properties).filter(([, p]) => p.type === 'integer').map(([k]) => k)
  return async (req) => {
    const q = req.query as Record<string, unknown>
    for (const f of fields) {
      const v = q[f]
      if (typeof v === 'string' && DECIMAL.test(v)) q[f] = Number(v)
    }
  }
}
