/** The UAPI socket: where it lives and one request/reply exchange over it. */
import { connect } from 'node:net'
import { existsSync } from 'node:fs'
import type { Clock } from '../../clock.js'
import { DeviceError, DeviceTimeoutError } from '../../errors.js'
import { GET_REQUEST, isCompleteReply } from './uapi.js'

/** Directory of wireguard-go's UAPI sockets; one per interface, shared by every namespace on the machine. */
export const UAPI_DIR = '/var/run/wireguard'

/** Path of the UAPI socket of interface `ifname`. */
export function uapiSocketPath (ifname: string, dir = UAPI_DIR): string {
  return `${dir}/${ifname}.sock`
}

/**
 * Sends one UAPI request and resolves with the complete reply text. Rejects with DeviceError when the socket
 * cannot be reached or closes early, and with DeviceTimeoutError when it does not answer within `timeoutMs`.
 */
export async function uapiRequest (sockPath: string, request: string, clock: Clock, timeoutMs = 5000): Promise<string> {
  return await new Promise((resolve, reject) => {
    const sock = connect(sockPath)
    let buf = ''
    let done = false
    const finish = (err: Error | null, text?: string): void => {
      if (done) return
      done = true
      timer.cancel()
      sock.destroy()
      if (err !== null) reject(err)
      else resolve(text!)
    }
    const timer = clock.setTimeout(() => finish(new DeviceTimeoutError(`UAPI ${sockPath}: no reply within ${timeoutMs} ms`)), timeoutMs)
    sock.setEncoding('utf8')
    sock.on('connect', () => sock.write(request))
    sock.on('data', (chunk: string) => {
      buf += chunk
      if (isCompleteReply(buf)) finish(null, buf)
    })
    // After a reply, destroy() still emits 'close': `done` keeps that from building an error (and its stack) per request.
    sock.on('error', (err) => { if (!done) finish(new DeviceError(`UAPI ${sockPath}: ${err.message}`, { cause: err })) })
    sock.on('close', () => { if (!done) finish(new DeviceError(`UAPI ${sockPath}: closed before a complete reply`)) })
  })
}

/** True when `sockPath` accepts a UAPI `get` (a live wireguard-go holds it). */
export async function uapiAlive (sockPath: string, clock: Clock): Promise<boolean> {
  if (!existsSync(sockPath)) return false
  try {
    await uapiRequest(sockPath, GET_REQUEST, clock, 2000)
    return true
  } catch {
    return false
  }
}
