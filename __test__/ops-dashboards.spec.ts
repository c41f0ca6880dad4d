import test from 'ava'
import { execFile, spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry as PromRegistry } from 'prom-client'
import { parse } from 'yaml'
import { bulkhead, retry } from '../src/index.ts'
import { prometheusMetrics } from '../src/ops/prometheus.ts'
import { failTimes, rig } from './helpers.ts'
import { parseExposition, scrape } from './fixtures/ops-metrics-exposition.ts'
import { needs } from './servers/needs.ts'

const root = new URL('../', import.meta.url)
const dashboard = JSON.parse(await readFile(new URL('examples/grafana/breakwater.json', root), 'utf8')) as Dashboard
const alertsText = await readFile(new URL('examples/prometheus/alerts.yml', root), 'utf8')

interface Target {
  expr: string
  refId: string
  datasource: { type: string; uid: string }
}
interface Panel {
  id: number
  type: string
  title: string
  datasource?: { type: string; uid: string }
  targets?: Target[]
  gridPos: { x: number; y: number; w: number; h: number }
}
interface Dashboard {
  title: string
  uid: string
  panels: Panel[]
  templating: { list: { name: string; type: string; query: string | { query: string } }[] }
}

/** Every label name and the values seen, per sample name, in a real scrape. */
type Exported = Map<string, Map<string, Set<string>>>

/** A scrape of a collector with everything in use: every family has samples. */
async function exported(): Promise<Exported> {
  const { clock, breakers, name } = rig()
  const b = breakers.getOrCreate(name, { trackLatency: true, consecutiveFailures: 1, openFor: '1s', halfOpenSuccesses: 1 })
  await b.execute(async () => 'ok')
  await failTimes(b, 2)
  clock.advance('1s')
  await b.execute(async () => 'ok')
  const register = new PromRegistry()
  prometheusMetrics(breakers, {
    register,
    bulkheads: [bulkhead(`dashboards-${process.pid}`, { maxConcurrent: 1 })],
    retries: { quotes: retry({}) },
  })
  const { text } = await scrape(register)
  const series: Exported = new Map()
  for (const family of parseExposition(text).values()) {
    for (const sample of family.samples) {
      const labels = series.get(sample.name) ?? new Map<string, Set<string>>()
      series.set(sample.name, labels)
      for (const [label, value] of Object.entries(sample.labels)) {
        if (!labels.has(label)) labels.set(label, new Set())
        labels.get(label)!.add(value)
      }
    }
  }
  return series
}

/** PromQL functions and keywords the files may use: anything else before a `(` is a typo. */
const FUNCTIONS = new Set([
  'sum',
  'count',
  'max',
  'min',
  'avg',
  'rate',
  'irate',
  'increase',
  'vector',
  'max_over_time',
  'min_over_time',
  'avg_over_time',
  'changes',
  'resets',
  'label_replace',
  'clamp_min',
  'clamp_max',
  'abs',
  'topk',
  'bottomk',
])
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset'])

/** The metric names a PromQL expression selects (strings, matchers, ranges and label lists set aside). */
function metricNames(expr: string): string[] {
  let s = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')
  s = s.replace(/\{[^}]*\}/g, '{}').replace(/\[[^\]]*\]/g, '[]')
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1()')
  const names: string[] = []
  for (const m of s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const id = m[0]
    if (/[\d.]$/.test(s.slice(0, m.index))) continue // the exponent of a number such as 1e3
    if (KEYWORDS.has(id)) continue
    // A call, or an aggregation with its grouping first: sum by (name) (...)
    if (/^\s*(?:\(|(?:by|without)\s*\()/.test(s.slice(m.index + id.length))) {
      if (!FUNCTIONS.has(id)) throw new Error(`unknown function ${id} in ${expr}`)
      continue
    }
    names.push(id)
  }
  return names
}

/** Each selector's label matchers: `[metric, label, op, value]`. */
function matchers(expr: string): [string, string, string, string][] {
  const out: [string, string, string, string][] = []
  for (const selector of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)) {
    for (const m of selector[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
      out.push([selector[1]!, m[1]!, m[2]!, m[3]!])
    }
  }
  return out
}

/** The labels of `by (...)` clauses. */
function groupings(expr: string): string[] {
  return [...expr.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim()))
}

