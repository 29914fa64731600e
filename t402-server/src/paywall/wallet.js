// The paywall's wallet script: pay for the page's resource from a browser wallet.
//
// It reads the challenge (#payment-required) and the page's settings (#paywall-config), finds a
// wallet (EIP-6963 announcements, else window.ethereum), connects, switches to the offer's chain
// when needed, checks the token balance, signs the EIP-3009 authorization with
// eth_signTypedData_v4 (the same time window and payload shape as t402-client), fetches the
// resource again with PAYMENT-SIGNATURE and shows what was paid for with the receipt. Every
// failure is said in words in the status line. No network request goes anywhere but the wallet
// and the resource itself.
(() => {
  "use strict";

  const readJson = (id) => JSON.parse(document.getElementById(id).textContent);
  const required = readJson("payment-required");
  const config = readJson("paywall-config");
  const status = document.getElementById("status");
  const payButton = document.getElementById("pay");
  const walletSelect = document.getElementById("wallet");
  const result = document.getElementById("result");

  const say = (text, kind) => {
    status.textContent = text;
    status.dataset.kind = kind || "info";
  };

  // Wallets: every EIP-6963 announcement, then window.ethereum when nothing announced itself.
  const wallets = [];
  window.addEventListener("eip6963:announceProvider", (event) => {
    const { info, provider } = event.detail || {};
    if (!provider || wallets.some((w) => w.provider === provider)) return;
    wallets.push({ name: (info && info.name) || "Wallet", provider });
    listWallets();
  });
  window.dispatchEvent(new Event("eip6963:requestProvider"));

  function allWallets() {
    if (wallets.length === 0 && window.ethereum) {
      return [{ name: "Browser wallet", provider: window.ethereum }];
    }
    return wallets;
  }

  function listWallets() {
    const found = allWallets();
    walletSelect.textContent = "";
    found.forEach((wallet, index) => {
      const option = document.createElement("option");
      option.value = String(index);
      option.textContent = wallet.name;
      walletSelect.appendChild(option);
    });
    walletSelect.parentElement.hidden = found.length < 2;
  }
  listWallets();

  const chosenOffer = () => {
    const checked = document.querySelector('input[name="offer"]:checked');
    return checked ? Number(checked.value) : -1;
  };

  // Errors a wallet raises (EIP-1193 codes) in words.
  function walletError(error, doing) {
    const code = error && error.code;
    if (code === 4001) return `You declined ${doing}; nothing was paid.`;
    if (code === 4100) return `The wallet did not allow ${doing}: unlock it and connect this site.`;
    const detail = (error && error.message) || String(error);
    return `The wallet failed ${doing}: ${detail}`;
  }

  const toHex = (n) => "0x" + BigInt(n).toString(16);

  function randomNonce() {
    const bytes = new Uint8Array(32);
    crypto.getRandomValues(bytes);
    return "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function base64Json(value) {
    const bytes = new TextEncoder().encode(JSON.stringify(value));
    let binary = "";
    bytes.forEach((b) => (binary += String.fromCharCode(b)));
    return btoa(binary);
  }

  function decodeHeader(value) {
    try {
      const binary = atob(value);
      const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      return null;
    }
  }

  function formatUnits(atomic, decimals) {
    if (decimals == null) return `${atomic} atomic units`;
    const text = BigInt(atomic).toString().padStart(decimals + 1, "0");
    const whole = text.slice(0, text.length - decimals);
    const fraction = text.slice(text.length - decimals).replace(/0+$/, "");
    return fraction ? `${whole}.${fraction}` : whole;
  }

  async function tokenBalance(provider, token, owner) {
    // balanceOf(address)
    const data = "0x70a08231" + owner.slice(2).toLowerCase().padStart(64, "0");
    const answer = await provider.request({
      method: "eth_call",
      params: [{ to: token, data }, "latest"],
    });
    return BigInt(answer);
  }

  async function ensureChain(provider, chainId) {
    const current = Number(await provider.request({ method: "eth_chainId" }));
    if (current === chainId) return;
    say(`Asking the wallet to switch to chain ${chainId}…`);
    try {
      await provider.request({
        method: "wallet_switchEthereumChain",
        params: [{ chainId: toHex(chainId) }],
      });
    } catch (error) {
      if (error && error.code === 4902) {
        throw new Error(`Your wallet does not know chain ${chainId}: add it to the wallet, then pay again.`);
      }
      throw new Error(walletError(error, `to switch to chain ${chainId}`));
    }
    const now = Number(await provider.request({ method: "eth_chainId" }));
    if (now !== chainId) {
      throw new Error(`The wallet is on chain ${now}; switch it to chain ${chainId} and pay again.`);
    }
  }

  // The authorization and the typed data the wallet signs, as t402-client builds them.
  function authorization(offer, from) {
    const now = Math.floor(Date.now() / 1000);
    return {
      from,
      to: offer.payTo,
      value: String(offer.amount),
      validAfter: String(now - 600),
      validBefore: String(now + offer.maxTimeoutSeconds),
      nonce: randomNonce(),
    };
  }

  function typedData(offer, chainId, message) {
    return {
      types: {
        EIP712Domain: [
          { name: "name", type: "string" },
          { name: "version", type: "string" },
          { name: "chainId", type: "uint256" },
          { name: "verifyingContract", type: "address" },
        ],
        TransferWithAuthorization: [
          { name: "from", type: "address" },
          { name: "to", type: "address" },
          { name: "value", type: "uint256" },
          { name: "validAfter", type: "uint256" },
          { name: "validBefore", type: "uint256" },
          { name: "nonce", type: "bytes32" },
        ],
      },
      primaryType: "TransferWithAuthorization",
      domain: {
        name: offer.extra.name,
        version: offer.extra.version,
        chainId,
        verifyingContract: offer.asset,
      },
      message,
    };
  }

  // The payment in the challenge's version key (x402Version when it has both).
  function paymentPayload(offer, signed) {
    const key = "x402Version" in required ? "x402Version" : "t402Version";
    return {
      [key]: 2,
      resource: required.resource,
      accepted: offer,
      payload: signed,
    };
  }

  async function show(response, receipt) {
    const type = (response.headers.get("content-type") || "").toLowerCase();
    const blob = await response.blob();
    result.textContent = "";
    const heading = document.createElement("h2");
    heading.textContent = "Paid";
    heading.tabIndex = -1;
    result.appendChild(heading);
    if (receipt && receipt.transaction) {
      const line = document.createElement("p");
      line.className = "detail";
      line.id = "receipt";
      line.append("Transaction ");
      const explorer = config.explorers[receipt.network];
      if (explorer) {
        const link = document.createElement("a");
        link.href = explorer + receipt.transaction;
        link.rel = "noopener noreferrer";
        link.textContent = receipt.transaction;
        line.appendChild(link);
      } else {
        const code = document.createElement("code");
        code.textContent = receipt.transaction;
        line.appendChild(code);
      }
      line.append(` on ${receipt.network}`);
      result.appendChild(line);
    }
    const content = document.createElement("div");
    content.id = "content";
    if (type.startsWith("text/html")) {
      const frame = document.createElement("iframe");
      frame.title = "Paid content";
      frame.setAttribute("sandbox", "");
      frame.srcdoc = await blob.text();
      content.appendChild(frame);
    } else if (type.includes("json")) {
      const pre = document.createElement("pre");
      const text = await blob.text();
      try {
        pre.textContent = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        pre.textContent = text;
      }
      content.appendChild(pre);
    } else if (type.startsWith("text/")) {
      const pre = document.createElement("pre");
      pre.textContent = await blob.text();
      content.appendChild(pre);
    } else {
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      const name = location.pathname.split("/").filter(Boolean).pop() || "download";
      link.download = name;
      link.textContent = `Download ${name} (${blob.size} bytes)`;
      content.appendChild(link);
    }
    result.appendChild(content);
    document.getElementById("offers-section").hidden = true;
    result.hidden = false;
    heading.focus();
    say("Paid. The content is below.", "done");
  }

  async function refusal(response) {
    const settled = decodeHeader(response.headers.get("PAYMENT-RESPONSE") || "");
    if (settled && settled.success === false) {
      return `Settlement failed: ${settled.errorReason || "unknown reason"}; nothing was paid for.`;
    }
    const challenge = decodeHeader(response.headers.get("PAYMENT-REQUIRED") || "");
    if (challenge && challenge.error) {
      return `The server refused the payment: ${challenge.error}.`;
    }
    return `The server answered ${response.status}.`;
  }

  async function pay() {
    const index = chosenOffer();
    const offer = required.accepts[index];
    const view = config.offers[index];
    if (!offer || !view || !view.payable) {
      say("Choose a way to pay that this page can pay (an EVM offer).", "error");
      return;
    }
    const found = allWallets();
    if (found.length === 0) {
      say("No wallet found: install a browser wallet (one that supports EIP-6963 or window.ethereum) and reload.", "error");
      return;
    }
    const wallet = found[Number(walletSelect.value) || 0] || found[0];
    const provider = wallet.provider;
    const chainId = Number(offer.network.split(":")[1]);
    payButton.disabled = true;
    try {
      say(`Connecting to ${wallet.name}…`);
      let accounts;
      try {
        accounts = await provider.request({ method: "eth_requestAccounts" });
      } catch (error) {
        throw new Error(walletError(error, "to connect the wallet"));
      }
      const from = accounts && accounts[0];
      if (!from) throw new Error("The wallet shared no account.");
      await ensureChain(provider, chainId);
      say("Checking your balance…");
      let balance = null;
      try {
        balance = await tokenBalance(provider, offer.asset, from);
      } catch {
        // A wallet that cannot read the chain: the facilitator checks the balance anyway.
      }
      if (balance !== null && balance < BigInt(offer.amount)) {
        throw new Error(
          `Insufficient balance: ${from} holds ${formatUnits(balance, view.decimals)} ${view.asset}, ` +
            `the price is ${view.amount} ${view.asset}.`,
        );
      }
      say("Sign the payment in your wallet…");
      const message = authorization(offer, from);
      let signature;
      try {
        signature = await provider.request({
          method: "eth_signTypedData_v4",
          params: [from, JSON.stringify(typedData(offer, chainId, message))],
        });
      } catch (error) {
        throw new Error(walletError(error, "to sign the payment"));
      }
      say("Paying…");
      const header = base64Json(paymentPayload(offer, { signature, authorization: message }));
      const response = await fetch(location.href, {
        headers: { "PAYMENT-SIGNATURE": header },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (!response.ok) {
        throw new Error(await refusal(response));
      }
      await show(response, decodeHeader(response.headers.get("PAYMENT-RESPONSE") || ""));
    } catch (error) {
      say(error instanceof Error ? error.message : String(error), "error");
    } finally {
      payButton.disabled = false;
    }
  }

  payButton.addEventListener("click", pay);
  payButton.hidden = false;
  say("Choose how to pay, then press Pay.");
})();
