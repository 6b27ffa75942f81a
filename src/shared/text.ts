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
/**
 * Invisible format characters with no place in a one-line name: they make two names that look
 * the same differ, and show as nothing in emails, logs and the console. U+200B zero width space,
 * U+2060 word joiner and U+2061–U+2064 (invisible function application, times, separator and
 * plus), U+FEFF (byte order mark, or zero width no-break space), and U+00AD soft hyphen: each is
 * a hint for where a line may or may not break (or none at all), which a name on one line never
 * uses. Prose that wraps (descriptions) keeps them. U+200C/U+200D (zero width non-joiner and
 * joiner) stay allowed: emoji sequences and several scripts (Persian, Indic) need them, as do
 * the marks U+200E/U+200F for right-to-left names.
 */
const INVISIBLE_IN_ONE_LINE = '\\u00AD\\u200B\\u2060-\\u2064\\uFEFF';

/** What one line of printable text never holds: control characters, line breaks, tabs, bidi controls, invisible format characters. */
export const NOT_ONE_LINE = `${CONTROLS_BUT_LINE_BREAKS}\\u000A\\u000D\\u2028\\u2029${BIDI_CONTROLS}${INVISIBLE_IN_ONE_LINE}`;
/** What text that may span lines never holds: control and bidi characters; line breaks (CR, LF, U+2028, U+2029) and break hints allowed. */
export const NOT_MULTI_LINE = `${CONTROLS_BUT_LINE_BREAKS}${BIDI_CONTROLS}`;

export const NO_CONTROL_CHARACTERS = new RegExp(`^[^${NOT_ONE_LINE}]*$`, 'u');
export const MULTI_LINE_TEXT = new RegExp(`^[^${NOT_MULTI_LINE}]*$`, 'u');
