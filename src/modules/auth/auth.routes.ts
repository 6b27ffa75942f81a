import { Router, type Request } from 'express';
import { validateBody } from '../../middleware/validate.js';
import type { RefreshBody, LoginBody, RegisterBody } from './auth.schemas.js';
import { loginBody, refreshBody, registerBody } from './auth.schemas.js';
import type { AuthService } from './auth.service.js';
import { authenticate, principalOf } from './authenticate.js';

export function authRoutes(auth: AuthService): Router {
  const router = Router();

  router.post('/register', validateBody(registerBody), async (req: Request<object, unknown, RegisterBody>, res) => {
    res.status(201).json(await auth.register(req.body));
  });

  router.post('/login', validateBody(loginBody), async (req: Request<object, unknown, LoginBody>, res) => {
    res.json(await auth.login(req.body, req.ip ?? 'unknown'));
  });

  router.post('/refresh', validateBody(refreshBody), async (req: Request<object, unknown, RefreshBody>, res) => {
    res.json(await auth.refresh(req.body.refreshToken));
  });

  router.post('/logout', validateBody(refreshBody), async (req: Request<object, unknown, RefreshBody>, res) => {
    await auth.logout(req.body.refreshToken);
    res.status(204).end();
  });

  router.get('/me', authenticate(auth), async (req, res) => {
    res.json({ user: await auth.getUser(principalOf(req)) });
  });

  return router;
}
