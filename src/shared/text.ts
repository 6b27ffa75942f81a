/*
 * Text rules shared by every validator. PostgreSQL text cannot hold NUL (it would fail as a 500
 * deep in a query), and control characters in one-line fields end up in emails and logs where
 * a CR/LF can forge lines. The character classes are strings so that the OpenAPI document states
 * the same patterns (docs/schemas.ts).
 */

/** No NUL anywhere. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const NO_NUL = /^[^\u0000]*$/;

/** C0 and C1 control characters and DEL, except the line breaks CR and LF. */
const CONTROLS_BUT_LINE_BREAKS = '\\u0000-\\u0009\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F';
/**
 * Bidirectional overrides, embeddings and isolates: invisible, and they reorder what is shown
 * around them (a name that reads differently from what it holds, "Trojan Source").
 */
const BIDI_CONTROLS = '\\u202A-\\u202E\\u2066-\\u2069';

/** What one line of printable text never holds: control characters, line breaks, tabs, bidi controls. */
export const NOT_ONE_LINE = `${CONTROLS_BUT_LINE_BREAKS}\\u000A\\u000D\\u2028\\u2029${BIDI_CONTROLS}`;
/** What text that may span lines never holds: the same, line breaks (CR, LF, U+2028, U+2029) allowed. */
export const NOT_MULTI_LINE = `${CONTROLS_BUT_LINE_BREAKS}${BIDI_CONTROLS}`;

export const NO_CONTROL_CHARACTERS = new RegExp(`^[^${NOT_ONE_LINE}]*$`, 'u');
export const MULTI_LINE_TEXT = new RegExp(`^[^${NOT_MULTI_LINE}]*$`, 'u');
