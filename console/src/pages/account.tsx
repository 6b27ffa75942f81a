import { useSignal } from '@preact/signals';
import { changePassword, currentUser } from '../api.js';
import { ErrorMessage, Field, PageTitle, useAction, useFormErrors } from '../components.js';

/** The signed-in user's own account: who they are, and a password change. */
export function AccountPage() {
  const user = currentUser.value;
  const currentPassword = useSignal('');
  const newPassword = useSignal('');
  const repeated = useSignal('');
  const done = useSignal(false);
  const errors = useFormErrors(['currentPassword', 'newPassword']);
  const { pending, run } = useAction();

  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      done.value = false;
      errors.show(null);
      if (newPassword.value !== repeated.value) {
        errors.flag('repeated', 'does not match the new password');
        return;
      }
      try {
        await changePassword(currentPassword.value, newPassword.value);
        currentPassword.value = newPassword.value = repeated.value = '';
        done.value = true;
      } catch (caught) {
        errors.fail(caught);
      }
    });
  };

  return (
    <main id="main" class="account">
      <PageTitle>Account</PageTitle>
      {user ? (
        <section class="card stack" aria-labelledby="account-who">
          <h2 id="account-who">Signed in as</h2>
          <p>
            {user.name} <span class="muted">({user.role})</span>
            <br />
            <span class="break">{user.email}</span>
          </p>
        </section>
      ) : null}
      <form onSubmit={submit} class="card stack" aria-labelledby="change-password" aria-describedby="change-password-help">
        <h2 id="change-password">Change password</h2>
        <p id="change-password-help" class="muted">
          Every other place you are signed in is signed out (within 15 minutes); this one stays signed in.
        </p>
        {done.value ? (
          <p class="notice" role="status">
            Your password has been changed. Other sessions have been signed out.
          </p>
        ) : null}
        <Field label="Current password" error={errors.of('currentPassword')}>
          <input type="password" name="currentPassword" autoComplete="current-password" required maxLength={1024} value={currentPassword.value} onInput={(e) => (currentPassword.value = e.currentTarget.value)} />
        </Field>
        <Field label="New password" hint="8 to 128 characters" error={errors.of('newPassword')}>
          <input type="password" name="newPassword" autoComplete="new-password" required minLength={8} maxLength={128} value={newPassword.value} onInput={(e) => (newPassword.value = e.currentTarget.value)} />
        </Field>
        <Field label="New password again" error={errors.of('repeated')}>
          <input type="password" name="repeated" autoComplete="new-password" required minLength={8} maxLength={128} value={repeated.value} onInput={(e) => (repeated.value = e.currentTarget.value)} />
        </Field>
        <ErrorMessage message={errors.message.value} />
        <button type="submit" class="primary" disabled={pending.value}>
          {pending.value ? 'Please wait…' : 'Change password'}
        </button>
      </form>
    </main>
  );
}
