import { currentUser, rightsNotice, signOut } from './api.js';
import { cartCount, forgetCart } from './cart.js';
import { liveState, liveStoppedReason } from './live.js';
import { AccountPage } from './pages/account.js';
import { CatalogPage } from './pages/catalog.js';
import { OrderDetailPage } from './pages/order-detail.js';
import { AllOrdersPage, MyOrdersPage } from './pages/orders.js';
import { PipelinePage } from './pages/pipeline.js';
import { ProductsPage } from './pages/products.js';
import { SignInPage } from './pages/sign-in.js';
import { WebhooksPage } from './pages/webhooks.js';
import { match, route } from './router.js';

interface NavItem {
  path: string;
  label: string;
}
const CUSTOMER_NAV: NavItem[] = [
  { path: '/', label: 'Catalog' },
  { path: '/orders', label: 'My orders' },
];
const ADMIN_NAV: NavItem[] = [
  { path: '/admin/orders', label: 'Orders' },
  { path: '/admin/products', label: 'Products' },
  { path: '/admin/webhooks', label: 'Webhooks' },
  { path: '/admin/pipeline', label: 'Pipeline' },
  { path: '/shop', label: 'Shop' },
];

const LIVE_LABELS = { live: 'Live', polling: 'Reconnecting', stopped: 'Not live', off: '' } as const;
const LIVE_TITLES = {
  live: 'Receiving changes as they happen',
  polling: 'Live updates paused; refreshing every few seconds',
  stopped: 'The server refused live updates for this page',
  off: '',
} as const;

function Page({ path, admin }: { path: string; admin: boolean }) {
  const order = match('/orders/:id', path);
  if (order?.id) return <OrderDetailPage key={order.id} id={order.id} />;
  if (path === '/orders') return <MyOrdersPage />;
  if (path === '/account') return <AccountPage />;
  if (admin) {
    if (path === '/admin/orders') return <AllOrdersPage />;
    if (path === '/admin/products') return <ProductsPage />;
    if (path === '/admin/webhooks') return <WebhooksPage />;
    if (path === '/admin/pipeline') return <PipelinePage />;
    if (path !== '/shop') return <AllOrdersPage />;
  }
  return <CatalogPage />;
}

function skipToMain(event: Event) {
  // A plain #main link would change the route, which lives in the fragment.
  event.preventDefault();
  document.querySelector<HTMLElement>('#main h1')?.focus();
}

export function App() {
  const user = currentUser.value;
  if (!user) return <SignInPage />;
  const admin = user.role === 'admin';
  const path = route.value;
  const nav = admin ? ADMIN_NAV : CUSTOMER_NAV;
  const home = admin ? '/admin/orders' : '/';
  const current = path === '/' ? home : path;
  const active = (item: NavItem) => (item.path === '/' ? current === '/' : current === item.path || current.startsWith(item.path + '/'));
  return (
    <>
      <a href="#main" class="skip-link" onClick={skipToMain}>
        Skip to content
      </a>
      <header class="top">
        <a href={admin ? '#/admin/orders' : '#/'} class="brand">
          Order console
        </a>
        <nav aria-label="Main">
          <ul>
            {nav.map((item) => (
              <li key={item.path}>
                <a href={`#${item.path}`} aria-current={active(item) ? 'page' : undefined}>
                  {item.label}
                  {(item.path === '/' || item.path === '/shop') && cartCount.value > 0 ? <span class="count"> ({cartCount.value} in cart)</span> : null}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          {liveState.value !== 'off' ? (
            <span class={`live live-${liveState.value}`} title={LIVE_TITLES[liveState.value]}>
              {LIVE_LABELS[liveState.value]}
            </span>
          ) : null}
          <span class="user">
            {user.name} <span class="muted">({user.role})</span>
          </span>
          <a href="#/account" class="account-link" aria-current={current === '/account' ? 'page' : undefined}>
            Account
          </a>
          <button type="button" class="small" onClick={() => (forgetCart(), void signOut())}>
            Sign out
          </button>
        </div>
      </header>
      {rightsNotice.value ? (
        <p class="error banner" role="alert">
          {rightsNotice.value}
        </p>
      ) : null}
      {liveStoppedReason.value ? (
        <p class="error banner" role="alert">
          {liveStoppedReason.value}
        </p>
      ) : null}
      <Page path={path} admin={admin} />
    </>
  );
}
