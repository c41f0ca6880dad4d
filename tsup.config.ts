import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/index.ts', 'src/testing.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  target: 'node20',
  // The native loader stays a separate file next to the prebuilt binary.
  external: [/\.\.\/index\.js$/],
})
