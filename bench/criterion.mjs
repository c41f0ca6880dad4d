// Criterion's medians (and their 95% confidence bounds) from <target dir>/criterion, one record per
// benchmark. The target dir is $CARGO_TARGET_DIR when set, as cargo's.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export function criterionResults(root) {
  const base = join(process.env.CARGO_TARGET_DIR ?? join(root, 'target'), 'criterion')
  if (!existsSync(base)) return []
  const records = []
  const visit = (dir, path) => {
    const estimates = join(dir, 'new/estimates.json')
    if (existsSync(estimates)) {
      const bench = JSON.parse(readFileSync(join(dir, 'new/benchmark.json'), 'utf8'))
      const { median } = JSON.parse(readFileSync(estimates, 'utf8'))
      records.push({
        language: 'rust',
        suite: bench.group_id,
        case: bench.function_id ?? '',
        parameter: bench.value_str ?? null,
        nsPerOp: median.point_estimate,
        // criterion's 95% confidence interval of the median
        lowNs: median.confidence_interval.lower_bound,
        highNs: median.confidence_interval.upper_bound,
      })
      return
    }
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && entry.name !== 'report') visit(join(dir, entry.name), [...path, entry.name])
    }
  }
  visit(base, [])
  return records
}
