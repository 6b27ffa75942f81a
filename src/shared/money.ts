/** Money is integer minor units (cents) with the deployment's ISO 4217 currency. */
export const MAX_PRICE_CENTS = 100_000_000;
