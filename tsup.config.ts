import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/index.ts', 'src/testing.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  target: 'node20',
  // Class names stay as written (util.inspect and error.constructor.name show them), not _Renamed.
  keepNames: true,
  // The native loader stays a separate file next to the prebuilt binary.
  external: [/\.\.\/index\.js$/],
})
