// Criterion's medians from target/criterion, one record per benchmark.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export function criterionResults(root) {
  const base = join(root, 'target/criterion')
  if (!existsSync(base)) return []
  const records = []
  const visit = (dir, path) => {
    const estimates = join(dir, 'new/estimates.json')
    if (existsSync(estimates)) {
      const bench = JSON.parse(readFileSync(join(dir, 'new/benchmark.json'), 'utf8'))
      const median = JSON.parse(readFileSync(estimates, 'utf8')).median.point_estimate
      records.push({ suite: bench.group_id, case: bench.function_id ?? '', parameter: bench.value_str ?? null, nsPerOp: median })
      return
    }
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && entry.name !== 'report') visit(join(dir, entry.name), [...path, entry.name])
    }
  }
  visit(base, [])
  return records
}
