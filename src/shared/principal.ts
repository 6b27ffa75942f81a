export const ROLES = ['customer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** The authenticated caller, as established from a verified access token. */
export interface Principal {
  userId: string;
  role: Role;
}

export const isAdmin = (principal: Principal): boolean => principal.role === 'admin';
