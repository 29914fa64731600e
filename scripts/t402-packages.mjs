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
//   {"command": "facilitator", "rpcUrl": "http://…", "privateKey": "0x…", "network": "eip155:…"}
//       → a @t402 facilitator (t402Facilitator with the exact EVM scheme) over HTTP: POST /verify,
//         POST /settle, GET /supported; prints {"port": N}, serves until killed.
import http from "node:http";
import { t402Client, t402HTTPClient } from "@t402/core/client";
import { t402Facilitator } from "@t402/core/facilitator";
import { HTTPFacilitatorClient, t402HTTPResourceServer, t402ResourceServer } from "@t402/core/server";
import { ExactEvmScheme as ExactEvmClient } from "@t402/evm/exact/client";
import { ExactEvmScheme as ExactEvmFacilitator } from "@t402/evm/exact/facilitator";
import { ExactEvmScheme as ExactEvmServer } from "@t402/evm/exact/server";
import { toFacilitatorEvmSigner } from "@t402/evm";
import { createWalletClient, defineChain, http as viemHttp, publicActions } from "viem";
import { privateKeyToAccount } from "viem/accounts";

const config = JSON.parse(process.argv[2]);
const json = (value) => JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v));

function listen(server) {
  server.listen(0, "127.0.0.1", () => {
    process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
  });
}

async function readBody(request) {
  let text = "";
  for await (const chunk of request) text += chunk;
  return text;
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
} else if (config.command === "facilitator") {
  const chainId = Number(config.network.split(":")[1]);
  const chain = defineChain({
    id: chainId,
    name: config.network,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [config.rpcUrl] } },
  });
  const account = privateKeyToAccount(config.privateKey);
  const wallet = createWalletClient({ account, chain, transport: viemHttp(config.rpcUrl) }).extend(publicActions);
  const facilitator = new t402Facilitator().register(
    config.network,
    new ExactEvmFacilitator(toFacilitatorEvmSigner({ ...wallet, address: account.address })),
  );
  listen(http.createServer(async (request, response) => {
    const answer = (status, value) =>
      response.writeHead(status, { "Content-Type": "application/json" }).end(json(value));
    try {
      if (request.method === "GET" && request.url === "/supported") {
        return answer(200, facilitator.getSupported());
      }
      const body = JSON.parse(await readBody(request));
      if (request.method === "POST" && request.url === "/verify") {
        return answer(200, await facilitator.verify(body.paymentPayload, body.paymentRequirements));
      }
      if (request.method === "POST" && request.url === "/settle") {
        return answer(200, await facilitator.settle(body.paymentPayload, body.paymentRequirements));
      }
      return answer(404, { error: "not found" });
    } catch (error) {
      return answer(500, { error: error instanceof Error ? error.message : String(error) });
    }
  }));
} else {
  throw new Error(`unknown command ${config.command}`);
}
