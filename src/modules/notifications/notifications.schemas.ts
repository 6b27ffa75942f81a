import { z } from 'zod';

const instant = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 timestamp, e.g. 2026-12-01T00:00:00Z' });

/** `POST /api/admin/emails/resend`: which refused emails to send again, by when they were owed (their order finished); none → all. */
export const resendAllBody = z
  .strictObject({
    since: instant.optional().meta({ description: 'Only emails owed at or after this instant.' }),
    until: instant.optional().meta({ description: 'Only emails owed before this instant.' }),
  })
  .refine((body) => body.since === undefined || body.until === undefined || Date.parse(body.since) < Date.parse(body.until), {
    message: 'since must be before until',
    path: ['until'],
  });

export type ResendAllBody = z.infer<typeof resendAllBody>;

export const resendAllAnswer = z.strictObject({
  reopened: z.number().int().min(1).meta({ description: 'How many emails are `pending` again; they are sent by jobs now, or by the reconciler should the queue be out of reach.' }),
});
