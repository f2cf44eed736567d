/** Text helpers shared by the views: escaping, names, times. Pure functions of their arguments. */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Escapes a string for HTML text or a quoted attribute value; every string from the API goes through it before innerHTML. */
export function esc (s: string | number | null | undefined): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c)
}

/** The name an operator knows a node by: its DNS name, else its hostname. */
export function nodeName (n: { dnsName: string | null, hostname: string }): string {
  return n.dnsName ?? n.hostname
}

/** `12 s ago`, `3 min ago`, `2 h ago`, `4 d ago` (`in 5 s` for the future); `—` for null. */
export function relative (at: number | null, now: number): string {
  if (at === null) return '—'
  const d = now - at
  const s = Math.round(Math.abs(d) / 1000)
  const span = s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : s < 86400 ? `${Math.floor(s / 3600)} h` : `${Math.floor(s / 86400)} d`
  return d >= -1000 ? `${span} ago` : `in ${span}`
}

/** A span of time in words: `45 s`, `12 min`, `3 h 20 min`, `2 d 4 h`. */
export function duration (ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min`
  const h = Math.floor(m / 60)
  if (h < 24) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`
  const d = Math.floor(h / 24)
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`
}

const pad = (n: number): string => String(n).padStart(2, '0')

/** Local wall-clock time `14:02:07`. */
export function clockTime (at: number): string {
  const t = new Date(at)
  return `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`
}

/** Local date and time `2025-03-14 14:02:07`. */
export function dateTime (at: number): string {
  const t = new Date(at)
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ${clockTime(at)}`
}

/** A sort key for a dotted IPv4 address (numeric order); other strings sort after every address. */
export function ipKey (ip: string): number {
  const parts = ip.split('.')
  if (parts.length !== 4) return Number.MAX_SAFE_INTEGER
  return parts.reduce((acc, p) => acc * 256 + (Number(p) || 0), 0)
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' })

/** Orders names as people do: `web-2` before `web-10`, case ignored. */
export function compareNames (a: string, b: string): number {
  return collator.compare(a, b)
}

/** Orders two sort keys: numbers numerically, strings as names. */
export function compareKeys (a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  return compareNames(String(a), String(b))
}
