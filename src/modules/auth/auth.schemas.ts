import { z } from 'zod';
import { NO_CONTROL_CHARACTERS, NO_NUL } from '../../shared/text.js';

export const email = z.string().trim().max(254).pipe(z.email('must be a valid email address'));
// Never truncated or normalised: the whole password is hashed as typed (NUL excepted, see shared/text).
export const password = z
  .string()
  .min(8, 'must be at least 8 characters')
  .max(128, 'must be at most 128 characters')
  .regex(NO_NUL, 'must not contain NUL characters');

/** One line of printable text: no line breaks, tabs, other control characters or invisible ones (shared/text). */
export const personName = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .regex(NO_CONTROL_CHARACTERS, 'must be printable text on one line (no control or invisible characters)');

/** `name` may be left out: it then defaults to the part of the email before `@`. */
export const registerFields = z.object({ email, password, name: personName.optional() });
export const registerBody = registerFields.transform(({ name, ...rest }) => ({ ...rest, name: name ?? defaultName(rest.email) }));

function defaultName(address: string): string {
  return address.slice(0, address.lastIndexOf('@')).slice(0, 100) || address;
}

export const loginBody = z.object({
  email,
  // Any length is checked against the hash; the limit only bounds work done on garbage.
  password: z.string().min(1, 'is required').max(1024, 'must be at most 1024 characters').regex(NO_NUL, 'must not contain NUL characters'),
});

/** `newPassword` follows the rules of a registration's password; `currentPassword` those of a login's. */
export const changePasswordBody = z.object({
  currentPassword: loginBody.shape.password,
  newPassword: password,
});

export const refreshBody = z.object({
  refreshToken: z.string().min(1, 'is required').max(512, 'must be at most 512 characters'),
});

export type RegisterBody = z.output<typeof registerBody>;
export type LoginBody = z.infer<typeof loginBody>;
export type RefreshBody = z.infer<typeof refreshBody>;
export type ChangePasswordBody = z.infer<typeof changePasswordBody>;
