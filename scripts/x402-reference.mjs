// Runs the reference x402 EVM implementation (@x402/evm, pinned in package-lock.json) for the
// interop tests of t402-evm. Reads one JSON command on stdin, writes one JSON answer on stdout.
//
//   {"command": "sign", "privateKey": "0x…", "requirements": {…}[, "rpcUrl": "http://…",
//    "extensions": {…}]}
//       → the PaymentPayload (v2) the reference client signs for the requirements; with an RPC
//         URL the client can read the chain, and with the server's declared extensions it signs
//         Permit2 gas sponsoring (EIP-2612 permit or approval transaction) when it has no allowance
//   {"command": "facilitate", "rpcUrl": "http://…", "privateKey": "0x…",
//    "payment": {…}, "requirements": {…}}
//       → {"verify": VerifyResponse, "settle": SettleResponse} from the reference facilitator
//         (`exact`, or `upto` when the requirements say so; an `upto` charge is "charge": "…",
//         settled after verifying the ceiling)
//   {"command": "fetch", "url": "http://…", "privateKey": "0x…",
//    "allowedAsset": {"network", "asset", "maxAmountPerPayment"}[, "rpcUrl": "http://…"]}
//       → {"status", "body", "paymentResponse"}: the reference fetch client (@x402/fetch) paying
//         for the URL; a token outside the reference's default table must be allowed by name
import { ExactEvmScheme as ExactEvmClient, registerExactEvmScheme } from "@x402/evm/exact/client";
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from "@x402/fetch";
import { ExactEvmScheme as ExactEvmFacilitator } from "@x402/evm/exact/facilitator";
import { UptoEvmScheme as UptoEvmClient } from "@x402/evm/upto/client";
import { UptoEvmScheme as UptoEvmFacilitator } from "@x402/evm/upto/facilitator";
import { toClientEvmSigner, toFacilitatorEvmSigner } from "@x402/evm";
import { createPublicClient, createWalletClient, defineChain, http, publicActions } from "viem";
import { privateKeyToAccount } from "viem/accounts";

const input = JSON.parse(await new Promise((resolve, reject) => {
  let text = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
  process.stdin.on("error", reject);
}));

const account = privateKeyToAccount(input.privateKey);

// The paying signer: the account alone, or with reads and transaction signing over RPC.
function clientSigner(chainId) {
  if (!input.rpcUrl) return account;
  const chain = defineChain({
    id: chainId,
    name: `eip155:${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [input.rpcUrl] } },
  });
  const publicClient = createPublicClient({ chain, transport: http(input.rpcUrl) });
  return toClientEvmSigner(account, publicClient);
}

let output;
if (input.command === "sign") {
  const chainId = Number(input.requirements.network.split(":")[1]);
  const Scheme = input.requirements.scheme === "upto" ? UptoEvmClient : ExactEvmClient;
  const client = new Scheme(clientSigner(chainId));
  const context = input.extensions ? { extensions: input.extensions } : undefined;
  const result = await client.createPaymentPayload(2, input.requirements, context);
  output = { x402Version: 2, accepted: input.requirements, payload: result.payload };
  if (result.extensions) output.extensions = result.extensions;
} else if (input.command === "facilitate") {
  const chainId = Number(input.requirements.network.split(":")[1]);
  const chain = defineChain({
    id: chainId,
    name: `eip155:${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [input.rpcUrl] } },
  });
  const wallet = createWalletClient({ account, chain, transport: http(input.rpcUrl) }).extend(publicActions);
  const signer = toFacilitatorEvmSigner({ ...wallet, address: account.address });
  const upto = input.requirements.scheme === "upto";
  const facilitator = upto ? new UptoEvmFacilitator(signer) : new ExactEvmFacilitator(signer);
  const verify = await facilitator.verify(input.payment, input.requirements);
  const charged = input.charge ? { ...input.requirements, amount: input.charge } : input.requirements;
  const settle = await facilitator.settle(input.payment, charged);
  output = { verify, settle };
} else if (input.command === "fetch") {
  const spendControls = input.allowedAsset ? { allowedAssets: [input.allowedAsset] } : undefined;
  const client = x402Client.fromConfig({ schemes: [], spendControls });
  const chainId = input.allowedAsset ? Number(input.allowedAsset.network.split(":")[1]) : 31337;
  const signer = clientSigner(chainId);
  registerExactEvmScheme(client, { signer });
  client.register("eip155:*", new UptoEvmClient(signer));
  const fetchWithPayment = wrapFetchWithPayment(fetch, client);
  const response = await fetchWithPayment(input.url);
  const header = response.headers.get("PAYMENT-RESPONSE");
  output = {
    status: response.status,
    body: await response.text(),
    paymentResponse: header ? decodePaymentResponseHeader(header) : null,
  };
} else {
  throw new Error(`unknown command ${input.command}`);
}
process.stdout.write(JSON.stringify(output, (_, v) => (typeof v === "bigint" ? v.toString() : v)));
