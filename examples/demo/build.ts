/**
 * Bundle the demo page (and with it `wsguard/client` and `@trpc/client`) for the browser, and
 * load the static assets. Used by every runtime's demo server at start-up.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

/** Static assets keyed by path. */
export type Assets = Record<string, { type: string; body: string }>;

/** Build the page bundle in memory and read the static files. */
export async function buildAssets(): Promise<Assets> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [here('./page/main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    legalComments: 'none',
  });
  return {
    '/index.html': {
      type: 'text/html; charset=utf-8',
      body: await readFile(here('./public/index.html'), 'utf8'),
    },
    '/app.css': {
      type: 'text/css; charset=utf-8',
      body: await readFile(here('./public/app.css'), 'utf8'),
    },
    '/app.js': { type: 'text/javascript; charset=utf-8', body: result.outputFiles[0]!.text },
  };
}
