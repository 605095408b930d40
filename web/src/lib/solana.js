// A Solana browser wallet (Phantom's window.phantom.solana, or window.solana as other
// wallets inject it), linked with Sign-In with Solana: the server writes the message, the
// wallet signs its UTF-8 bytes with ed25519, the server checks the signature. Nothing is
// sent on chain.
import bs58 from "bs58";
import { api } from "./api.js";
import { WalletError, walletError } from "./wallet.js";

const injected = () => window.phantom?.solana ?? window.solana;

export const hasSolanaWallet = () => Boolean(injected());

async function ask(call) {
  try {
    return await call();
  } catch (error) {
    throw walletError(error);
  }
}

export async function linkSolanaWallet() {
  const wallet = injected();
  if (!wallet) throw new WalletError("No Solana wallet found", "Install a Solana browser wallet (such as Phantom) and reload.");
  const { publicKey } = await ask(() => wallet.connect());
  const challenge = await api("/api/me/solana-wallet/challenge", { method: "POST", body: { address: publicKey.toString() } });
  const { signature } = await ask(() => wallet.signMessage(new TextEncoder().encode(challenge.message), "utf8"));
  return api("/api/me/solana-wallet", { method: "POST", body: { message: challenge.message, signature: bs58.encode(signature) } });
}
