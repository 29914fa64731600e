// Runs the t402 TypeScript packages (@t402/core 2.0.0 and @t402/evm 2.2.0, pinned in
// package-lock.json) for the interop tests: the family that names the version `t402Version`.
// One JSON argument:
//
//   {"command": "fetch", "url": "http://…", "privateKey": "0x…", "network": "eip155:…"}
//       → prints {"status", "body", "paymentResponse", "challengeKeys"}: a @t402 client
//         (t402Client + t402HTTPClient with the exact EVM scheme) paying for the URL once.
//   {"command": "server", "facilitatorUrl": "http://…", "network": "eip155:…", "token": "0x…",
//    "payTo": "0x…", "amount": "10000"}
//       → a @t402 resource server (t402HTTPResourceServer behind a small node:http adapter, as
//         @t402 ships no express package) selling GET /weather through the facilitator at
//         facilitatorUrl; prints {"port": N} once listening, serves until killed.
//
// The @t402 facilitator over HTTP is in facilitator-http.mjs.
import http from "node:http";
import { t402Client, t402HTTPClient } from "@t402/core/client";
import { HTTPFacilitatorClient, t402HTTPResourceServer, t402ResourceServer } from "@t402/core/server";
import { ExactEvmScheme as ExactEvmClient } from "@t402/evm/exact/client";
import { ExactEvmScheme as ExactEvmServer } from "@t402/evm/exact/server";
import { privateKeyToAccount } from "viem/accounts";

const config = JSON.parse(process.argv[2]);
const json = (value) => JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v));

function listen(server) {
  server.listen(0, "127.0.0.1", () => {
    process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
  });
}

if (config.command === "fetch") {
  const account = privateKeyToAccount(config.privateKey);
  const client = new t402Client().register(config.network, new ExactEvmClient(account));
  const httpClient = new t402HTTPClient(client);
  const first = await fetch(config.url);
  if (first.status !== 402) throw new Error(`expected 402, got ${first.status}`);
  const header = first.headers.get("PAYMENT-REQUIRED");
  const challenge = JSON.parse(Buffer.from(header, "base64").toString("utf8"));
  const required = httpClient.getPaymentRequiredResponse((name) => first.headers.get(name));
  const payment = await httpClient.createPaymentPayload(required);
  const paid = await fetch(config.url, { headers: httpClient.encodePaymentSignatureHeader(payment) });
  let paymentResponse = null;
  try {
    paymentResponse = httpClient.getPaymentSettleResponse((name) => paid.headers.get(name));
  } catch {
    // No receipt: the status and body say why.
  }
  process.stdout.write(json({
    status: paid.status,
    body: await paid.text(),
    paymentResponse,
    challengeKeys: Object.keys(challenge).filter((key) => key.endsWith("402Version")),
  }));
} else if (config.command === "server") {
  const facilitator = new HTTPFacilitatorClient({ url: config.facilitatorUrl });
  const resourceServer = new t402ResourceServer(facilitator).register(config.network, new ExactEvmServer());
  const routes = {
    "GET /weather": {
      accepts: {
        scheme: "exact",
        network: config.network,
        payTo: config.payTo,
        price: { amount: config.amount, asset: config.token, extra: { name: "USD Coin", version: "2" } },
        maxTimeoutSeconds: 120,
      },
      description: "Weather from the @t402 server",
    },
  };
  const server = new t402HTTPResourceServer(resourceServer, routes);
  await server.initialize();
  listen(http.createServer(async (request, response) => {
    const url = `http://${request.headers.host}${request.url}`;
    const adapter = {
      getHeader: (name) => request.headers[name.toLowerCase()],
      getMethod: () => request.method,
      getPath: () => request.url,
      getUrl: () => url,
      getAcceptHeader: () => request.headers.accept ?? "",
      getUserAgent: () => request.headers["user-agent"] ?? "",
    };
    const context = { adapter, path: request.url, method: request.method };
    try {
      const result = await server.processHTTPRequest(context);
      if (result.type === "payment-error") {
        const { status, headers, body } = result.response;
        response.writeHead(status, headers);
        response.end(typeof body === "string" ? body : JSON.stringify(body ?? {}));
        return;
      }
      const content = JSON.stringify({ forecast: "sunny", from: "@t402" });
      if (result.type === "no-payment-required") {
        response.writeHead(200, { "Content-Type": "application/json" }).end(content);
        return;
      }
      const settled = await server.processSettlement(result.paymentPayload, result.paymentRequirements);
      if (!settled.success) {
        response.writeHead(402, { "Content-Type": "application/json" }).end(json({ error: settled.errorReason }));
        return;
      }
      response.writeHead(200, { "Content-Type": "application/json", ...settled.headers }).end(content);
    } catch (error) {
      response.writeHead(500, { "Content-Type": "application/json" }).end(json({ error: String(error) }));
    }
  }));
} else {
  throw new Error(`unknown command ${config.command}`);
}
