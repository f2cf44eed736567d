/**
 * The docs' cross-references resolve: every file a doc names exists, every section it names by quoting a
 * heading ("docs/swim.md, \"Join grace\"", "see \"Store integrity\"", "\"Signed claims\" above") is a heading
 * of that file, every markdown link and anchor lands; and the docs describe what is, not the story of how it
 * came to be (no numbered work sessions or tracker items in the prose).
 */
import t from 'tap'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const ROOT = process.cwd()

/** README.md and every docs/*.md, as [name, text]. */
function docs (): Array<[string, string]> {
  const names = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter(n => n.endsWith('.md')).sort().map(n => `docs/${n}`)]
  return names.map(n => [n, readFileSync(join(ROOT, n), 'utf8')])
}

/** The text of every heading of a markdown file, outside code fences, with backticks removed. */
export function headings (text: string): string[] {
  const out: string[] = []
  let fenced = false
  for (const line of text.split('\n')) {
    if (/^\s*```/.test(line)) { fenced = !fenced; continue }
    const m = fenced ? null : /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line)
    if (m !== null) out.push(m[1]!.replace(/`/g, '').trim())
  }
  return out
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug (heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')
}

/**
 * Whether `name` is a heading of `heads`: the whole heading, or its leading part before a parenthesis, comma
 * or colon ("IPAM" names "IPAM (lib/control/ipam.ts)", "Deaths declared by others" names "Deaths declared by
 * others, against our own evidence").
 */
export function hasSection (heads: string[], name: string): boolean {
  const want = name.replace(/`/g, '').replace(/\s+/g, ' ').trim().toLowerCase()
  return heads.some(h => {
    const have = h.toLowerCase()
    return have === want || have.startsWith(`${want} (`) || have.startsWith(`${want}, `) || have.startsWith(`${want}: `)
  })
}

/** Text with fenced code blocks blanked out (line numbers kept). */
function prose (text: string): string {
  let fenced = false
  return text.split('\n').map(line => {
    if (/^\s*```/.test(line)) { fenced = !fenced; return '' }
    return fenced ? '' : line
  }).join('\n')
}

/** Line number (1-based) of offset `at` in `text`. */
function lineOf (text: string, at: number): number {
  return text.slice(0, at).split('\n').length
}

/** A reference found in a doc: `file` (repository path) and, optionally, a section of it. */
export interface Ref { from: string, line: number, file: string, section?: string, anchor?: string }

const DOC = String.raw`(?:docs/[\w-]+\.md|README\.md|CHANGELOG\.md)`
/** A doc named, then (optionally after a comma or an opening parenthesis) one or more quoted section names. */
const QUOTED_NAMES = String.raw`(?:"[^"]{1,100}"(?:,?[ \t\n]*(?:and[ \t\n]+)?(?="))?)+`
const DOC_SECTIONS = new RegExp(String.raw`(?<![\w/.-])(${DOC})\`?,?[ \t]*\n?[ \t]*(?:\(|section[ \t]+)?(${QUOTED_NAMES})`, 'g')
/** A section of the same doc: `see "X"`, `"X" above`, `"X" below`. */
const SEE = /\bsee\s+"([^"]{1,100})"/g
const ABOVE_BELOW = /"([^"]{1,100})"\s+(?:above|below)\b/g
/** A repository path in prose: a top-level directory of this repository, then a path. */
const PATH = /(?<![\w/.$<-])((?:lib|cmd|sim|test|bench|deploy|scripts|docs|dist)\/[\w./-]*[\w]|README\.md|CHANGELOG\.md)/g
const LINK = /\[[^\]]*\]\(([^)\s]+)\)/g

/** Every reference in `text` (the doc `from`). */
export function refs (from: string, text: string): Ref[] {
  const body = prose(text)
  const out: Ref[] = []
  for (const m of body.matchAll(DOC_SECTIONS)) {
    for (const q of m[2]!.matchAll(/"([^"]+)"/g)) out.push({ from, line: lineOf(body, m.index), file: m[1]!, section: q[1]! })
  }
  for (const re of [SEE, ABOVE_BELOW]) {
    for (const m of body.matchAll(re)) {
      // "docs/x.md, see "Y"" is the other doc's section, found above.
      const before = body.slice(Math.max(0, m.index - 40), m.index)
      if (new RegExp(`${DOC}\`?,?\\s*(\\(|section\\s+)?$`).test(before)) continue
      out.push({ from, line: lineOf(body, m.index), file: from, section: m[1]! })
    }
  }
  for (const m of body.matchAll(PATH)) out.push({ from, line: lineOf(body, m.index), file: m[1]! })
  for (const m of body.matchAll(LINK)) {
    const target = m[1]!
    if (/^[a-z]+:/.test(target)) continue
    const [file, anchor] = target.split('#') as [string, string | undefined]
    out.push({ from, line: lineOf(body, m.index), file: file === '' ? from : file, ...(anchor !== undefined ? { anchor } : {}) })
  }
  return out
}

/** Whether a repository path exists: as given, as a file of `dist/` built from a `.ts`, or with `.ts` added. */
export function pathExists (root: string, path: string): boolean {
  const p = path.replace(/\/+$/, '')
  if (/[<>*]|\.\.\./.test(p)) return true // a pattern, not a path
  const candidates = [p, `${p}.ts`]
  const built = /^dist\/(.+)\.js$/.exec(p)
  if (built !== null) candidates.push(`${built[1]}.ts`)
  return candidates.some(c => existsSync(join(root, c)))
}

