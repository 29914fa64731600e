// Runs the reference x402 Solana packages (@x402/svm 2.27.0 with @solana/kit, @x402/fetch and
// @x402/express 2.27.0, pinned in package-lock.json) for the interop tests, against a Solana
// JSON-RPC node (the test kit's front over litesvm). One JSON argument:
//
//   {"command": "fetch", "url": "http://…", "rpcUrl": "http://…", "keypair": [64 bytes],
//    "mint": "…"}
//       → prints {"status", "body", "paymentResponse"}: the reference fetch client paying for the
//         URL with an SPL transfer of the mint (allowed by name: it is outside the default table).
//   {"command": "server", "facilitatorUrl": "http://…", "network": "solana:…", "mint": "…",
//    "payTo": "…", "amount": "10000"}
//       → an @x402/express server selling GET /weather on Solana through the facilitator at
//         facilitatorUrl; prints {"port": N} once listening, serves until killed.
import express from "express";
import { createKeyPairSignerFromBytes } from "@solana/kit";
import { HTTPFacilitatorClient } from "@x402/core/server";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from "@x402/fetch";
import { ExactSvmScheme as ExactSvmClient } from "@x402/svm/exact/client";
import { ExactSvmScheme as ExactSvmServer } from "@x402/svm/exact/server";

const config = JSON.parse(process.argv[2]);

if (config.command === "fetch") {
  const signer = await createKeyPairSignerFromBytes(Uint8Array.from(config.keypair));
  const spendControls = {
    allowedAssets: [{ network: config.network, asset: config.mint, maxAmountPerPayment: "1000000" }],
  };
  const client = x402Client.fromConfig({ schemes: [], spendControls });
  client.register("solana:*", new ExactSvmClient(signer, { rpcUrl: config.rpcUrl }));
  const fetchWithPayment = wrapFetchWithPayment(fetch, client);
  const response = await fetchWithPayment(config.url);
  const header = response.headers.get("PAYMENT-RESPONSE");
  process.stdout.write(JSON.stringify({
    status: response.status,
    body: await response.text(),
    paymentResponse: header ? decodePaymentResponseHeader(header) : null,
  }));
} else if (config.command === "server") {
  const facilitator = new HTTPFacilitatorClient({ url: config.facilitatorUrl });
  const resourceServer = new x402ResourceServer(facilitator).register(config.network, new ExactSvmServer());
  const app = express();
  app.use(
    paymentMiddleware(
      {
        "GET /weather": {
          accepts: {
            scheme: "exact",
            network: config.network,
            payTo: config.payTo,
            price: { amount: config.amount, asset: config.mint },
            maxTimeoutSeconds: 120,
          },
          description: "Weather from the reference server, paid on Solana",
        },
      },
      resourceServer,
    ),
  );
  app.get("/weather", (_req, res) => res.json({ forecast: "sunny", from: "express on solana" }));
  const server = app.listen(0, "127.0.0.1", () => {
    process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
  });
} else {
  throw new Error(`unknown command ${config.command}`);
}
