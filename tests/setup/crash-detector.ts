/**
 * Fails the running test when anything escapes as an unhandled rejection or uncaught exception:
 * "nothing crashes" is asserted around every test, not assumed.
 */
import { afterEach } from 'vitest';

const escaped: unknown[] = [];
const record = (error: unknown): void => {
  escaped.push(error);
};

process.on('unhandledRejection', record);
process.on('uncaughtException', record);

afterEach(async () => {
  // Let pending rejections surface before judging the test.
  await new Promise((resolve) => setTimeout(resolve, 0));
  if (escaped.length > 0) {
    const errors = escaped.splice(0);
    throw new AggregateError(
      errors,
      `crash detector: ${errors.length} unhandled error(s) escaped this test`,
    );
  }
});
