"""The x402 Python reference's MCP client (`x402.mcp`, async) paying a tool over stdio.

Usage: T402_PY_KEY=<hex private key> python mcp-python-client.py <tool> <server command...>

Starts the server command as a stdio MCP server, calls <tool> with the reference's paying
client (EIP-3009 `exact` on any eip155 network, automatic payment), and prints one JSON object:
the unpaid probe's payment-required flag, the tool's text, whether a payment was made, and the
settlement read from the result's `_meta`.
"""

import asyncio
import json
import os
import sys
import types
from datetime import timedelta

from eth_account import Account
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from x402 import x402Client
from x402.mcp.client_async import create_x402_mcp_client
from x402.mechanisms.evm.exact import ExactEvmClientScheme


class SessionAdapter:
    """The call shape `x402MCPClient` expects (a params dict; a result with `_meta`), over an
    MCP SDK `ClientSession`."""

    def __init__(self, session: ClientSession) -> None:
        self._session = session

    async def call_tool(self, params, read_timeout_seconds=None, **_):
        timeout = read_timeout_seconds
        if isinstance(timeout, (int, float)):
            timeout = timedelta(seconds=timeout)
        result = await self._session.call_tool(
            params["name"],
            params.get("arguments"),
            read_timeout_seconds=timeout,
            meta=params.get("_meta"),
        )
        return types.SimpleNamespace(
            content=[item.model_dump(by_alias=True, exclude_none=True) for item in result.content],
            isError=result.isError,
            _meta=result.meta or {},
            structuredContent=result.structuredContent,
        )


async def main() -> None:
    tool, command = sys.argv[1], sys.argv[2:]
    account = Account.from_key(os.environ["T402_PY_KEY"])
    payments = x402Client()
    payments.register("eip155:*", ExactEvmClientScheme(account))
    server = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            probe = await session.call_tool(tool, {})
            # The reference pays only tokens it knows unless told: allow the offered token,
            # at most 0.05 of it per payment.
            offer = probe.structuredContent["accepts"][0]
            payments.set_spend_controls(
                {
                    "allowed_assets": [
                        {
                            "network": offer["network"],
                            "asset": offer["asset"],
                            "max_amount_per_payment": "50000",
                        }
                    ]
                }
            )
            paying = create_x402_mcp_client(SessionAdapter(session), payments, auto_payment=True)
            result = await paying.call_tool(tool, {})
            response = result.payment_response
            print(
                json.dumps(
                    {
                        "probe_is_error": probe.isError,
                        "probe_structured": probe.structuredContent,
                        "text": result.content[0].get("text") if result.content else None,
                        "is_error": result.is_error,
                        "payment_made": result.payment_made,
                        "payment_response": response.model_dump(by_alias=True, exclude_none=True)
                        if response is not None
                        else None,
                    }
                )
            )


asyncio.run(main())
