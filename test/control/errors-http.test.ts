import t from 'tap'
import { connect } from 'node:net'
import { joinNode, start } from './helpers.js'

/** Sends `text` as-is on a new connection and resolves with status and parsed JSON body once the server closes it. */
async function raw (base: string, text: string): Promise<{ status: number, headers: string, json: any }> {
  const u = new URL(base)
  return await new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname)
    const chunks: Buffer[] = []
    const timer = setTimeout(() => { s.destroy(); reject(new Error('no complete answer within 5 s')) }, 5000)
    s.on('data', c => chunks.push(c))
    s.on('error', () => {})
    s.on('close', () => {
      clearTimeout(timer)
      const all = Buffer.concat(chunks).toString('utf8')
      const [head = '', ...rest] = all.split('\r\n\r\n')
      let json: any = rest.join('\r\n\r\n')
      try { json = JSON.parse(json) } catch {}
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers: head, json })
    })
    s.end(text)
  })
}

const post = (path: string, body: string, headers = ''): string =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
const get = (path: string, headers = ''): string => `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers}\r\n`

t.test('answers made before any route runs still carry an ErrorBody with a WEFT_ERR_ code', async (t) => {
  const c = await start(t)
  const n = await joinNode(c, 'a')
  const auth = `Authorization: Bearer ${n.credential}\r\n`
  const cases: Array<[string, string, number, string]> = [
    ['a request line that is not HTTP', 'HELLO\r\n\r\n', 400, 'WEFT_ERR_INVALID_INPUT'],
    ['an unknown method', 'FOO /v1/info HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'WEFT_ERR_INVALID_INPUT'],
    ['two different Content-Length headers', 'POST /v1/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ' +
      '2\r\nContent-Length: 3\r\n\r\n{}', 400, 'WEFT_ERR_INVALID_INPUT'],
    ['a control character in a header', get('/v1/info', 'X-Bad: a\x01b\r\n'), 400, 'WEFT_ERR_INVALID_INPUT'],
    ['a bad chunk size', 'POST /v1/heartbeat HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nZZ\r\n',
      400, 'WEFT_ERR_INVALID_INPUT'],
    ['headers above 16 KiB', get('/v1/info', `X-Big: ${'a'.repeat(20_000)}\r\n`), 431, 'WEFT_ERR_HEADERS_TOO_LARGE'],
    ['a URL above 16 KiB', get(`/v1/netmap?${'a'.repeat(20_000)}`), 431, 'WEFT_ERR_HEADERS_TOO_LARGE'],
    ['a path parameter above 100 characters', `DELETE /v1/nodes/${'a'.repeat(200)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      414, 'WEFT_ERR_URI_TOO_LONG'],
    ['a path that is not valid percent-encoding', get('/v1/nodes/%zz'), 400, 'WEFT_ERR_INVALID_INPUT'],
    ['a body that is not JSON', post('/v1/heartbeat', '{not json', `Content-Type: application/json\r\n${auth}`), 400, 'WEFT_ERR_INVALID_INPUT'],
    ['an empty JSON body', post('/v1/heartbeat', '', `Content-Type: application/json\r\n${auth}`), 400, 'WEFT_ERR_INVALID_INPUT'],
    ['a text/plain body', post('/v1/heartbeat', '{"endpoints":[],"listenPort":1}', `Content-Type: text/plain\r\n${auth}`),
      415, 'WEFT_ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['a text/plain body on a route without a body schema', post('/v1/leave', 'bye', `Content-Type: text/plain\r\n${auth}`),
      415, 'WEFT_ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['a body without a content type', post('/v1/register', '{}'), 415, 'WEFT_ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['a body above 64 KiB', post('/v1/register', JSON.stringify({ pad: 'x'.repeat(70_000) }), 'Content-Type: application/json\r\n'),
      413, 'WEFT_ERR_BODY_TOO_LARGE'],
    ['a prototype-poisoning key', post('/v1/tokens', '{"__proto__":{"x":1}}', 'Content-Type: application/json\r\n'), 400, 'WEFT_ERR_INVALID_INPUT']
  ]
  for (const [label, text, status, code] of cases) {
    const r = await raw(c.url, text)
    t.equal(r.status, status, `${label}: ${status}`)
    t.match(r.headers, /content-type: application\/json/i, `${label}: a JSON body`)
    t.match(r.json, { statusCode: status, code, error: String, message: String }, `${label}: ErrorBody with ${code}`)
  }
  const still = await raw(c.url, get('/v1/info'))
  t.equal(still.status, 200, 'the controller still serves')
})
