import { defineConfig } from 'tsup'

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    testing: 'src/testing.ts',
    http: 'src/ops/http.ts',
    prometheus: 'src/ops/prometheus.ts',
    otel: 'src/ops/otel.ts',
    logging: 'src/ops/logging.ts',
    fleet: 'src/fleet/index.ts',
  },
  // ESM only: Node >= 20.19 and 22.12 load it from `require` too, as the same module instance
  // (two copies, one CommonJS and one ESM, made two registries and broke `instanceof` across them).
  format: ['esm'],
  dts: true,
  clean: true,
  target: 'node20',
  // The native loader stays a separate file next to the prebuilt binary.
  external: [/\.\.\/index\.js$/, 'prom-client', '@opentelemetry/api'],
})
