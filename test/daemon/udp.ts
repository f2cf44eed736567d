import { createSocket } from 'node:dgram'

/** A UDP port on 127.0.0.1 that was free a moment ago (bound, read, released). */
export async function freePort (): Promise<number> {
  const s = createSocket('udp4')
  await new Promise<void>(resolve => s.bind(0, '127.0.0.1', () => resolve()))
  const p = s.address().port
  s.close()
  return p
}