/** Every PromQL expression of the dashboard's panels, with where it is. */
function dashboardExprs(): [string, string][] {
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t): [string, string] => [`panel "${p.title}" ${t.refId}`, t.expr]))
}

interface Rule {
  alert: string
  expr: string
  for: string
  labels: Record<string, string>
  annotations: Record<string, string>
}
const alerts = parse(alertsText) as { groups: { name: string; rules: Rule[] }[] }
const alertExprs = (): [string, string][] => alerts.groups.flatMap((g) => g.rules.map((r): [string, string] => [`alert ${r.alert}`, r.expr]))

/** The metric of each variable query `label_values(metric, label)`. */
function variableMetrics(): [string, string, string][] {
  return dashboard.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => {
      const query = typeof v.query === 'string' ? v.query : v.query.query
      const m = /^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_]\w*)\s*\)$/.exec(query)
      if (!m) throw new Error(`variable ${v.name}: unexpected query ${query}`)
      return [`variable ${v.name}`, m[1]!, m[2]!]
    })
}

test('every metric name in the Grafana dashboard and the alert rules is one a real scrape exports', async (t) => {
  const series = await exported()
  const exprs = [...dashboardExprs(), ...alertExprs()]
  t.true(exprs.length >= 15)
  for (const [where, expr] of exprs) {
    const names = metricNames(expr)
    t.true(names.length > 0, `${where} selects no metric`)
    for (const name of names) t.true(series.has(name), `${where} uses ${name}, which the collector does not export`)
  }
  for (const [where, metric, label] of variableMetrics()) {
    t.true(series.get(metric)?.has(label), `${where} lists ${label} of ${metric}, which is not exported`)
  }
})

test('every label the files match or group by is one the series carry, with values they take', async (t) => {
  const series = await exported()
  for (const [where, expr] of [...dashboardExprs(), ...alertExprs()]) {
    for (const [metric, label, op, value] of matchers(expr)) {
      const values = series.get(metric)?.get(label)
      t.truthy(values, `${where}: ${metric} has no label ${label}`)
      if (!values || value.includes('$')) continue // a dashboard variable
      const wanted = op === '=' ? [value] : op === '=~' ? value.split('|') : []
      for (const v of wanted) t.true(values.has(v), `${where}: ${metric}{${label}} never takes the value ${JSON.stringify(v)}`)
    }
    const labels = new Set(metricNames(expr).flatMap((name) => [...(series.get(name)?.keys() ?? [])]))
    for (const label of groupings(expr)) t.true(labels.has(label), `${where} groups by ${label}, which its series do not carry`)
  }
})

test("alerts.yml is YAML in Prometheus's rule shape: groups of rules with alert, expr, for, labels, annotations", (t) => {
  t.deepEqual(Object.keys(alerts), ['groups'])
  t.true(Array.isArray(alerts.groups) && alerts.groups.length > 0)
  const names = new Set<string>()
  for (const group of alerts.groups) {
    t.deepEqual(Object.keys(group).sort(), ['name', 'rules'])
    t.is(typeof group.name, 'string')
    t.true(Array.isArray(group.rules) && group.rules.length > 0)
    for (const rule of group.rules) {
      t.deepEqual(Object.keys(rule).sort(), ['alert', 'annotations', 'expr', 'for', 'labels'], rule.alert)
      t.regex(rule.alert, /^[A-Z][A-Za-z0-9]*$/)
      t.false(names.has(rule.alert), `${rule.alert} twice`)
      names.add(rule.alert)
      t.is(typeof rule.expr, 'string')
      t.regex(rule.for, /^(?:\d+[smhdwy])+$/, `${rule.alert} for`)
      t.true(['page', 'warning'].includes(rule.labels.severity!), `${rule.alert} severity`)
      t.true(Object.values(rule.labels).every((v) => typeof v === 'string'))
      t.deepEqual(Object.keys(rule.annotations).sort(), ['description', 'summary'], rule.alert)
      t.true(Object.values(rule.annotations).every((v) => typeof v === 'string' && v.length > 10))
    }
  }
  // The three the issue asks for: open for N minutes, flapping, refusals above a rate.
  t.true(['CircuitBreakerOpen', 'CircuitBreakerFlapping', 'CircuitBreakerRefusingCalls'].every((a) => names.has(a)))
})

