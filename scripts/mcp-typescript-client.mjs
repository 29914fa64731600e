// The TypeScript MCP SDK (@modelcontextprotocol/sdk) calling a paid tool over stdio, paying with
// the reference's x402 client (@x402/core) and EIP-3009 scheme (@x402/evm), as the x402 MCP
// transport says: an unpaid call, the payment in `params._meta["x402/payment"]`, the settlement
// read from `result._meta["x402/payment-response"]`. The SDK validates results against a tool's
// `outputSchema`, so this also checks that paid tools are listed without one.
//
// Input (JSON on stdin): { command, env, privateKey, rpcUrl, tool }. Output (JSON on stdout):
// the listed tool, the unpaid result and the paid result.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { x402Client } from "@x402/core/client";
import { toClientEvmSigner } from "@x402/evm";
import { registerExactEvmScheme } from "@x402/evm/exact/client";
import { createPublicClient, defineChain, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));

const client = new Client({ name: "t402-typescript-fixture", version: "1.0.0" });
await client.connect(
  new StdioClientTransport({ command: input.command, env: { ...process.env, ...input.env }, stderr: "inherit" }),
);
const { tools } = await client.listTools();
const listed = tools.find((tool) => tool.name === input.tool);

const unpaid = await client.callTool({ name: input.tool, arguments: {} });
const required = unpaid.structuredContent;
const offer = required.accepts[0];
const chainId = Number(offer.network.split(":")[1]);
const chain = defineChain({
  id: chainId,
  name: offer.network,
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [input.rpcUrl] } },
});
const signer = toClientEvmSigner(
  privateKeyToAccount(input.privateKey),
  createPublicClient({ chain, transport: http(input.rpcUrl) }),
);
const payments = x402Client.fromConfig({
  schemes: [],
  spendControls: { allowedAssets: [{ network: offer.network, asset: offer.asset }] },
});
registerExactEvmScheme(payments, { signer });
const payment = await payments.createPaymentPayload(required);
const paid = await client.callTool({
  name: input.tool,
  arguments: {},
  _meta: { "x402/payment": payment },
});
await client.close();
process.stdout.write(JSON.stringify({ listed, unpaid, paid }));