t.test('every file the docs name exists', async (t) => {
  const bad: string[] = []
  for (const [name, text] of docs()) {
    for (const r of refs(name, text)) {
      if (!pathExists(ROOT, r.file)) bad.push(`${r.from}:${r.line}: ${r.file}`)
    }
  }
  t.same(bad, [], 'no reference to a missing file')
})

t.test('every section the docs name by quoting its heading is a heading of that file', async (t) => {
  const bad: string[] = []
  let checked = 0
  for (const [name, text] of docs()) {
    for (const r of refs(name, text)) {
      if (r.section === undefined || !existsSync(join(ROOT, r.file))) continue
      checked++
      if (!hasSection(headings(readFileSync(join(ROOT, r.file), 'utf8')), r.section)) bad.push(`${r.from}:${r.line}: ${r.file}, "${r.section}"`)
    }
  }
  t.ok(checked > 10, `the docs name sections (${checked} found)`)
  t.same(bad, [], 'no reference to a missing section')
})

t.test('every markdown anchor lands on a heading', async (t) => {
  const bad: string[] = []
  for (const [name, text] of docs()) {
    for (const r of refs(name, text)) {
      if (r.anchor === undefined || !existsSync(join(ROOT, r.file))) continue
      const slugs = headings(readFileSync(join(ROOT, r.file), 'utf8')).map(slug)
      if (!slugs.includes(r.anchor)) bad.push(`${r.from}:${r.line}: ${r.file}#${r.anchor}`)
    }
  }
  t.same(bad, [], 'no anchor without its heading')
})

t.test('the docs say what is, not when it changed: no "session N", no "issue N"', async (t) => {
  const bad: string[] = []
  for (const [name, text] of docs()) {
    text.split('\n').forEach((line, i) => {
      if (/session [0-9]|issue [0-9]|this session|before this change/i.test(line)) bad.push(`${name}:${i + 1}: ${line.trim()}`)
    })
  }
  t.same(bad, [], 'no dated story in README.md or docs/')
})

/** Every TypeScript file under the source directories, as [path, text]. */
function sources (): Array<[string, string]> {
  const out: Array<[string, string]> = []
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${e.name}`
      if (e.isDirectory()) walk(path)
      else if (e.name.endsWith('.ts')) out.push([path, readFileSync(join(ROOT, path), 'utf8')])
    }
  }
  for (const dir of ['lib', 'cmd', 'sim', 'bench', 'test']) walk(dir)
  return out
}

t.test('the code says what is: no "session N" or "issue N" in lib, cmd, sim, bench or test', async (t) => {
  const bad: string[] = []
  for (const [name, text] of sources()) {
    text.split('\n').forEach((line, i) => {
      if (/session [0-9]|issue [0-9]/i.test(line)) bad.push(`${name}:${i + 1}: ${line.trim()}`)
    })
  }
  t.same(bad, [], 'no development story in the code')
})

t.test('every doc section a code comment names is a heading of that doc', async (t) => {
  const bad: string[] = []
  let checked = 0
  for (const [name, text] of sources()) {
    if (name === 'test/docs/refs.test.ts') continue
    for (const r of refs(name, text)) {
      if (r.section === undefined || !r.file.startsWith('docs/') || !existsSync(join(ROOT, r.file))) continue
      checked++
      const section = r.section.replace(/\s*\n\s*(?:\*|\/\/)\s*/g, ' ')
      if (!hasSection(headings(readFileSync(join(ROOT, r.file), 'utf8')), section)) bad.push(`${r.from}:${r.line}: ${r.file}, "${r.section}"`)
    }
  }
  t.ok(checked > 5, `code comments name doc sections (${checked} found)`)
  t.same(bad, [], 'no comment names a missing section')
})

t.test('the reference finder finds what the docs write', async (t) => {
  const text = [
    '# Top', '## Join grace', '## IPAM (lib/control/ipam.ts)',
    'See docs/swim.md, "Join grace", and `docs/controller.md` ("IPAM", "Durability").',
    'As said (see "Join grace"); "IPAM" above; [the top](#top); `lib/swim/state.ts`; `node dist/bench/uapi-cost.js`.',
    '```', 'docs/nowhere.md, "Not a ref"', '```'
  ].join('\n')
  const found = refs('docs/x.md', text).map(r => `${r.file}${r.section !== undefined ? `, "${r.section}"` : ''}${r.anchor !== undefined ? `#${r.anchor}` : ''}`)
  t.same(found.sort(), [
    'docs/swim.md, "Join grace"', 'docs/controller.md, "IPAM"', 'docs/controller.md, "Durability"',
    'docs/x.md, "Join grace"', 'docs/x.md, "IPAM"', 'docs/x.md#top',
    'docs/swim.md', 'docs/controller.md', 'lib/control/ipam.ts', 'lib/swim/state.ts', 'dist/bench/uapi-cost.js'
  ].sort())
  t.ok(hasSection(headings(text), 'IPAM'), 'a heading with a parenthesised tail answers to its name')
  t.notOk(hasSection(headings(text), 'Not a ref'), 'headings in code blocks do not count')
  t.equal(slug('The demo'), 'the-demo')
  t.equal(slug('Who starts the handshake (handshake-watch.ts)'), 'who-starts-the-handshake-handshake-watchts')
})
