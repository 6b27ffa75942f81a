/**
 * Whether pretty log lines get colour codes: only on a terminal, as a file or a pipe would keep
 * the escape codes as text. `NO_COLOR` (any value) turns colour off; `FORCE_COLOR` turns it on
 * even into a pipe, or off with `0`/`false`, and wins over `NO_COLOR`, as in Node itself.
 */
export function colourLogs(options: { isTTY: boolean | undefined; noColor: string | undefined; forceColor: string | undefined }): boolean {
  if (options.forceColor !== undefined) return options.forceColor !== '0' && options.forceColor !== 'false';
  if (options.noColor !== undefined) return false;
  return options.isTTY === true;
}
