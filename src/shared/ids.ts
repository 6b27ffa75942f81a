const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs; a path id that is not one names nothing (and must never reach SQL as a uuid). */
export const isUuid = (value: string): boolean => UUID.test(value);
