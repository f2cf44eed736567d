// ESLint: neostandard (the "standard" style the code is written in) for TypeScript, lines of at most 160 characters.
// `npm run lint` runs it with tsc; scripts/test.sh runs it before the suite.
import neostandard, { resolveIgnoresFromGitignore } from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    noJsx: true,
    ignores: resolveIgnoresFromGitignore(),
  }),
  {
    name: 'weft/rules',
    rules: {
      // A regex literal cannot be broken across lines.
      '@stylistic/max-len': ['error', { code: 160, ignoreUrls: true, ignoreRegExpLiterals: true }],
      // `void promise` marks a promise deliberately not awaited (a timer callback, a fire-and-forget send).
      'no-void': ['error', { allowAsStatement: true }],
    },
  },
  {
    name: 'weft/ts',
    files: ['**/*.ts'],
    rules: {
      // tsc reports real redeclarations (ts2451); a const and a type of one name is declaration merging.
      '@typescript-eslint/no-redeclare': 'off',
    },
  },
]
