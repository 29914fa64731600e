// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

/// @title t402 test wallet
/// @notice A minimal ERC-1271 contract wallet with one owner. Its signatures are 66 bytes: a type
/// byte 0x01 followed by the owner's 65-byte ECDSA signature (r, s, v) over the hash, so they are
/// never mistaken for a plain EOA signature.
contract T402TestWallet {
    address public immutable owner;
    uint256 private constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    constructor(address owner_) {
        owner = owner_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        if (signature.length != 66 || signature[0] != 0x01) {
            return 0xffffffff;
        }
        bytes32 r = bytes32(signature[1:33]);
        bytes32 s = bytes32(signature[33:65]);
        uint8 v = uint8(signature[65]);
        if (uint256(s) > HALF_ORDER || ecrecover(hash, v, r, s) != owner) {
            return 0xffffffff;
        }
        return 0x1626ba7e;
    }

    /// Lets the owner move tokens or call anything else from the wallet.
    function execute(address target, bytes calldata data) external returns (bytes memory) {
        require(msg.sender == owner, "T402TestWallet: caller is not the owner");
        (bool ok, bytes memory result) = target.call(data);
        require(ok, "T402TestWallet: call failed");
        return result;
    }
}

/// @title t402 test wallet factory
/// @notice Deploys wallets at CREATE2 addresses, for ERC-6492 signatures of wallets not yet
/// deployed.
contract T402TestWalletFactory {
    event Deployed(address wallet, address owner, bytes32 salt);

    function deploy(address owner, bytes32 salt) external returns (address wallet) {
        wallet = address(new T402TestWallet{salt: salt}(owner));
        emit Deployed(wallet, owner, salt);
    }

    function addressOf(address owner, bytes32 salt) external view returns (address) {
        bytes32 codeHash = keccak256(abi.encodePacked(type(T402TestWallet).creationCode, abi.encode(owner)));
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, codeHash)))));
    }
}
