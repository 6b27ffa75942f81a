import { z } from 'zod';

export const email = z.string().trim().max(254).pipe(z.email('must be a valid email address'));
// Never truncated or normalised: the whole password is hashed as typed.
export const password = z.string().min(8, 'must be at least 8 characters').max(128, 'must be at most 128 characters');

export const registerBody = z.object({
  email,
  password,
  name: z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters'),
});

export const loginBody = z.object({
  email,
  // Any length is checked against the hash; the limit only bounds work done on garbage.
  password: z.string().min(1, 'is required').max(1024),
});

export const refreshBody = z.object({
  refreshToken: z.string().min(1, 'is required').max(512),
});

export type RegisterBody = z.infer<typeof registerBody>;
export type LoginBody = z.infer<typeof loginBody>;
export type RefreshBody = z.infer<typeof refreshBody>;
