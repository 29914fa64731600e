// Compiles the test contracts of t402-evm with solcjs (pinned in package-lock.json) and writes
// their ABI and bytecode to t402-evm/contracts/artifacts/.
//
//   node scripts/build-contracts.mjs           regenerate the committed artifacts
//   node scripts/build-contracts.mjs --check   fail if the committed artifacts differ
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const srcDir = path.join(root, "t402-evm/contracts/src");
const outDir = path.join(root, "t402-evm/contracts/artifacts");
const check = process.argv.includes("--check");

const sources = {};
for (const file of fs.readdirSync(srcDir).filter((f) => f.endsWith(".sol")).sort()) {
  sources[file] = { content: fs.readFileSync(path.join(srcDir, file), "utf8") };
}

const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    metadata: { bytecodeHash: "none" },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length > 0) process.exit(1);

let stale = [];
fs.mkdirSync(outDir, { recursive: true });
for (const [file, contracts] of Object.entries(output.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    if (c.evm.bytecode.object.length === 0) continue; // interfaces
    const artifact = {
      contractName: name,
      source: `contracts/src/${file}`,
      compiler: `solc ${solc.version()}`,
      abi: c.abi,
      bytecode: `0x${c.evm.bytecode.object}`,
      deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
    };
    const text = JSON.stringify(artifact, null, 2) + "\n";
    const target = path.join(outDir, `${name}.json`);
    const current = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : null;
    if (current !== text) {
      if (check) stale.push(name);
      else fs.writeFileSync(target, text);
    }
    if (!check) console.log(`${name}: ${c.evm.deployedBytecode.object.length / 2} bytes deployed`);
  }
}
if (check && stale.length > 0) {
  console.error(`stale contract artifacts: ${stale.join(", ")}; run: node scripts/build-contracts.mjs`);
  process.exit(1);
}
if (check) console.log("contract artifacts are up to date");
