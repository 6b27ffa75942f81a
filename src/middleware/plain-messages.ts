import type { z } from 'zod';

type Issue = z.core.$ZodRawIssue;

const NOUNS: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
};

function sizeMessage(issue: Issue & { origin?: string }, bound: 'least' | 'most', limit: unknown): string {
  const value = Number(limit);
  switch (issue.origin) {
    case 'string':
      return value === 1 && bound === 'least' ? 'must not be empty' : `must be at ${bound} ${value} characters`;
    case 'array':
    case 'set':
      return value === 1 && bound === 'least' ? 'must not be empty' : `must have at ${bound} ${value} items`;
    default:
      return `must be at ${bound} ${value}`;
  }
}

/**
 * Messages for the checks whose schema gives none, in plain words ("is required", "must be at
 * most 100 characters") instead of zod's own wording, which names types and internals.
 */
export function plainMessage(issue: Issue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${NOUNS[issue.expected] ?? issue.expected}`;
    case 'too_small':
      return sizeMessage(issue, 'least', issue.minimum);
    case 'too_big':
      return sizeMessage(issue, 'most', issue.maximum);
    case 'invalid_format':
      return issue.format === 'regex' ? 'has an invalid format' : `must be a valid ${issue.format}`;
    case 'invalid_value':
      return `must be one of: ${issue.values.map(String).join(', ')}`;
    case 'unrecognized_keys':
      return `has unknown fields: ${issue.keys.join(', ')}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    default:
      return 'is not valid';
  }
}
