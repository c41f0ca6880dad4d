// The release workflow (.github/workflows/CI.yml) against package.json: every target package.json
// lists is built and has a test leg, tests run on every Node line we support, only the publish job
// may write, and it runs on a version tag, with trusted publishing (no token) and provenance.
import test from 'ava'
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'

interface Step {
  uses?: string
  run?: string
  with?: Record<string, unknown>
  env?: Record<string, unknown>
}
interface Job {
  'runs-on': string
  needs?: string[]
  if?: string
  permissions?: Record<string, string>
  strategy?: { matrix: Record<string, unknown> }
  steps: Step[]
}

const text = readFileSync(new URL('../.github/workflows/CI.yml', import.meta.url), 'utf8')
const workflow = parse(text) as { on: { push: { tags?: string[] } }; permissions: Record<string, string>; jobs: Record<string, Job> }
const targets = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { napi: { targets: string[] } }).napi.targets

/** The values of `key` in a job's matrix: a list, or each `settings` entry's field. */
function matrix(job: Job, key: string): unknown[] {
  const m = job.strategy?.matrix ?? {}
  if (Array.isArray(m[key])) return m[key] as unknown[]
  return ((m.settings as Record<string, unknown>[] | undefined) ?? []).map((s) => s[key])
}

test('every target in package.json is built, and each one built has a test leg on Node 20, 22, 24 and 26', (t) => {
  t.deepEqual([...matrix(workflow.jobs.build!, 'target')].sort(), [...targets].sort())
  const tests = Object.entries(workflow.jobs).filter(([name]) => name.startsWith('test'))
  const tested = tests.flatMap(([, job]) => matrix(job, 'target'))
  t.deepEqual([...new Set(tested)].sort(), [...targets].sort())
  for (const [name, job] of tests) {
    t.deepEqual(job.needs, ['build'], `${name} tests the binaries the build made`)
    t.deepEqual(matrix(job, 'node'), ['20', '22', '24', '26'], name)
  }
})

test('only the publish job may write; it runs on a version tag after every test job, with trusted publishing and provenance', (t) => {
  t.deepEqual(workflow.permissions, { contents: 'read' })
  for (const [name, job] of Object.entries(workflow.jobs)) if (name !== 'publish') t.is(job.permissions, undefined, name)
  const publish = workflow.jobs.publish!
  t.deepEqual(publish.permissions, { contents: 'write', 'id-token': 'write' })
  t.deepEqual(workflow.on.push.tags, ['v*'])
  t.is(publish.if, "${{ startsWith(github.ref, 'refs/tags/v') }}")
  t.deepEqual([...publish.needs!].sort(), ['lint', ...Object.keys(workflow.jobs).filter((n) => n.startsWith('test'))].sort())
  const runs = publish.steps.map((s) => s.run ?? '').join('\n')
  t.regex(runs, /npm install -g npm@\^11\.5/, 'npm >= 11.5 for trusted publishing')
  t.regex(runs, /npm config set provenance true[\s\S]*napi pre-publish[\s\S]*npm publish/, 'provenance set before the platform packages are published')
  t.notRegex(text, /NPM_TOKEN|NODE_AUTH_TOKEN/, 'no long-lived token')
})

test('actions are pinned to a major version, and every checkout-using job installs with npm ci', (t) => {
  for (const [name, job] of Object.entries(workflow.jobs)) {
    for (const step of job.steps) if (step.uses) t.regex(step.uses, /^[\w-]+\/[\w-]+@(v\d+(\.\d+)*|stable)$/, `${name}: ${step.uses}`)
    const installs = job.steps.map((s) => s.run ?? '').filter((r) => /npm (ci|install)\b(?! -g)/.test(r))
    for (const run of installs) t.notRegex(run, /npm install(?! -g)/, `${name} installs the locked versions`)
  }
  t.false(text.includes('goto-bus-stop/setup-zig'), 'the maintained zig setup (mlugg/setup-zig)')
})