test('the Grafana dashboard is importable: unique panel ids, every query on the data source variable, every variable defined', (t) => {
  t.is(dashboard.uid, 'breakwater')
  const ids = dashboard.panels.map((p) => p.id)
  t.is(new Set(ids).size, ids.length)
  const variables = new Set(dashboard.templating.list.map((v) => v.name))
  t.deepEqual([...variables].sort(), ['breaker', 'bulkhead', 'datasource', 'retry'])
  for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
    t.deepEqual(panel.datasource, { type: 'prometheus', uid: '${datasource}' }, panel.title)
    t.true((panel.targets ?? []).length > 0, panel.title)
    for (const target of panel.targets!) {
      t.deepEqual(target.datasource, { type: 'prometheus', uid: '${datasource}' })
      for (const [, v] of target.expr.matchAll(/\$(\w+)/g)) t.true(v === '__rate_interval' || variables.has(v!), `${panel.title} uses $${v}`)
    }
  }
  // What the issue asks the board to show.
  const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ')
  for (const topic of ['state', 'calls per second', 'refused', 'failure rate', 'p99', 'transitions']) t.true(titles.includes(topic), topic)
})

const promtool = spawnSync('promtool', ['--version']).status === 0
const withPromtool = needs('promtool', promtool, 'Debian package prometheus', test)

/** Runs promtool with `args` in `dir`; its exit code and output. */
function runPromtool(args: string[], dir: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('promtool', args, { cwd: dir, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr })
    })
  })
}

