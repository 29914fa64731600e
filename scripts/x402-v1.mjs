// Runs the protocol v1 x402 packages (x402-fetch 1.2.0 and x402-express 1.2.0, pinned in
// package-lock.json) for the interop tests: clients that read the 402 body and pay with
// `X-PAYMENT`, and servers that answer that way. One JSON argument:
//
//   {"command": "fetch", "url": "http://…", "privateKey": "0x…", "network": "base-sepolia",
//    "maxValue": "100000"}
//       → prints {"status", "body", "paymentResponse"}: x402-fetch paying for the URL (the wallet
//         names its chain by the v1 network name; signing needs no node).
//   {"command": "server", "facilitatorUrl": "http://…", "network": "base-sepolia", "token": "0x…",
//    "payTo": "0x…", "amount": "10000"}
//       → an x402-express v1 server selling GET /weather through the facilitator at
//         facilitatorUrl; prints {"port": N} once listening, serves until killed.
import express from "express";
import { paymentMiddleware } from "x402-express";
import { decodeXPaymentResponse, wrapFetchWithPayment } from "x402-fetch";
import { createSigner } from "x402/types";

const config = JSON.parse(process.argv[2]);

if (config.command === "fetch") {
  const signer = await createSigner(config.network, config.privateKey);
  const fetchWithPayment = wrapFetchWithPayment(fetch, signer, BigInt(config.maxValue));
  const response = await fetchWithPayment(config.url);
  const header = response.headers.get("X-PAYMENT-RESPONSE");
  process.stdout.write(JSON.stringify({
    status: response.status,
    body: await response.text(),
    paymentResponse: header ? decodeXPaymentResponse(header) : null,
  }));
} else if (config.command === "server") {
  const app = express();
  app.use(
    paymentMiddleware(
      config.payTo,
      {
        "GET /weather": {
          price: {
            amount: config.amount,
            asset: { address: config.token, decimals: 6, eip712: { name: "USD Coin", version: "2" } },
          },
          network: config.network,
          config: { description: "Weather from the v1 server", maxTimeoutSeconds: 120 },
        },
      },
      { url: config.facilitatorUrl },
    ),
  );
  app.get("/weather", (_req, res) => res.json({ forecast: "sunny", from: "x402-express v1" }));
  const server = app.listen(0, "127.0.0.1", () => {
    process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
  });
} else {
  throw new Error(`unknown command ${config.command}`);
}
