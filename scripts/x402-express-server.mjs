// A resource server built from the reference x402 packages (@x402/express 2.27 with the
// reference EVM facilitator in-process, pinned in package-lock.json), for the interop tests of
// the t402 client. Configuration is one JSON argument:
//
//   node scripts/x402-express-server.mjs '{"rpcUrl": "http://…", "facilitatorKey": "0x…",
//     "token": "0x…", "payTo": "0x…", "amount": "10000", "chainId": 31337}'
//
// With "facilitatorUrl": "http://…" the server uses that facilitator over HTTP (the reference
// HTTPFacilitatorClient) instead of the in-process one, and needs no facilitatorKey.
// "tokenName"/"tokenVersion" name the token's EIP-712 domain (default "USD Coin"/"2");
// "permit2": true prices the route over Permit2, and "eip2612": true also declares EIP-2612
// gas sponsoring on it. "scheme": "upto" sells GET /weather for a ceiling of "amount" and its
// handler reports "used" as the reference's settlement override (atomic, "50%" or "$0.01").
//
// Prints {"port": N} once listening on 127.0.0.1, then serves GET /weather until killed.
import express from "express";
import { paymentMiddleware, setSettlementOverrides, x402ResourceServer } from "@x402/express";
import { HTTPFacilitatorClient } from "@x402/core/server";
import { x402Facilitator } from "@x402/core/facilitator";
import { ExactEvmScheme as ExactEvmFacilitator } from "@x402/evm/exact/facilitator";
import { ExactEvmScheme as ExactEvmServer } from "@x402/evm/exact/server";
import { UptoEvmScheme as UptoEvmFacilitator } from "@x402/evm/upto/facilitator";
import { UptoEvmScheme as UptoEvmServer } from "@x402/evm/upto/server";
import { toFacilitatorEvmSigner } from "@x402/evm";
import { declareEip2612GasSponsoringExtension } from "@x402/extensions";
import { createWalletClient, defineChain, http, publicActions } from "viem";
import { privateKeyToAccount } from "viem/accounts";

const config = JSON.parse(process.argv[2]);
const network = `eip155:${config.chainId}`;
const chain = defineChain({
  id: config.chainId,
  name: network,
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [config.rpcUrl] } },
});
function inProcessFacilitator() {
  const account = privateKeyToAccount(config.facilitatorKey);
  const wallet = createWalletClient({ account, chain, transport: http(config.rpcUrl) }).extend(publicActions);
  const signer = toFacilitatorEvmSigner({ ...wallet, address: account.address });
  const facilitator = new x402Facilitator()
    .register(network, new ExactEvmFacilitator(signer))
    .register(network, new UptoEvmFacilitator(signer));
  return {
    verify: (payload, requirements) => facilitator.verify(payload, requirements),
    settle: (payload, requirements) => facilitator.settle(payload, requirements),
    getSupported: async () => facilitator.getSupported(),
  };
}
const facilitatorClient = config.facilitatorUrl
  ? new HTTPFacilitatorClient({ url: config.facilitatorUrl })
  : inProcessFacilitator();
const resourceServer = new x402ResourceServer(facilitatorClient)
  .register(network, new ExactEvmServer())
  .register(network, new UptoEvmServer());
const scheme = config.scheme ?? "exact";

const app = express();
app.use(
  paymentMiddleware(
    {
      "GET /weather": {
        accepts: {
          scheme,
          network,
          payTo: config.payTo,
          price: {
            amount: config.amount,
            asset: config.token,
            extra: {
              name: config.tokenName ?? "USD Coin",
              version: config.tokenVersion ?? "2",
              ...(config.permit2 ? { assetTransferMethod: "permit2" } : {}),
            },
          },
          maxTimeoutSeconds: 120,
        },
        ...(config.eip2612 ? { extensions: declareEip2612GasSponsoringExtension() } : {}),
        description: "Weather from the reference server",
      },
    },
    resourceServer,
  ),
);
app.get("/weather", (_req, res) => {
  if (config.used !== undefined) setSettlementOverrides(res, { amount: config.used });
  res.json({ forecast: "sunny", from: "express" });
});
const server = app.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