async function scratch<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'breakwater-promtool-'))
  try {
    return await body(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

withPromtool('promtool checks the alert rules and parses every dashboard query', async (t) => {
  await scratch(async (dir) => {
    await writeFile(join(dir, 'alerts.yml'), alertsText)
    // The dashboard's queries as recording rules, Grafana's variables given values.
    const rules = dashboardExprs().map(([, expr], i) => ({
      record: `dashboard:query_${i}`,
      expr: expr.replaceAll('$__rate_interval', '1m').replace(/\$\w+/g, '.*'),
    }))
    await writeFile(join(dir, 'queries.yml'), JSON.stringify({ groups: [{ name: 'dashboard', rules }] }))
    const checked = await runPromtool(['check', 'rules', 'alerts.yml', 'queries.yml'], dir)
    t.is(checked.code, 0, checked.output)
    t.regex(checked.output, /SUCCESS: 5 rules found/)
    t.regex(checked.output, new RegExp(`SUCCESS: ${rules.length} rules found`))
  })
})

withPromtool('promtool unit tests: each alert fires on the series that should fire it, and not on healthy ones', async (t) => {
  const tests = {
    rule_files: ['alerts.yml'],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: [
          // orders: open for 10 minutes, with a failed probe (half_open) in the middle.
          { series: 'breakwater_circuitbreaker_state{name="orders",state="open"}', values: '1 1 1 0 1 1 1 1 1 1 1' },
          { series: 'breakwater_circuitbreaker_state{name="orders",state="half_open"}', values: '0 0 0 1 0 0 0 0 0 0 0' },
          // quotes: closed all along.
          { series: 'breakwater_circuitbreaker_state{name="quotes",state="open"}', values: '0x10' },
          { series: 'breakwater_circuitbreaker_state{name="quotes",state="half_open"}', values: '0x10' },
          // payments: forced open for 2 hours.
          { series: 'breakwater_circuitbreaker_state{name="payments",state="forced_open"}', values: '1x120' },
          // fx: opened once a minute; quotes once in all.
          { series: 'breakwater_circuitbreaker_transitions_total{name="fx",from="closed",to="open"}', values: '0+1x20' },
          { series: 'breakwater_circuitbreaker_transitions_total{name="quotes",from="closed",to="open"}', values: '0 1x20' },
          // orders refuses 300 calls a minute (5/s), quotes 30 (0.5/s).
          { series: 'breakwater_circuitbreaker_not_permitted_calls_total{name="orders"}', values: '0+300x20' },
          { series: 'breakwater_circuitbreaker_not_permitted_calls_total{name="quotes"}', values: '0+30x20' },
          { series: 'breakwater_bulkhead_rejected_calls_total{name="reports"}', values: '0+10x20' },
        ],
        alert_rule_test: [
          { eval_time: '4m', alertname: 'CircuitBreakerOpen', exp_alerts: [] },
          {
            eval_time: '6m',
            alertname: 'CircuitBreakerOpen',
            exp_alerts: [{ exp_labels: { name: 'orders', severity: 'page' }, exp_annotations: expectAnnotations('orders', 'open') }],
          },
          { eval_time: '50m', alertname: 'CircuitBreakerForcedOpen', exp_alerts: [] },
          {
            eval_time: '61m',
            alertname: 'CircuitBreakerForcedOpen',
            exp_alerts: [{ exp_labels: { name: 'payments', severity: 'warning' }, exp_annotations: expectAnnotations('payments', 'forced') }],
          },
          { eval_time: '4m', alertname: 'CircuitBreakerFlapping', exp_alerts: [] },
          {
            eval_time: '16m',
            alertname: 'CircuitBreakerFlapping',
            exp_alerts: [{ exp_labels: { name: 'fx', severity: 'warning' }, exp_annotations: expectAnnotations('fx', 'flapping') }],
          },
          {
            eval_time: '12m',
            alertname: 'CircuitBreakerRefusingCalls',
            exp_alerts: [{ exp_labels: { name: 'orders', severity: 'warning' }, exp_annotations: expectAnnotations('orders', 'refusing') }],
          },
          {
            eval_time: '12m',
            alertname: 'BulkheadRejectingCalls',
            exp_alerts: [{ exp_labels: { name: 'reports', severity: 'warning' }, exp_annotations: expectAnnotations('reports', 'bulkhead') }],
          },
        ],
      },
    ],
  }
  await scratch(async (dir) => {
    await writeFile(join(dir, 'alerts.yml'), alertsText)
    await writeFile(join(dir, 'alerts.test.yml'), JSON.stringify(tests))
    const run = await runPromtool(['test', 'rules', 'alerts.test.yml'], dir)
    t.is(run.code, 0, run.output)
    t.regex(run.output, /SUCCESS/)
  })
})

/** The annotations an alert of `name` carries, as the rules write them. */
function expectAnnotations(name: string, kind: 'open' | 'forced' | 'flapping' | 'refusing' | 'bulkhead'): Record<string, string> {
  const rule = alerts.groups[0]!.rules.find(
    (r) =>
      ({
        open: 'CircuitBreakerOpen',
        forced: 'CircuitBreakerForcedOpen',
        flapping: 'CircuitBreakerFlapping',
        refusing: 'CircuitBreakerRefusingCalls',
        bulkhead: 'BulkheadRejectingCalls',
      })[kind] === r.alert,
  )!
  const values = { open: '', forced: '', flapping: '15', refusing: '5', bulkhead: '166.7m' }
  const fill = (text: string) => text.replaceAll('{{ $labels.name }}', name).replaceAll('{{ $value | humanize }}', values[kind])
  return { summary: fill(rule.annotations.summary!), description: fill(rule.annotations.description!) }
}
