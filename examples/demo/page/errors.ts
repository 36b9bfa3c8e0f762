/**
 * Errors as sentences for the page's banner. tRPC carries a zod refusal as the JSON of its
 * issues in `message`; shown raw, a user reads `[{"origin":"string","code":"invalid_format",…`.
 * Each issue becomes "Field: what to do", the field named as the form labels it.
 */

/** The form labels of the inputs the demo's procedures take. */
const FIELDS: Readonly<Record<string, string>> = {
  room: 'Room',
  text: 'Message',
  userId: 'User',
  id: 'Id',
  subject: 'Subject',
  lastEventId: 'Last event id',
};

interface Issue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

function isIssue(value: unknown): value is Issue {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return Array.isArray(v['path']) && typeof v['message'] === 'string';
}

/** The issues of a zod refusal's message, or `undefined` when it is not one. */
function issuesOf(message: string): Issue[] | undefined {
  if (!message.trimStart().startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(message);
    return Array.isArray(parsed) && parsed.length > 0 && parsed.every(isIssue) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function sentence(issue: Issue): string {
  const key = [...issue.path].reverse().find((p): p is string => typeof p === 'string');
  const field = key === undefined ? 'Input' : (FIELDS[key] ?? key);
  const text = issue.message.replace(/[.\s]+$/, '');
  return `${field}: ${text}.`;
}

/** What to tell the user about `error` (a tRPC client error, or any other). */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const issues = issuesOf(message);
  // One sentence per field: a name both too long and badly formed breaks one rule, said once.
  if (issues) return [...new Set(issues.map(sentence))].join(' ');
  return message;
}

/** The sentence the room field's rule reads as, for the browser's own validation too. */
export const ROOM_SENTENCE = 'Room: use 1 to 32 lowercase letters, digits or dashes.';
