const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A UUID in text form: checked before a value meets a uuid column, so a stray id is "not found", never a cast error.
 */
export const isUuid = (s: string | null | undefined): s is string => !!s && UUID.test(s);
