/** The API's shapes as the console uses them (see /openapi.json); the console is a client of the public API only. */
export type Role = 'customer' | 'admin';
export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  createdAt: string;
}

export type OrderStatus = 'pending' | 'processing' | 'completed' | 'failed' | 'cancelled';
export const ORDER_STATUSES: readonly OrderStatus[] = ['pending', 'processing', 'completed', 'failed', 'cancelled'];
export const TERMINAL: ReadonlySet<OrderStatus> = new Set(['completed', 'failed', 'cancelled']);

export interface OrderItem {
  productId: string;
  sku: string;
  name: string;
  quantity: number;
  unitPriceCents: number;
  lineTotalCents: number;
}

export interface Order {
  id: string;
  userId: string;
  status: OrderStatus;
  items: OrderItem[];
  totalCents: number;
  currency: string;
  failureReason: string | null;
  history: { status: OrderStatus; at: string }[];
  createdAt: string;
  updatedAt: string;
}

export interface Product {
  id: string;
  sku: string;
  name: string;
  description: string | null;
  priceCents: number;
  currency: string;
  available: number;
  onHand?: number;
  reserved?: number;
  createdAt: string;
  updatedAt: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** `GET /api/products` also says the catalog's currency, an empty catalog's too. */
export interface ProductPage extends Page<Product> {
  currency: string;
}

export const WEBHOOK_EVENTS = ['order.placed', 'order.processing', 'order.completed', 'order.failed', 'order.cancelled'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface Webhook {
  id: string;
  url: string;
  events: WebhookEvent[];
  description: string | null;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
  secret?: string;
}

export interface Delivery {
  id: string;
  webhookId: string;
  eventId: string;
  type: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface EmailDelivery {
  kind: 'order_confirmation' | 'order_failure';
  /** `undeliverable`: the mail server refused it for good. */
  status: 'pending' | 'sent' | 'undeliverable';
  attempts: number;
  createdAt: string;
  sentAt: string | null;
}

export interface PipelineSnapshot {
  generatedAt: string;
  windowMinutes: number;
  bucketSeconds: number;
  throughput: { at: string; placed: number; completed: number; failed: number }[];
  totals: { placed: number; completed: number; failed: number };
  backlog: { pending: number; processing: number };
  emails: { pending: number; oldestPendingSeconds: number | null; undeliverable: number };
  lag: { oldestPendingSeconds: number | null; p50Seconds: number | null; p95Seconds: number | null };
  queue: {
    kind: 'bullmq' | 'in-process';
    waiting: number;
    active: number;
    delayed: number;
    failed: number;
    reachable: boolean;
    workers: { connected: number; fetching: number } | null;
  };
  dashboardPath: string | null;
}
