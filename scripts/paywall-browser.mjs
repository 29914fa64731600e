// Drives the paywall page in headless Chromium (Debian's `chromium`) with playwright-core
// (pinned in package-lock.json), with a test wallet injected into the page: an EIP-1193 provider,
// announced over EIP-6963, whose requests are answered here — accounts and signatures from a
// known key (viem), reads forwarded to the node. One JSON argument:
//
//   {"chromium": "/usr/bin/chromium", "url": "http://…/weather", "rpcUrl": "http://…",
//    "privateKey": "0x…" | null (no wallet), "walletChainId": 31337,
//    "wallet": "honest" | "rejects" | "wrong-key" | "refuses-switch",
//    "screenshot": "/path/prefix" (optional), "keyboard": true | false, "phoneWidth": true | false}
//
// Opens the URL as a browser would, presses Pay (with the keyboard when asked), waits for the
// page to say it is done or failed, and prints {"status", "kind", "content", "receipt",
// "receiptLink", "switches", "signatures", "overflow", "focused", "errors", "screenshots"}.
import { chromium } from "playwright-core";
import { privateKeyToAccount, generatePrivateKey } from "viem/accounts";

const config = JSON.parse(process.argv[2]);
const browser = await chromium.launch({ executablePath: config.chromium, args: ["--no-sandbox"] });
const screenshots = [];
try {
  const viewport = config.phoneWidth ? { width: 390, height: 844 } : { width: 1000, height: 800 };
  const page = await browser.newPage({ viewport });
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));

  const state = { chainId: config.walletChainId, switches: [], signatures: 0 };
  if (config.privateKey) {
    const account = privateKeyToAccount(config.privateKey);
    const signer = config.wallet === "wrong-key" ? privateKeyToAccount(generatePrivateKey()) : account;
    const rpc = async (method, params) => {
      const response = await fetch(config.rpcUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      });
      const answer = await response.json();
      if (answer.error) return { error: answer.error };
      return { result: answer.result };
    };
    await page.exposeFunction("__t402Wallet", async (method, params) => {
      switch (method) {
        case "eth_requestAccounts":
        case "eth_accounts":
          return { result: [account.address] };
        case "eth_chainId":
          return { result: "0x" + state.chainId.toString(16) };
        case "wallet_switchEthereumChain": {
          const wanted = Number(params[0].chainId);
          state.switches.push(wanted);
          if (config.wallet === "refuses-switch") {
            return { error: { code: 4001, message: "User rejected the request." } };
          }
          state.chainId = wanted;
          return { result: null };
        }
        case "eth_call":
          return rpc(method, params);
        case "eth_signTypedData_v4": {
          if (config.wallet === "rejects") {
            return { error: { code: 4001, message: "User rejected the request." } };
          }
          if (params[0].toLowerCase() !== account.address.toLowerCase()) {
            return { error: { code: 4100, message: "unknown account" } };
          }
          const data = JSON.parse(params[1]);
          const { EIP712Domain: _, ...types } = data.types;
          state.signatures += 1;
          return {
            result: await signer.signTypedData({
              domain: data.domain,
              types,
              primaryType: data.primaryType,
              message: data.message,
            }),
          };
        }
        default:
          return { error: { code: 4200, message: `unsupported method ${method}` } };
      }
    });
    await page.addInitScript(() => {
      const provider = {
        async request({ method, params }) {
          const answer = await window.__t402Wallet(method, params ?? []);
          if (answer.error) {
            const error = new Error(answer.error.message);
            error.code = answer.error.code;
            throw error;
          }
          return answer.result;
        },
        on() {},
        removeListener() {},
      };
      const info = {
        uuid: "5f0e1b52-3f0c-4b34-9d2f-6d0ce1e0a402",
        name: "t402 test wallet",
        icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E",
        rdns: "dev.t402.test-wallet",
      };
      const announce = () =>
        window.dispatchEvent(
          new CustomEvent("eip6963:announceProvider", { detail: Object.freeze({ info, provider }) }),
        );
      window.addEventListener("eip6963:requestProvider", announce);
      announce();
    });
  }

  const shoot = async (name) => {
    if (!config.screenshot) return;
    const path = `${config.screenshot}-${name}.png`;
    await page.screenshot({ path, fullPage: true });
    screenshots.push(path);
  };

  const response = await page.goto(config.url);
  if (response.status() !== 402) throw new Error(`expected the 402 page, got ${response.status()}`);
  await page.waitForSelector("#pay:not([hidden])");
  await shoot("offer");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  if (config.keyboard) {
    for (let i = 0; i < 10; i += 1) {
      await page.keyboard.press("Tab");
      if (await page.evaluate(() => document.activeElement && document.activeElement.id === "pay")) break;
    }
    await page.keyboard.press("Enter");
  } else {
    await page.click("#pay");
  }
  await page.waitForSelector('#status[data-kind="done"], #status[data-kind="error"]', { timeout: 30000 });
  const kind = await page.getAttribute("#status", "data-kind");
  await shoot(kind === "done" ? "paid" : "failed");
  const text = async (selector) =>
    (await page.$(selector)) ? (await page.textContent(selector)).trim() : null;
  const output = {
    status: await text("#status"),
    kind,
    content: await text("#content"),
    receipt: await text("#receipt"),
    receiptLink: (await page.$("#receipt a")) ? await page.getAttribute("#receipt a", "href") : null,
    switches: state.switches,
    signatures: state.signatures,
    overflow,
    focused: await page.evaluate(() => document.activeElement && document.activeElement.tagName),
    errors,
    screenshots,
  };
  process.stdout.write(JSON.stringify(output));
} finally {
  await browser.close();
}
