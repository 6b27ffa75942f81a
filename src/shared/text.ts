/*
 * Text rules shared by every validator. PostgreSQL text cannot hold NUL (it would fail as a 500
 * deep in a query), and control characters in one-line fields end up in emails and logs where
 * a CR/LF can forge lines.
 */

/** No NUL anywhere. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const NO_NUL = /^[^\u0000]*$/;

/** One line of printable text: no C0/C1 control characters (line breaks and tabs included), no DEL. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const NO_CONTROL_CHARACTERS = /^[^\u0000-\u001F\u007F-\u009F\u2028\u2029]*$/;

/**
 * Text that may span lines: line breaks (CR, LF, U+2028, U+2029) allowed, every other C0/C1
 * control character and DEL refused (an escape sequence would reach terminals and emails as is).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const MULTI_LINE_TEXT = /^[^\u0000-\u0009\u000B\u000C\u000E-\u001F\u007F-\u009F]*$/;
