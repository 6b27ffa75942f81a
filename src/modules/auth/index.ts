export { authRoutes } from './auth.routes.js';
export { createAuthService, type AuthService } from './auth.service.js';
export { authenticate, optionalAuthenticate, principalOf, requireRole, type Authenticator } from './authenticate.js';
export { createAccessTokens, type AccessTokens } from './tokens.js';
export { ensureAdmin, LOCAL_ADMIN_EMAIL } from './admin-bootstrap.js';
export { adminExists, createAdmin, demote, listAdmins, resetPassword, type CreateAdminOutcome, type DemoteOutcome } from './admin-accounts.js';
export { pruneRefreshTokens, type User } from './auth.repository.js';
export { changePasswordBody, loginBody, refreshBody, registerBody, registerFields } from './auth.schemas.js';
export { requireAdminForBrowser } from './browser-admin.js';
