import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import ts from 'typescript'

// The rule: every relative import counts, `import type` and `import('…')` types included. A
// type-only cycle costs nothing at run time, but it still ties two modules together (neither can be
// read, moved or tested without the other), and the cycle issue 16 names (breaker.ts <->
// policies/policy.ts) was one. Shared types and constants live in leaf modules instead.

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src')

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

/** The relative imports of `file`, as paths of `.ts` files (`./x.js` is `./x.ts` in the sources). */
function importsOf(file: string, text: string): string[] {
  // preProcessFile reads every import and export declaration, `import type` and `import('…')` too.
  const { importedFiles } = ts.preProcessFile(text, true, true)
  const relativeOnes = importedFiles.map((i) => i.fileName).filter((name) => name.startsWith('.'))
  return relativeOnes.map((name) => resolve(dirname(file), name.replace(/\.js$/, '.ts')))
}

/** The first cycle a depth-first walk finds, as the list of its files (first one repeated last), or undefined. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const done = new Set<string>()
  const path: string[] = []
  const visit = (file: string): string[] | undefined => {
    const at = path.indexOf(file)
    if (at >= 0) return [...path.slice(at), file]
    if (done.has(file)) return undefined
    path.push(file)
    for (const next of graph.get(file) ?? []) {
      const cycle = visit(next)
      if (cycle) return cycle
    }
    path.pop()
    done.add(file)
    return undefined
  }
  for (const file of graph.keys()) {
    const cycle = visit(file)
    if (cycle) return cycle
  }
  return undefined
}

test('no module of src imports itself through others, type-only imports included', (t) => {
  const files = sourceFiles(SRC)
  const graph = new Map(files.map((file) => [file, importsOf(file, readFileSync(file, 'utf8'))]))
  t.true(files.length > 50, `read ${files.length} files`)
  // Every import inside src names a file the walk read (the generated binding, outside, cannot close a cycle).
  for (const [file, imports] of graph) {
    for (const target of imports.filter((path) => !relative(SRC, path).startsWith('..'))) {
      t.true(graph.has(target), `${relative(SRC, file)} imports ${relative(SRC, target)}, which the walk did not read`)
    }
  }
  const cycle = findCycle(graph)
  t.is(cycle?.map((file) => relative(SRC, file)).join(' -> '), undefined)
})

test('the walk finds a cycle made of type-only imports, import() types and re-exports', (t) => {
  const files = ['/m/a.ts', '/m/b.ts', '/m/c.ts', '/m/d.ts']
  const text: Record<string, string> = {
    '/m/a.ts': "import type { B } from './b.js'\nexport const a = 1",
    '/m/b.ts': "export type C = import('./c.js').C",
    '/m/c.ts': "export { a } from './a.js'\nimport 'node:fs'",
    '/m/d.ts': "import { a } from './a.js'",
  }
  const graph = new Map(files.map((file) => [file, importsOf(file, text[file]!)]))
  t.deepEqual(findCycle(graph), ['/m/a.ts', '/m/b.ts', '/m/c.ts', '/m/a.ts'])
  graph.set('/m/c.ts', [])
  t.is(findCycle(graph), undefined)
})

// ---- fleet (issue 12) ----
test('only src/fleet imports ioredis, and nothing outside src/fleet imports src/fleet', (t) => {
  const fleetDir = join(SRC, 'fleet')
  const outside = sourceFiles(SRC).filter((file) => !file.startsWith(`${fleetDir}/`))
  for (const file of outside) {
    const text = readFileSync(file, 'utf8')
    const { importedFiles } = ts.preProcessFile(text, true, true)
    const names = importedFiles.map((i) => i.fileName)
    t.false(names.includes('ioredis'), `${relative(SRC, file)} imports ioredis`)
    t.deepEqual(
      importsOf(file, text).filter((path) => path.startsWith(`${fleetDir}/`)),
      [],
      `${relative(SRC, file)} imports the fleet`,
    )
  }
  t.true(sourceFiles(fleetDir).some((file) => ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.some((i) => i.fileName === 'ioredis')))
})
