/**
 * A start-up failure the operator can fix: its message is one line naming what failed, where
 * (host:port, database, path) and the variable or command that fixes it. The entry points
 * print it as it is, without a stack.
 */
export class StartupError extends Error {}
