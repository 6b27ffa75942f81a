export { authRoutes } from './auth.routes.js';
export { createAuthService, type AuthService } from './auth.service.js';
export { authenticate, optionalAuthenticate, principalOf, requireRole } from './authenticate.js';
export { createAccessTokens, type AccessTokens } from './tokens.js';
export { ensureAdmin, LOCAL_ADMIN_EMAIL } from './admin-bootstrap.js';
export type { User } from './auth.repository.js';
