/**
 * The CLI's own name and version, read from wsguard's package.json. The file sits one level up
 * from the sources (`cli/`) and two from the bundle (`dist/bin/`), so the lookup walks up.
 *
 * @module
 */
import { readFileSync } from 'node:fs';

/** The tool's name and version, as the JSON report's `tool` field shows them. */
export interface ToolInfo {
  /** `wsguard`. */
  readonly name: string;
  /** The package version, or `0.0.0-unknown` when package.json cannot be found. */
  readonly version: string;
}

/** Find wsguard's package.json above this module (at most four levels). */
export function toolInfo(): ToolInfo {
  let dir = new URL('.', import.meta.url);
  for (let i = 0; i < 4; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === 'wsguard' && typeof pkg.version === 'string')
        return { name: 'wsguard', version: pkg.version };
    } catch {
      // Not here: look one level up.
    }
    dir = new URL('..', dir);
  }
  return { name: 'wsguard', version: '0.0.0-unknown' };
}
