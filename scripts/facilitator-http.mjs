// A reference facilitator over HTTP (POST /verify, POST /settle, GET /supported), for the interop
// tests: the exact EVM scheme of either family (and `upto` for x402), pinned in package-lock.json — "x402" (@x402/core
// and @x402/evm 2.27.0, naming the version `x402Version`) or "t402" (@t402/core 2.0.0 and
// @t402/evm 2.2.0, naming it `t402Version`). One JSON argument:
//
//   {"family": "x402" | "t402", "rpcUrl": "http://…", "privateKey": "0x…", "network": "eip155:…"}
//
// Prints {"port": N} once listening on 127.0.0.1, then serves until killed. Answers 200 with the
// facilitator's verdict, 500 {"error"} when it throws.
import http from "node:http";
import { createWalletClient, defineChain, http as viemHttp, publicActions } from "viem";
import { privateKeyToAccount } from "viem/accounts";

const config = JSON.parse(process.argv[2]);
const family = {
  x402: async () => ({
    Facilitator: (await import("@x402/core/facilitator")).x402Facilitator,
    Scheme: (await import("@x402/evm/exact/facilitator")).ExactEvmScheme,
    Upto: (await import("@x402/evm/upto/facilitator")).UptoEvmScheme,
    toSigner: (await import("@x402/evm")).toFacilitatorEvmSigner,
  }),
  t402: async () => ({
    Facilitator: (await import("@t402/core/facilitator")).t402Facilitator,
    Scheme: (await import("@t402/evm/exact/facilitator")).ExactEvmScheme,
    toSigner: (await import("@t402/evm")).toFacilitatorEvmSigner,
  }),
}[config.family];
if (!family) throw new Error(`unknown family ${config.family}`);
const { Facilitator, Scheme, Upto, toSigner } = await family();

const chainId = Number(config.network.split(":")[1]);
const chain = defineChain({
  id: chainId,
  name: config.network,
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [config.rpcUrl] } },
});
const account = privateKeyToAccount(config.privateKey);
const wallet = createWalletClient({ account, chain, transport: viemHttp(config.rpcUrl) }).extend(publicActions);
const signer = toSigner({ ...wallet, address: account.address });
const facilitator = new Facilitator().register(config.network, new Scheme(signer));
// The x402 family also settles `upto` (the t402 packages have no upto scheme).
if (Upto) facilitator.register(config.network, new Upto(signer));

const json = (value) => JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v));
const server = http.createServer(async (request, response) => {
  const answer = (status, value) =>
    response.writeHead(status, { "Content-Type": "application/json" }).end(json(value));
  try {
    if (request.method === "GET" && request.url === "/supported") {
      return answer(200, await facilitator.getSupported());
    }
    let text = "";
    for await (const chunk of request) text += chunk;
    const body = JSON.parse(text);
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
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
