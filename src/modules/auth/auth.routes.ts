import type { IRouter, Request } from 'express';
import { clientKeyOf } from '../../middleware/client-address.js';
import { validateBody } from '../../middleware/validate.js';
import type { ChangePasswordBody, RefreshBody, LoginBody, RegisterBody } from './auth.schemas.js';
import { changePasswordBody, loginBody, refreshBody, registerBody } from './auth.schemas.js';
import type { AuthService } from './auth.service.js';
import { authenticate, principalOf } from './authenticate.js';

/** `/api/auth…`, registered on the app's own router (see app.ts). */
export function authRoutes(router: IRouter, auth: AuthService): void {

  router.post('/api/auth/register', validateBody(registerBody), async (req: Request<object, unknown, RegisterBody>, res) => {
    res.status(201).json(await auth.register(req.body, clientKeyOf(req)));
  });

  router.post('/api/auth/login', validateBody(loginBody), async (req: Request<object, unknown, LoginBody>, res) => {
    res.json(await auth.login(req.body, clientKeyOf(req)));
  });

  router.post('/api/auth/refresh', validateBody(refreshBody), async (req: Request<object, unknown, RefreshBody>, res) => {
    res.json(await auth.refresh(req.body.refreshToken));
  });

  router.post('/api/auth/logout', validateBody(refreshBody), async (req: Request<object, unknown, RefreshBody>, res) => {
    await auth.logout(req.body.refreshToken);
    res.status(204).end();
  });

  // Beyond the contract (README, "Additions beyond the contract").
  router.post('/api/auth/password', authenticate(auth), validateBody(changePasswordBody), async (req, res) => {
    res.json(await auth.changePassword(principalOf(req), req.body as ChangePasswordBody, clientKeyOf(req)));
  });

  router.get('/api/auth/me', authenticate(auth), async (req, res) => {
    res.json({ user: await auth.getUser(principalOf(req)) });
  });
}
