import { z } from 'zod';
import { pageQuery } from '../../shared/pagination.js';
import { NO_CONTROL_CHARACTERS } from '../../shared/text.js';
import { ORDER_EVENT_TYPES } from '../events/index.js';

const url = z
  .string()
  .trim()
  .max(2000, 'must be at most 2000 characters')
  // The URL parser drops tabs and line breaks and keeps other control characters as they are.
  .refine((value) => NO_CONTROL_CHARACTERS.test(value), 'must not contain control or invisible characters')
  .refine((value) => URL.canParse(value), 'must be an absolute URL');
const events = z
  .array(z.enum(ORDER_EVENT_TYPES), 'must be a list of event types')
  .min(1, 'must name at least one event type')
  .max(ORDER_EVENT_TYPES.length, `must name at most ${ORDER_EVENT_TYPES.length} event types`)
  .refine((list) => new Set(list).size === list.length, 'must not repeat an event type');
const description = z
  .string()
  .trim()
  .max(500, 'must be at most 500 characters')
  .refine((value) => NO_CONTROL_CHARACTERS.test(value), 'must be one line of printable characters');

export const createWebhookBody = z.object({ url, events, description: description.optional() });
export const updateWebhookBody = z
  .object({ url: url.optional(), events: events.optional(), description: description.optional(), enabled: z.boolean('must be true or false').optional() })
  .refine((body) => Object.values(body).some((value) => value !== undefined), { message: 'send at least one of url, events, description, enabled' });

export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];
export const listDeliveriesQuery = pageQuery.extend({ status: z.enum(DELIVERY_STATUSES).optional() });

export type CreateWebhookBody = z.infer<typeof createWebhookBody>;
export type UpdateWebhookBody = z.infer<typeof updateWebhookBody>;
