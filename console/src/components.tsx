import { useSignal, type Signal } from '@preact/signals';
import { FIX_MARKED_FIELDS, fieldErrorsOf, formMessageOf } from './api.js';
import { cloneElement, type ComponentChildren, type VNode } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';

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

/**
 * A labelled control with its hint and, after a refused submit, the server's message for this
 * field beside it: the control is marked invalid and described by the message, so a screen
 * reader reads it on focus.
 */
export function Field({ label, children, hint, wide, error }: { label: string; children: VNode; hint?: string; wide?: boolean; error?: string | undefined }) {
  const id = useId();
  const describedBy = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return (
    <div class={wide ? 'field full' : 'field'}>
      <label class="label" for={id}>
        {label}
      </label>
      {cloneElement(children, { id, 'aria-invalid': error ? 'true' : undefined, 'aria-describedby': describedBy || undefined })}
      {hint ? (
        <span class="hint" id={`${id}-hint`}>
          {hint}
        </span>
      ) : null}
      {error ? (
        <span class="field-error" id={`${id}-error`}>
          {error}
        </span>
      ) : null}
    </div>
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

/** A form's failure: a message under the form, and each field's own problem beside that field. */
export function useFormErrors(fields: readonly string[]) {
  const message = useSignal<string | null>(null);
  const byField = useSignal<Record<string, string>>({});
  return {
    message,
    of: (field: string): string | undefined => byField.value[field],
    fail(caught: unknown) {
      byField.value = fieldErrorsOf(caught);
      message.value = formMessageOf(caught, fields);
    },
    show(text: string | null) {
      byField.value = {};
      message.value = text;
    },
    /** A problem found before sending, beside its field. */
    flag(field: string, text: string) {
      byField.value = { [field]: text };
      message.value = FIX_MARKED_FIELDS;
    },
  };
}

/**
 * Focus for a list whose rows each have a button that takes its row away (and the focus in it):
 * `removed(at, text)`, called as row `at` goes, moves focus to the button (found by `buttons`) now
 * at `at`, the one before for the last row, or to `fallback()` once none is left, and announces
 * `text` (shown in a live region by the caller). Not before the page shows that button enabled
 * again: a disabled one takes no focus. Without it focus fell to <body>.
 */
export function useFocusAfterRemoval(buttons: string, fallback: () => HTMLElement | null | undefined) {
  const list = useRef<HTMLUListElement>(null);
  const announcement = useSignal('');
  const focusAt = useRef<number | null>(null);
  useEffect(() => {
    const at = focusAt.current;
    if (at === null) return;
    const found = list.current?.querySelectorAll<HTMLButtonElement>(buttons) ?? [];
    const next = found[Math.min(at, found.length - 1)];
    if (next?.disabled) return;
    focusAt.current = null;
    (next ?? fallback())?.focus();
  });
  return {
    list,
    announcement,
    removed(at: number, text: string) {
      focusAt.current = at;
      announcement.value = text;
    },
  };
}
