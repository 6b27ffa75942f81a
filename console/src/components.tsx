import { useSignal, type Signal } from '@preact/signals';
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge badge-${status}`} data-status={status}>{status}</span>;
}

/** An error in plain words, announced to screen readers. */
export function ErrorMessage({ message }: { message: string | null }) {
  if (!message) return null;
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

/** The page heading takes focus when the page opens, so keyboard and screen-reader users start there. */
export function PageTitle({ children, actions }: { children: ComponentChildren; actions?: ComponentChildren }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    heading.current?.focus({ preventScroll: true });
  }, []);
  return (
    <div class="page-title">
      <h1 tabIndex={-1} ref={heading}>
        {children}
      </h1>
      {actions ? <div class="actions">{actions}</div> : null}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function Field({ label, children, hint, wide }: { label: string; children: ComponentChildren; hint?: string; wide?: boolean }) {
  return (
    <label class={wide ? 'field full' : 'field'}>
      <span class="label">{label}</span>
      {children}
      {hint ? <span class="hint">{hint}</span> : null}
    </label>
  );
}

/**
 * One action at a time for a form or button: a second click or Enter while the first call is on
 * its way is ignored (the signal is set at once, before any re-render), and `pending` disables
 * the control meanwhile. Without it a double click added a webhook twice or rotated a secret twice.
 */
export function useAction(): { pending: Signal<boolean>; run: (work: () => Promise<void>) => Promise<void> } {
  const pending = useSignal(false);
  const run = async (work: () => Promise<void>) => {
    if (pending.value) return;
    pending.value = true;
    try {
      await work();
    } finally {
      pending.value = false;
    }
  };
  return { pending, run };
}
