"""A FastMCP server (MCP Python SDK) whose `get_weather` tool is wrapped with the x402 Python
reference's payment wrapper (`x402.mcp.server.create_payment_wrapper`), served over stdio.

Verification and settlement go through the facilitator at T402_FACILITATOR_URL. The tool costs
10000 atomic units of T402_TOKEN (an EIP-3009 token named "USD Coin", version "2") on
T402_NETWORK, paid to T402_PAY_TO.
"""

import os

from mcp.server.fastmcp import FastMCP
from x402 import x402ResourceServer
from x402.http import FacilitatorConfig, HTTPFacilitatorClient
from x402.mcp.server import create_payment_wrapper
from x402.mechanisms.evm.exact import ExactEvmServerScheme
from x402.schemas import AssetAmount, ResourceConfig, ResourceInfo

network = os.environ["T402_NETWORK"]
resource_server = x402ResourceServer(
    HTTPFacilitatorClient(FacilitatorConfig(url=os.environ["T402_FACILITATOR_URL"]))
)
resource_server.register(network, ExactEvmServerScheme())
resource_server.initialize()
accepts = resource_server.build_payment_requirements(
    ResourceConfig(
        scheme="exact",
        network=network,
        pay_to=os.environ["T402_PAY_TO"],
        price=AssetAmount(
            amount="10000",
            asset=os.environ["T402_TOKEN"],
            extra={"name": "USD Coin", "version": "2"},
        ),
        max_timeout_seconds=60,
    )
)

mcp = FastMCP("weather")
paid = create_payment_wrapper(
    resource_server,
    accepts=accepts,
    resource=ResourceInfo(url="mcp://tool/get_weather", description="The weather in Paris"),
)


@mcp.tool(name="get_weather", description="The weather in Paris")
@paid
async def get_weather() -> str:
    return "Paris: sunny, 21 °C"


if __name__ == "__main__":
    mcp.run()
