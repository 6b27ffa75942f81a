export const ROLES = ['customer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** The authenticated caller, as established from a verified access token. */
export interface Principal {
  userId: string;
  role: Role;
  /**
   * When the access token it came from expires (epoch ms). A request is over long before; what
   * outlives a request (an event stream) ends then, and the client comes back with a fresh token.
   */
  expiresAtMs?: number;
}

export const isAdmin = (principal: Principal): boolean => principal.role === 'admin';
