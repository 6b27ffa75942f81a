import { z } from 'zod';
import { changePasswordBody, loginBody, refreshBody, registerFields } from '../modules/auth/index.js';
import { adjustStockBody, createProductBody, DEMO_PRODUCT_ID, updateProductBody } from '../modules/catalog/index.js';
import { ORDER_STATUSES, placeOrderBody } from '../modules/orders/index.js';
import { ROLES } from '../shared/principal.js';
import { NOT_MULTI_LINE, NOT_ONE_LINE } from '../shared/text.js';

/*
 * Request bodies are the validators the routes run, named for the document. zod-to-openapi
 * documents a pipe by its input side and cannot see refine(), so the few checks hidden there
 * are restated as JSON Schema in .meta(); openapi.test.ts proves each against the validator.
 */
const emailFormat = { format: 'email' } as const;
/** JSON Schema forms of shared/text.ts NO_CONTROL_CHARACTERS (printable, one line) and MULTI_LINE_TEXT. */
const ONE_LINE = `^[^${NOT_ONE_LINE}]*$`;
const productName = {
  // One character that is neither space nor refused (`\S` alone would let one refused character through).
  pattern: `^[^${NOT_ONE_LINE}]*[^${NOT_ONE_LINE}\\s][^${NOT_ONE_LINE}]*$`,
  description: 'Trimmed; printable text on one line (no control, bidirectional or invisible format characters such as U+200B), not empty.',
} as const;
const multiLine = { pattern: `^[^${NOT_MULTI_LINE}]*$`, description: 'May span lines; no other control characters.' } as const;

export const RegisterRequest = registerFields
  .extend({
    email: registerFields.shape.email.meta(emailFormat),
    name: registerFields.shape.name.meta({ description: 'Printable text on one line (no control, bidirectional or invisible format characters such as U+200B); defaults to the part of the email before @.', pattern: ONE_LINE }),
  })
  .meta({ id: 'RegisterRequest' });
export const LoginRequest = loginBody.extend({ email: loginBody.shape.email.meta(emailFormat) }).meta({ id: 'LoginRequest' });
export const RefreshRequest = refreshBody.meta({ id: 'RefreshRequest' });
export const ChangePasswordRequest = changePasswordBody.meta({ id: 'ChangePasswordRequest' });

export const CreateProductRequest = createProductBody
  .extend({
    name: createProductBody.shape.name.meta(productName),
    description: createProductBody.shape.description.meta(multiLine),
  })
  .meta({ id: 'CreateProductRequest' });
// safeExtend keeps the object's refinement ("at least one field"), which extend() refuses to drop.
export const UpdateProductRequest = updateProductBody
  .safeExtend({ name: updateProductBody.shape.name.meta(productName), description: updateProductBody.shape.description.meta(multiLine) })
  .meta({
  id: 'UpdateProductRequest',
  description: 'Send at least one of name, description, priceCents. Other fields (stock, currency, ids) are ignored.',
  anyOf: [{ required: ['name'] }, { required: ['description'] }, { required: ['priceCents'] }],
});
export const AdjustStockRequest = adjustStockBody
  .extend({ adjustment: adjustStockBody.shape.adjustment.meta({ not: { const: 0 }, description: 'Non-zero change to on-hand stock.' }) })
  .meta({ id: 'AdjustStockRequest' });

export const PlaceOrderRequest = placeOrderBody.meta({
  id: 'PlaceOrderRequest',
  // A product of the demo catalog, so "Try it out" places a real order on a seeded service.
  example: { items: [{ productId: DEMO_PRODUCT_ID, quantity: 1 }] },
  description:
    'Lines with the same productId are merged, and the merged quantity obeys the same 1..1000 limit as one line ' +
    '(two lines of 600 for one product are refused). Prices come from the catalog.',
  'x-merged-quantity-maximum': 1000,
});

/* Responses: the shapes the services return (see the contract). */
const timestamp = z.iso.datetime().meta({ description: 'ISO 8601, UTC' });
const cents = z.int().min(0).meta({ description: 'Integer minor units' });
const currency = z.string().length(3).meta({ description: 'ISO 4217', example: 'USD' });

