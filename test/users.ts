import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { TestApp } from './harness.js';

export interface TestUser {
  id: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
}

export const uniqueEmail = (label = 'user') => `${label}-${randomBytes(5).toString('hex')}@example.com`;

export async function registerUser(app: TestApp, label = 'user'): Promise<TestUser> {
  const email = uniqueEmail(label);
  const password = `pw-${randomBytes(6).toString('hex')}`;
  const res = await app.http.post('/api/auth/register').send({ email, password, name: label });
  expect(res.status).toBe(201);
  const body = res.body as { user: { id: string }; accessToken: string; refreshToken: string };
  return { id: body.user.id, email, password, accessToken: body.accessToken, refreshToken: body.refreshToken };
}

/** Registers a user, promotes it in the database (roles are never client-settable) and logs in again. */
export async function registerAdmin(app: TestApp): Promise<TestUser> {
  const user = await registerUser(app, 'admin');
  await app.db.query("UPDATE users SET role = 'admin' WHERE id = $1", [user.id]);
  const res = await app.http.post('/api/auth/login').send({ email: user.email, password: user.password });
  expect(res.status).toBe(200);
  return { ...user, accessToken: res.body.accessToken as string, refreshToken: res.body.refreshToken as string };
}

export const bearer = (user: { accessToken: string }) => ({ Authorization: `Bearer ${user.accessToken}` });
