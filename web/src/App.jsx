import { SessionProvider, useSession } from "./session.jsx";
import { useRoute } from "./lib/router.js";
import { ProposalList } from "./pages/ProposalList.jsx";
import { ProposalDetail } from "./pages/ProposalDetail.jsx";
import { ProposalEditor } from "./pages/ProposalEditor.jsx";
import { Market } from "./pages/Market.jsx";
import { ItemDetail } from "./pages/ItemDetail.jsx";
import { NetworkPage } from "./pages/Network.jsx";
import { MePage } from "./pages/Me.jsx";
import { PortfolioPage } from "./pages/Portfolio.jsx";
import { ShopPage } from "./pages/Shop.jsx";
import { OrdersPage } from "./pages/Orders.jsx";
import { NotificationsPage } from "./pages/Notifications.jsx";
import { ListsPage } from "./pages/Lists.jsx";
import { AdminPage } from "./pages/Admin.jsx";
import { UserPage } from "./pages/User.jsx";
import { SignInPage } from "./pages/SignIn.jsx";
import { ApiReference } from "./pages/ApiReference.jsx";
import { signOut } from "./lib/firebase.js";
import { unreadBadge } from "./lib/notifications.js";

const PAGES = {
  proposals: ProposalList, "proposal-new": ProposalEditor, "proposal-edit": ProposalEditor, proposal: ProposalDetail,
  market: Market, item: ItemDetail, network: NetworkPage, me: MePage, portfolio: PortfolioPage, shop: ShopPage, orders: OrdersPage, notifications: NotificationsPage, lists: ListsPage, admin: AdminPage, user: UserPage, signin: SignInPage, api: ApiReference,
};

function Nav({ route }) {
  const { user, profile, unread } = useSession();
  const badge = unreadBadge(unread);
  const link = (href, label, names) => (
    <a href={href} aria-current={names.includes(route.name) ? "page" : undefined}>{label}</a>
  );
  return (
    <header className="top">
      <a className="brand" href="#/">KalaKrut<span>Creative</span></a>
      <nav aria-label="Main">
        {link("#/proposals", "Proposals", ["proposals", "proposal", "proposal-new", "proposal-edit"])}
        {link("#/market", "Marketplace", ["market", "item"])}
        {user && link("#/network", "Network", ["network"])}
        {user && link("#/portfolio", "Portfolio", ["portfolio"])}
        {profile?.role === "artist" && link("#/shop", "My shop", ["shop"])}
        {profile && link("#/orders", "Orders", ["orders"])}
        {profile && link("#/lists", "My lists", ["lists"])}
        {profile?.is_admin && link("#/admin", "Admin", ["admin"])}
        {link("#/api-reference", "API", ["api"])}
      </nav>
      <div className="account">
        {user === undefined ? null : user ? (
          <>
            {profile && (
              <a href="#/notifications" className="bell" aria-label={badge.label} data-testid="bell"
                 aria-current={route.name === "notifications" ? "page" : undefined}>
                <span aria-hidden="true">🔔</span>{badge.text && <span className="count">{badge.text}</span>}
              </a>
            )}
            <a href="#/me" aria-current={route.name === "me" ? "page" : undefined} data-testid="account-link">
              {profile?.display_name || user.email}
            </a>
            <button type="button" className="link" onClick={() => signOut().then(() => { window.location.hash = "#/"; })}>Sign out</button>
          </>
        ) : (
          <a className="button" href="#/signin">Sign in</a>
        )}
      </div>
    </header>
  );
}

function Body({ route }) {
  const { user } = useSession();
  if (user === undefined) return <p className="state" role="status">Loading…</p>;
  const Page = PAGES[route.name];
  if (!Page) {
    return <section className="page"><h1>Not found</h1><p className="state empty">There is no page here. <a href="#/">Go to the proposals</a>.</p></section>;
  }
  return <Page key={`${route.name}/${route.params.id || ""}`} params={route.params} query={route.query} />;
}

export function App({ config }) {
  const route = useRoute();
  return (
    <SessionProvider config={config}>
      <a className="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>Skip to content</a>
      <Nav route={route} />
      <main id="main" tabIndex={-1}><Body route={route} /></main>
      <footer className="foot">KalaKrut Creative · an open backend for creative platforms · <a href="#/api-reference">API reference</a></footer>
    </SessionProvider>
  );
}
