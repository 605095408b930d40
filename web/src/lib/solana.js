// A Solana browser wallet (Phantom's window.phantom.solana, or window.solana as other
// wallets inject it), linked with Sign-In with Solana: the server writes the message, the
// wallet signs its UTF-8 bytes with ed25519, the server checks the signature. Nothing is
// sent on chain.
import bs58 from "bs58";
import { api } from "./api.js";
import { WalletError, askWallet } from "./wallet.js";

const injected = () => window.phantom?.solana ?? window.solana;

export const hasSolanaWallet = () => Boolean(injected());

export async function linkSolanaWallet() {
  const wallet = injected();
  if (!wallet) throw new WalletError("No Solana wallet found", "Install a Solana browser wallet (such as Phantom) and reload.");
  // Phantom answers connect() with the key and signMessage() with {signature}; other wallets
  // keep the key on the provider, or give the signature's bytes alone.
  const connected = await askWallet(() => wallet.connect());
  const publicKey = connected?.publicKey ?? wallet.publicKey;
  if (!publicKey) throw new WalletError("The wallet refused", "It shared no public key.");
  const challenge = await api("/api/me/solana-wallet/challenge", { method: "POST", body: { address: publicKey.toString() } });
  const signed = await askWallet(() => wallet.signMessage(new TextEncoder().encode(challenge.message), "utf8"));
  const signature = signed?.signature ?? signed;
  if (!(signature instanceof Uint8Array) || signature.length !== 64) {
    throw new WalletError("The wallet refused", "It gave no ed25519 signature of the message.");
  }
  return api("/api/me/solana-wallet", { method: "POST", body: { message: challenge.message, signature: bs58.encode(signature) } });
}
