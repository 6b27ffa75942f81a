import type { Request } from 'express';
import { ValidationError } from '../shared/errors.js';

/** One entity-tag of RFC 9110 §8.8.3: optional `W/`, then a quoted run of visible characters other than `"`. */
const ENTITY_TAG = /^(W\/)?"([\x21\x23-\x7E\x80-\xFF]*)"$/;

const malformed = () =>
  new ValidationError('Invalid If-Match — must be * or a comma-separated list of quoted entity tags, as ETag gives them', [
    { path: 'If-Match', message: 'must be * or a comma-separated list of quoted entity tags, as ETag gives them' },
  ]);

/**
 * The strong tags `If-Match` accepts, or `undefined` when it sets no condition (absent, or `*`:
 * any current version; an unknown resource answers 404 either way). Weak tags never match a strong
 * comparison (RFC 9110 §13.1.1), so they are left out: a list of only weak tags matches nothing.
 * Tags cannot hold a comma, so splitting on commas is exact.
 */
export function ifMatchTags(req: Request): readonly string[] | undefined {
  const header = req.get('if-match');
  if (header === undefined || header.trim() === '*') return undefined;
  const tags = header.split(',').map((part) => ENTITY_TAG.exec(part.trim()));
  if (tags.length === 0 || tags.some((tag) => tag === null)) throw malformed();
  return tags.flatMap((tag) => (tag?.[1] === undefined ? [tag?.[2] ?? ''] : []));
}

/** The `ETag` header's value for a version. */
export const etag = (version: string): string => `"${version}"`;
