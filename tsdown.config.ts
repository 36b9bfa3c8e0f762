import { defineConfig } from 'tsdown';
import { BIN, distName, ENTRIES } from './scripts/entries.mjs';

const entry: Record<string, string> = {};
for (const [subpath, file] of Object.entries(ENTRIES)) entry[distName(subpath)] = file;
for (const [name, file] of Object.entries(BIN)) entry[`bin/${name}`] = file;

export default defineConfig({
  entry,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  // Declarations straight from the sources: `isolatedDeclarations` makes them exact and fast.
  dts: true,
  clean: true,
  outDir: 'dist',
  // Dependencies and peers stay imports; only our sources are bundled.
  external: [/^[^./]/],
  outExtensions: () => ({ js: '.mjs', dts: '.d.mts' }),
});
