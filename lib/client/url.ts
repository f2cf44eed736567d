import { ConfigError } from '../errors.js'

/** A validated controller base URL: scheme, host, port and an optional path prefix (a proxy's `/weft`). */
export interface ControllerUrl {
  /** Normal form: `scheme://host[:port][/prefix]`, no trailing slash. Logs and status show this. */
  readonly href: string
  readonly protocol: 'http:' | 'https:'
  /** Host name or address as written, IPv6 without brackets. */
  readonly host: string
  /** The port, the scheme's default (80, 443) when the URL names none. */
  readonly port: number
  /** `''` or a prefix such as `/weft`, without a trailing slash; every API path goes below it. */
  readonly basePath: string
}

/** `host:port`, `[v6]:port` or a bare host: what an operator types when the scheme is missing. */
const NO_SCHEME = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)(?::\d{1,5})?(?:\/.*)?$/

/**
 * Parses the controller URL every command and the daemon are given. Throws ConfigError, naming `flag`, with
 * the fix for a missing scheme, a scheme other than http/https, credentials, a query or fragment, or text
 * that is no URL. A path prefix is kept: `https://proxy.example/weft/` calls `/weft/v1/...`.
 */
export function parseControllerUrl (input: string, flag = '--controller'): ControllerUrl {
  const text = input.trim()
  if (text === '') throw new ConfigError(`${flag} is empty; give the controller's URL, e.g. https://controller.example:8443`)
  if (!text.includes('://') && NO_SCHEME.test(text)) {
    throw new ConfigError(`${flag} "${text}" has no scheme: write https://${text} if the controller serves TLS (--tls-cert), or http://${text} if it does not`)
  }
  let url: URL
  try { url = new URL(text) } catch {
    throw new ConfigError(`${flag} "${text}" is not a URL; use e.g. https://198.18.0.1:8443 or http://127.0.0.1:8080`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${flag} "${text}" uses the scheme ${url.protocol.replace(/:$/, '')}, but the controller speaks only http:// or https://`)
  }
  if (url.hostname === '') throw new ConfigError(`${flag} "${text}" names no host; use e.g. https://198.18.0.1:8443`)
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError(`${flag} must not carry a user name or password; admin commands authenticate with --admin-key, nodes with their credential`)
  }
  if (url.search !== '' || url.hash !== '') throw new ConfigError(`${flag} "${text}" must not have a query or fragment`)
  const protocol = url.protocol
  const basePath = url.pathname.replace(/\/+$/, '')
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  const port = url.port === '' ? (protocol === 'https:' ? 443 : 80) : Number(url.port)
  return { href: `${protocol}//${url.host}${basePath}`, protocol, host, port, basePath }
}

/** The full URL of API path `path` (which starts with `/`, e.g. `/v1/nodes?x=1`) below the controller's base. */
export function apiUrl (base: ControllerUrl, path: string): URL {
  return new URL(`${base.href}${path}`)
}
