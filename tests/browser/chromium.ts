/**
 * Debian's Chromium for the browser suites, driven by playwright-core: whether it is installed
 * (suites skip, and say why, when it is not) and how it is launched on this machine.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Where `.ci/run` installs it (`apt-get install -y chromium`). */
export const CHROMIUM = '/usr/bin/chromium';

/** Whether the browser tests can run; a suite that cannot says so once. */
export const hasChromium: boolean = existsSync(CHROMIUM);

/** Print why `suite` did not run, when Chromium is missing. */
export function announceChromium(suite: string): void {
  if (!hasChromium)
    console.warn(`${suite} did not run: ${CHROMIUM} is missing (apt-get install -y chromium)`);
}

/** Launch headless Chromium with the flags this closed network needs. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  });
}
