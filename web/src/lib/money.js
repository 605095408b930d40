// Amounts are integers in minor units (wei for ETH), as decimal strings: BigInt, never floats.
export const DECIMALS = { ETH: 18, EUR: 2, USD: 2, GBP: 2 };
export const CURRENCIES = Object.keys(DECIMALS);

export function formatAmount(amount, currency) {
  const decimals = DECIMALS[currency] ?? 0;
  const value = BigInt(amount ?? 0);
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  let fraction = decimals ? digits.slice(digits.length - decimals) : "";
  fraction = currency === "ETH" ? fraction.replace(/0+$/, "") : fraction;
  return `${negative ? "-" : ""}${whole}${fraction ? "." + fraction : ""} ${currency}`;
}

// "1.5" ETH -> "1500000000000000000"; a clear error for anything that is not an amount.
export function parseAmount(text, currency) {
  const decimals = DECIMALS[currency] ?? 0;
  const clean = String(text).trim().replace(/,/g, "");
  const match = /^(\d+)(?:\.(\d+))?$/.exec(clean);
  if (!match) throw new Error(`"${text}" is not an amount: use digits and at most one decimal point`);
  const fraction = match[2] || "";
  if (fraction.length > decimals) throw new Error(`${currency} has at most ${decimals} decimals`);
  const minor = BigInt(match[1] + fraction.padEnd(decimals, "0"));
  if (minor <= 0n) throw new Error("the amount must be greater than zero");
  return minor.toString();
}

// Minor units back to what a person types ("1500000000000000000" ETH -> "1.5", "2500" EUR -> "25").
export function toMajor(amount, currency) {
  const decimals = DECIMALS[currency] ?? 0;
  const digits = BigInt(amount ?? 0).toString().padStart(decimals + 1, "0");
  if (!decimals) return digits;
  const fraction = digits.slice(-decimals).replace(/0+$/, "");
  return digits.slice(0, -decimals) + (fraction ? `.${fraction}` : "");
}

// An integer amount in minor units times a count, as a decimal string (a price times a quantity).
export function times(amount, count) {
  return (BigInt(amount ?? 0) * BigInt(count)).toString();
}

export function percent(part, whole) {
  const total = BigInt(whole || 0);
  if (total === 0n) return 0;
  const scaled = (BigInt(part || 0) * 1000n) / total;
  return Math.min(100, Number(scaled) / 10);
}
