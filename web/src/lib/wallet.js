// An EIP-1193 wallet (window.ethereum): connect, link with Sign-In with Ethereum (the
// server writes the message, the wallet signs it), fund a proposal on chain, and send
// the calls the API prepares (an artist's withdrawal, a backer's refund).
import { api } from "./api.js";

const FUND_SELECTOR = "0xca1d209d"; // fund(uint256)
const CAMPAIGNS_SELECTOR = "0x141961bc"; // campaigns(uint256)
const CREDITS_SELECTOR = "0xfe5ff468"; // ArtworkMarket.credits(address)
const WITHDRAW_SELECTOR = "0x3ccfd60b"; // ArtworkMarket.withdraw()

export class WalletError extends Error {
  constructor(title, detail) {
    super(detail);
    this.title = title;
    this.detail = detail;
  }
}

function provider() {
  if (!window.ethereum) {
    throw new WalletError("No wallet found", "Install a browser wallet (an EIP-1193 provider such as MetaMask) and reload.");
  }
  return window.ethereum;
}

// A call to a wallet, its failure told as the person should read it: code 4001 is "declined"
// in EIP-1193 and in Solana wallets alike.
export async function askWallet(call) {
  try {
    return await call();
  } catch (error) {
    if (error instanceof WalletError) throw error;
    if (error?.code === 4001) throw new WalletError("Cancelled in the wallet", "You declined the request.");
    throw new WalletError("The wallet refused", error?.message || String(error));
  }
}

const request = (method, params) => askWallet(() => provider().request({ method, params }));

export const hasWallet = () => Boolean(window.ethereum);

export async function connect(chainId) {
  const [account] = await request("eth_requestAccounts");
  if (!account) throw new WalletError("No account", "The wallet shared no account.");
  if (chainId && Number.parseInt(await request("eth_chainId"), 16) !== chainId) {
    await request("wallet_switchEthereumChain", [{ chainId: `0x${chainId.toString(16)}` }]);
  }
  return account;
}

function utf8Hex(text) {
  return "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function linkWallet(chainId) {
  const address = await connect(chainId);
  const challenge = await api("/api/me/wallet/challenge", { method: "POST", body: { address } });
  const signature = await request("personal_sign", [utf8Hex(challenge.message), address]);
  return api("/api/me/wallet", { method: "POST", body: { message: challenge.message, signature } });
}

// The on-chain id of a proposal is its UUID read as one 128-bit integer.
function word(proposalId) {
  return proposalId.replace(/-/g, "").padStart(64, "0");
}

export async function hasCampaign(chain, proposalId) {
  const answer = await request("eth_call", [{ to: chain.funding_contract, data: CAMPAIGNS_SELECTOR + word(proposalId) }, "latest"]);
  return /[1-9a-f]/.test(answer.slice(2, 66)); // the artist's address is not zero
}

export async function fundProposal(chain, proposalId, wei) {
  if (!chain?.funding_contract) throw new WalletError("Funding is not configured", "This deployment names no funding contract.");
  const from = await connect(chain.chain_id);
  if (!(await hasCampaign(chain, proposalId))) {
    throw new WalletError("Not open on chain yet", "The platform has not opened this proposal's on-chain campaign yet.");
  }
  return sendAndWait({ from, to: chain.funding_contract, value: "0x" + BigInt(wei).toString(16), data: FUND_SELECTOR + word(proposalId) });
}

// A call the API prepared ({chain_id, to, data, value}: GET …/withdrawal, …/refund), sent
// from the account it names (the artist's or the backer's linked wallet).
export async function sendPrepared(call, account) {
  const from = await connect(call.chain_id);
  if (account && from.toLowerCase() !== account.toLowerCase()) {
    throw new WalletError("Another account is selected", `Switch your wallet to ${account}: only it can send this.`);
  }
  return sendAndWait({ from, to: call.to, data: call.data, value: "0x" + BigInt(call.value || 0).toString(16) });
}

// The transactions the API prepared for a sale ({chain_id, sender, calls}: POST …/sales…), in order.
export async function sendCalls(answer) {
  for (const call of answer.calls) await sendPrepared({ chain_id: answer.chain_id, ...call }, answer.sender);
}

// What the market contract holds for the connected account (proceeds, outbid bids), in wei.
export async function marketCredits(chain) {
  const account = await connect(chain.chain_id);
  const answer = await request("eth_call", [{ to: chain.market_contract, data: CREDITS_SELECTOR + account.slice(2).toLowerCase().padStart(64, "0") }, "latest"]);
  return { account, wei: BigInt(answer).toString() };
}

export async function withdrawCredits(chain) {
  const from = await connect(chain.chain_id);
  return sendAndWait({ from, to: chain.market_contract, data: WITHDRAW_SELECTOR, value: "0x0" });
}

async function sendAndWait(transaction) {
  const hash = await request("eth_sendTransaction", [transaction]);
  for (let attempt = 0; attempt < 120; attempt += 1) {
    const receipt = await request("eth_getTransactionReceipt", [hash]);
    if (receipt) {
      if (Number.parseInt(receipt.status, 16) !== 1) throw new WalletError("The transaction failed", `It reverted: ${hash}`);
      return hash;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new WalletError("Still pending", `The transaction ${hash} has not been mined yet.`);
}