export const User = z
  .strictObject({ id: z.uuid(), email: z.email(), name: z.string(), role: z.enum(ROLES), createdAt: timestamp })
  .meta({ id: 'User' });

export const TokenPair = z
  .strictObject({
    accessToken: z.string().meta({ description: 'JWT, sent as Authorization: Bearer <accessToken>' }),
    refreshToken: z.string().meta({ description: 'Opaque; works once (rotated by /api/auth/refresh)' }),
    tokenType: z.literal('Bearer'),
    expiresIn: z.int().positive().meta({ description: 'Access token lifetime in seconds' }),
  })
  .meta({ id: 'TokenPair' });

export const Session = TokenPair.extend({ user: User }).meta({ id: 'Session' });
export const Me = z.strictObject({ user: User }).meta({ id: 'Me' });

export const Product = z
  .strictObject({
    id: z.uuid(),
    sku: z.string(),
    name: z.string(),
    description: z.string(),
    priceCents: cents,
    currency,
    available: z.int().min(0).meta({ description: 'onHand - reserved' }),
    createdAt: timestamp,
    updatedAt: timestamp,
    onHand: z.int().min(0).optional().meta({ description: 'Admins only' }),
    reserved: z.int().min(0).optional().meta({ description: 'Admins only' }),
  })
  .meta({ id: 'Product' });

const OrderStatus = z.enum(ORDER_STATUSES).meta({ id: 'OrderStatus' });

export const Order = z
  .strictObject({
    id: z.uuid(),
    userId: z.uuid(),
    status: OrderStatus,
    items: z.array(
      z.strictObject({
        productId: z.uuid(),
        sku: z.string(),
        name: z.string(),
        quantity: z.int().min(1),
        unitPriceCents: cents,
        lineTotalCents: cents,
      }),
    ),
    totalCents: cents,
    currency,
    failureReason: z.string().nullable(),
    history: z.array(z.strictObject({ status: OrderStatus, at: timestamp })),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Order' });

const page = <T extends z.ZodType>(items: T, id: string) =>
  z
    .strictObject({
      items: z.array(items),
      nextCursor: z.string().nullable().meta({ description: 'Pass as ?cursor= for the next page; null on the last page' }),
    })
    .meta({ id });

export const ProductPage = page(Product, 'ProductPage')
  .extend({
    currency: z.string().length(3).meta({
      description: "The catalog's currency (ISO 4217, one per deployment): every product's, and what a new product is priced in; given on every page, an empty one too",
      example: 'USD',
    }),
  })
  .meta({ id: 'ProductPage' });
export const OrderPage = page(Order, 'OrderPage');

export const Liveness = z.strictObject({ status: z.literal('ok') }).meta({ id: 'Liveness' });
export const Readiness = z
  .strictObject({ status: z.literal('ok'), checks: z.record(z.string(), z.literal('ok')) })
  .meta({ id: 'Readiness' });

/* Problem details (RFC 9457) and the shapes of their `errors` members. */
export const Problem = z
  .strictObject({
    type: z.string().meta({ example: '/problems/validation-failed' }),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    code: z.string().regex(/^[A-Z][A-Z0-9_]*$/).meta({ description: 'Stable machine code' }),
    errors: z.array(z.looseObject({})).optional().meta({ description: 'Per-field or per-line details' }),
    requestId: z.string().optional().meta({ description: 'On 5xx answers: the request id to quote when reporting it (also in X-Request-Id)' }),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details, served as application/problem+json' });

export const FieldProblem = z.strictObject({ path: z.string(), message: z.string() }).meta({ id: 'FieldProblem' });
export const StockShortfall = z
  .strictObject({ productId: z.uuid(), requested: z.int(), available: z.int() })
  .meta({ id: 'StockShortfall' });
export const UnknownProduct = z.strictObject({ productId: z.uuid() }).meta({ id: 'UnknownProduct' });
export const UnavailableDependency = z
  .strictObject({ dependency: z.string(), message: z.string() })
  .meta({ id: 'UnavailableDependency' });
