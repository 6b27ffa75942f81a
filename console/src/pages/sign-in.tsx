import { useSignal } from '@preact/signals';
import { register, sessionNotice, signIn } from '../api.js';
import { ErrorMessage, Field, PageTitle, useFormErrors } from '../components.js';

export function SignInPage() {
  const email = useSignal('');
  const password = useSignal('');
  const errors = useFormErrors(['email', 'password', 'name']);
  const busy = useSignal(false);
  const creating = useSignal(false);
  const name = useSignal('');

  async function submit(event: Event) {
    event.preventDefault();
    if (busy.value) return;
    busy.value = true;
    errors.show(null);
    try {
      if (creating.value) await register(email.value.trim(), password.value, name.value.trim());
      else await signIn(email.value.trim(), password.value);
    } catch (caught) {
      errors.fail(caught);
      busy.value = false;
    }
  }

  return (
    <main id="main" class="sign-in">
      <PageTitle>{creating.value ? 'Create an account' : 'Sign in to the order console'}</PageTitle>
      {sessionNotice.value ? (
        <p class="notice" role="status">
          {sessionNotice.value}
        </p>
      ) : null}
      <form onSubmit={(e) => void submit(e)} class="card stack" aria-describedby="sign-in-help">
        {creating.value ? (
          <Field label="Name (optional)" error={errors.of('name')}>
            <input type="text" name="name" autoComplete="name" maxLength={100} value={name.value} onInput={(e) => (name.value = e.currentTarget.value)} />
          </Field>
        ) : null}
        <Field label="Email" error={errors.of('email')}>
          <input type="email" name="email" autoComplete="username" required value={email.value} onInput={(e) => (email.value = e.currentTarget.value)} />
        </Field>
        <Field label="Password" error={errors.of('password')}>
          <input type="password" name="password" autoComplete={creating.value ? 'new-password' : 'current-password'} required minLength={creating.value ? 8 : 1} maxLength={128} value={password.value} onInput={(e) => (password.value = e.currentTarget.value)} />
        </Field>
        <ErrorMessage message={errors.message.value} />
        <button type="submit" class="primary" disabled={busy.value}>
          {busy.value ? 'Please wait…' : creating.value ? 'Create account' : 'Sign in'}
        </button>
        <button type="button" class="link" onClick={() => ((creating.value = !creating.value), errors.show(null))}>
          {creating.value ? 'I have an account: sign in' : 'New customer? Create an account'}
        </button>
      </form>
      <p id="sign-in-help" class="muted">
        Customers see the catalog, place orders and follow them live. Admins also see every order, products, webhooks and the pipeline.
        New accounts are customers; the first admin comes from <code>ADMIN_EMAIL</code> and <code>ADMIN_PASSWORD</code>.
      </p>
    </main>
  );
}
