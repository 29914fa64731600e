//! Reason codes: the strings facilitators and servers use to say why a payment failed.
//!
//! [`Reason`] is an open enum of every reason string the protocol reference lists (the TypeScript
//! SDK's strings, which t402 emits, plus the spellings the Go and Python SDKs and the v1 spec use,
//! which t402 understands). A string it does not know is kept as it came in [`Reason::Other`].
//! Each known reason has a stable [`T402Code`] for logs and docs: `T402-1xxx` client, `2xxx`
//! server, `3xxx` facilitator checks, `4xxx` chain outcomes. The full table is in
//! `docs/src/reason-codes.md`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A stable number for a reason, written `T402-NNNN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct T402Code(pub u16);

/// Which side of a payment a code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodeCategory {
    /// 1xxx: the paying client.
    Client,
    /// 2xxx: the resource server's HTTP layer.
    Server,
    /// 3xxx: the facilitator's checks of a payment.
    Facilitator,
    /// 4xxx: what the chain said.
    Chain,
}

impl T402Code {
    /// The category from the thousands digit.
    pub fn category(self) -> Option<CodeCategory> {
        match self.0 / 1000 {
            1 => Some(CodeCategory::Client),
            2 => Some(CodeCategory::Server),
            3 => Some(CodeCategory::Facilitator),
            4 => Some(CodeCategory::Chain),
            _ => None,
        }
    }
}

impl fmt::Display for T402Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "T402-{:04}", self.0)
    }
}

/// One row of the reason table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReasonInfo {
    /// The wire string.
    pub text: &'static str,
    /// Its stable code.
    pub code: T402Code,
    /// What it means.
    pub description: &'static str,
}

macro_rules! reasons {
    ($( $variant:ident = ($text:literal, $code:literal, $doc:literal), )*) => {
        /// Why a payment was refused or failed. Known strings have a variant; anything else is
        /// kept in [`Reason::Other`].
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Reason {
            $(
                #[doc = concat!("`", $text, "`: ", $doc)]
                $variant,
            )*
            /// A reason string this version does not know, kept as it came.
            Other(String),
        }

        impl Reason {
            /// Every known reason, in code order.
            pub const TABLE: &'static [ReasonInfo] = &[
                $( ReasonInfo { text: $text, code: T402Code($code), description: $doc }, )*
            ];

            /// The wire string.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )*
                    Self::Other(text) => text,
                }
            }

            fn known(text: &str) -> Option<Self> {
                match text {
                    $( $text => Some(Self::$variant), )*
                    _ => None,
                }
            }

            fn known_code(&self) -> Option<T402Code> {
                match self {
                    $( Self::$variant => Some(T402Code($code)), )*
                    Self::Other(_) => None,
                }
            }
        }
    };
}

reasons! {
    // client (t402)
    T402MalformedChallenge = ("t402_malformed_challenge", 1001, "The 402 answer carried no PaymentRequired the client could decode."),
    T402NoAcceptableOffer = ("t402_no_acceptable_offer", 1002, "No offer of the challenge passed the registered mechanisms and the spending policy."),
    T402OverBudget = ("t402_over_budget", 1003, "Paying would exceed the client's spending limit."),
    T402SigningFailed = ("t402_signing_failed", 1004, "The client's signer could not sign the payment."),
    T402PaymentRefused = ("t402_payment_refused", 1005, "The server answered 402 again after the client paid."),
    T402PaymentAlreadyAttempted = ("t402_payment_already_attempted", 1006, "The request already carried a payment; the client does not pay twice."),
    // server (HTTP layer)
    PaymentRequiredText = ("Payment required", 2001, "The route is priced and the request carried no payment (PaymentRequired.error)."),
    NoMatchingRequirements = ("No matching payment requirements", 2002, "The payment's `accepted` matches none of the route's requirements."),
    SettlementFailedText = ("Settlement failed", 2003, "Default settlement failure text of the reference server."),
    BeforeVerifyHookError = ("before_verify_hook_error", 2004, "A before-verify hook failed."),
    BeforeSettleHookError = ("before_settle_hook_error", 2005, "A before-settle hook failed."),
    MissingScheme = ("missing_scheme", 2006, "A route names a scheme/network with no registered server mechanism."),
    MissingFacilitator = ("missing_facilitator", 2007, "A route names a scheme/network no facilitator supports."),
    PaymentRequired = ("payment_required", 2008, "Payment required (Go spelling)."),
    NoFacilitatorForNetwork = ("no_facilitator_for_network", 2009, "No facilitator serves the network (Go)."),
    InvalidResponse = ("invalid_response", 2010, "The facilitator's answer could not be read (Go)."),
    FailedToMarshalPayload = ("failed_to_marshal_payload", 2011, "The payload could not be encoded (Go)."),
    FailedToMarshalRequirements = ("failed_to_marshal_requirements", 2012, "The requirements could not be encoded (Go)."),
    T402FacilitatorUnavailable = ("t402_facilitator_unavailable", 2013, "The facilitator could not be reached or answered with an error."),
    T402FacilitatorTimeout = ("t402_facilitator_timeout", 2014, "The facilitator did not answer in time."),
    T402MalformedPaymentHeader = ("t402_malformed_payment_header", 2015, "The payment header is not standard padded base64 of a valid payment."),
    T402PaymentReplayed = ("t402_payment_replayed", 2016, "The payment was already presented to this server (replay guard)."),
    T402ResponseTooLarge = ("t402_response_too_large", 2017, "The handler's response exceeded the buffering limit, so it cannot be held until settlement."),
    T402SettlementStoreUnavailable = ("t402_settlement_store_unavailable", 2018, "The settlement store (replay guard) cannot be reached: paid requests are refused until it returns."),
    T402Unauthorized = ("t402_unauthorized", 2019, "The facilitator service needs a valid API key (`Authorization: Bearer <key>`)."),
    T402RateLimited = ("t402_rate_limited", 2020, "Too many requests for this API key: retry after the time `Retry-After` gives."),
    // facilitator: message checks
    InvalidX402Version = ("invalid_x402_version", 3001, "The protocol version is missing, malformed or unsupported."),
    InvalidPayload = ("invalid_payload", 3002, "The payment payload is malformed."),
    InvalidPayment = ("invalid_payment", 3003, "The payment is malformed."),
    InvalidPaymentRequirements = ("invalid_payment_requirements", 3004, "The payment requirements are malformed."),
    InvalidScheme = ("invalid_scheme", 3005, "The scheme is invalid."),
    InvalidNetwork = ("invalid_network", 3006, "The network is invalid."),
    UnsupportedScheme = ("unsupported_scheme", 3007, "No mechanism for the payment's scheme."),
    UnsupportedNetwork = ("unsupported_network", 3008, "No mechanism for the payment's network (Go)."),
    UnsupportedPayloadType = ("unsupported_payload_type", 3009, "The scheme payload has an unexpected shape."),
    InvalidVersion = ("invalid_version", 3010, "Invalid version (Go)."),
    SchemeMismatch = ("scheme_mismatch", 3011, "The payment's scheme differs from the requirements' (Go)."),
    NetworkMismatch = ("network_mismatch", 3012, "The payment's network differs from the requirements'."),
    SignatureInvalid = ("signature_invalid", 3013, "Invalid signature (Go)."),
    PaymentExpired = ("payment_expired", 3014, "The payment has expired."),
    InvalidV1Payload = ("invalid_v1_payload", 3015, "Malformed v1 payload (Go)."),
    InvalidV1Requirements = ("invalid_v1_requirements", 3016, "Malformed v1 requirements (Go)."),
    InvalidV2Payload = ("invalid_v2_payload", 3017, "Malformed v2 payload (Go)."),
    InvalidV2Requirements = ("invalid_v2_requirements", 3018, "Malformed v2 requirements (Go)."),
    UnexpectedVerifyError = ("unexpected_verify_error", 3019, "Verification failed unexpectedly."),
    UnexpectedSettleError = ("unexpected_settle_error", 3020, "Settlement failed unexpectedly."),
    VerificationFailed = ("verification_failed", 3021, "Verification failed (fallback)."),
    MissingEip712Domain = ("missing_eip712_domain", 3022, "The EIP-712 domain is missing (Python)."),
    // facilitator: EVM exact (EIP-3009)
    InvalidExactEvmScheme = ("invalid_exact_evm_scheme", 3101, "Scheme is not `exact`."),
    InvalidExactEvmNetworkMismatch = ("invalid_exact_evm_network_mismatch", 3102, "The payment's network differs from the requirements'."),
    InvalidExactEvmMissingEip712Domain = ("invalid_exact_evm_missing_eip712_domain", 3103, "`extra.name` or `extra.version` is missing."),
    InvalidExactEvmRecipientMismatch = ("invalid_exact_evm_recipient_mismatch", 3104, "The authorization's `to` is not the requirements' `payTo`."),
    InvalidExactEvmSignature = ("invalid_exact_evm_signature", 3105, "The signature does not verify for `from`."),
    InvalidExactEvmPayloadAuthorizationValidBefore = ("invalid_exact_evm_payload_authorization_valid_before", 3106, "`validBefore` is less than 6 seconds away (expired)."),
    InvalidExactEvmPayloadAuthorizationValidAfter = ("invalid_exact_evm_payload_authorization_valid_after", 3107, "`validAfter` is in the future."),
    InvalidExactEvmAuthorizationValue = ("invalid_exact_evm_authorization_value", 3108, "The authorized value is not exactly the required amount."),
    InvalidExactEvmPayloadUndeployedSmartWallet = ("invalid_exact_evm_payload_undeployed_smart_wallet", 3109, "A smart-wallet signature from an undeployed wallet with no ERC-6492 deployment data."),
    InvalidExactEvmPayloadAuthorizationValueMismatch = ("invalid_exact_evm_payload_authorization_value_mismatch", 3110, "Amount mismatch (spec, Go and Python spelling)."),
    InvalidExactEvmPayloadSignature = ("invalid_exact_evm_payload_signature", 3111, "Invalid signature (spec and Python spelling)."),
    InvalidExactEvmPayloadRecipientMismatch = ("invalid_exact_evm_payload_recipient_mismatch", 3112, "Recipient mismatch (spec and Python spelling)."),
    InvalidExactEvmPayloadAuthorizationValue = ("invalid_exact_evm_payload_authorization_value", 3113, "Amount mismatch (v1 spelling)."),
    InvalidExactEvmPayload = ("invalid_exact_evm_payload", 3114, "Malformed EVM payload (Go)."),
    InvalidExactEvmPayloadMissingSignature = ("invalid_exact_evm_payload_missing_signature", 3115, "The payload has no signature (Go)."),
    InvalidExactEvmFailedToGetNetworkConfig = ("invalid_exact_evm_failed_to_get_network_config", 3116, "No configuration for the network (Go)."),
    InvalidExactEvmRequiredAmount = ("invalid_exact_evm_required_amount", 3117, "The required amount is invalid (Go)."),
    InvalidExactEvmFailedToCheckNonce = ("invalid_exact_evm_failed_to_check_nonce", 3118, "The authorization nonce could not be read (Go)."),
    InvalidExactEvmFailedToGetBalance = ("invalid_exact_evm_failed_to_get_balance", 3119, "The payer's balance could not be read (Go)."),
    InvalidExactEvmSignatureFormat = ("invalid_exact_evm_signature_format", 3120, "The signature is not hex of a valid length (Go)."),
    InvalidExactEvmFailedToVerifySignature = ("invalid_exact_evm_failed_to_verify_signature", 3121, "The signature could not be checked (Go)."),
    InvalidExactEvmVerificationFailed = ("invalid_exact_evm_verification_failed", 3122, "Verification failed (Go)."),
    InvalidExactEvmFailedToParseSignature = ("invalid_exact_evm_failed_to_parse_signature", 3123, "The signature could not be parsed (Go)."),
    InvalidExactEvmFailedToCheckDeployment = ("invalid_exact_evm_failed_to_check_deployment", 3124, "The wallet's code could not be read (Go)."),
    InvalidExactEvmFailedToGetAssetInfo = ("invalid_exact_evm_failed_to_get_asset_info", 3125, "The token's details could not be read (Python)."),
    // facilitator: EVM Permit2
    InvalidPermit2Spender = ("invalid_permit2_spender", 3201, "The Permit2 spender is not the x402 proxy."),
    InvalidPermit2RecipientMismatch = ("invalid_permit2_recipient_mismatch", 3202, "The witness `to` is not the requirements' `payTo`."),
    Permit2DeadlineExpired = ("permit2_deadline_expired", 3203, "The Permit2 deadline is less than 6 seconds away."),
    Permit2NotYetValid = ("permit2_not_yet_valid", 3204, "The witness `validAfter` is in the future."),
    Permit2AmountMismatch = ("permit2_amount_mismatch", 3205, "The permitted amount is not exactly the required amount."),
    Permit2TokenMismatch = ("permit2_token_mismatch", 3206, "The permitted token is not the required asset."),
    InvalidPermit2Signature = ("invalid_permit2_signature", 3207, "The Permit2 signature does not verify."),
    InvalidPermit2PayloadFormat = ("invalid_permit2_payload_format", 3208, "Malformed Permit2 payload (Python)."),
    // facilitator: EVM gas-sponsoring extensions
    InvalidErc20ApprovalExtensionFormat = ("invalid_erc20_approval_extension_format", 3301, "Malformed ERC-20 approval extension."),
    Erc20ApprovalFromMismatch = ("erc20_approval_from_mismatch", 3302, "The approval's `from` is not the payer."),
    Erc20ApprovalAssetMismatch = ("erc20_approval_asset_mismatch", 3303, "The approval's asset is not the required asset."),
    Erc20ApprovalSpenderNotPermit2 = ("erc20_approval_spender_not_permit2", 3304, "The approval's spender is not Permit2."),
    Erc20ApprovalTxWrongTarget = ("erc20_approval_tx_wrong_target", 3305, "The approval transaction does not call the token."),
    Erc20ApprovalTxWrongSelector = ("erc20_approval_tx_wrong_selector", 3306, "The approval transaction is not `approve`."),
    Erc20ApprovalTxWrongSpender = ("erc20_approval_tx_wrong_spender", 3307, "The approval transaction approves another spender."),
    Erc20ApprovalTxInvalidCalldata = ("erc20_approval_tx_invalid_calldata", 3308, "The approval calldata cannot be decoded."),
    Erc20ApprovalTxSignerMismatch = ("erc20_approval_tx_signer_mismatch", 3309, "The approval transaction is not signed by the payer."),
    Erc20ApprovalTxInvalidSignature = ("erc20_approval_tx_invalid_signature", 3310, "The approval transaction's signature cannot be recovered."),
    Erc20ApprovalTxParseFailed = ("erc20_approval_tx_parse_failed", 3311, "The approval transaction is not a valid signed transaction."),
    InvalidEip2612ExtensionFormat = ("invalid_eip2612_extension_format", 3312, "Malformed EIP-2612 extension."),
    Eip2612FromMismatch = ("eip2612_from_mismatch", 3313, "The permit's owner is not the payer."),
    Eip2612AssetMismatch = ("eip2612_asset_mismatch", 3314, "The permit's token is not the required asset."),
    Eip2612SpenderNotPermit2 = ("eip2612_spender_not_permit2", 3315, "The permit's spender is not Permit2."),
    Eip2612DeadlineExpired = ("eip2612_deadline_expired", 3316, "The permit's deadline is less than 6 seconds away."),
    // facilitator: EVM upto
    InvalidUptoEvmScheme = ("invalid_upto_evm_scheme", 3401, "Scheme is not `upto`."),
    InvalidUptoEvmNetworkMismatch = ("invalid_upto_evm_network_mismatch", 3402, "The payment's network differs from the requirements'."),
    InvalidUptoEvmPayloadSettlementExceedsAmount = ("invalid_upto_evm_payload_settlement_exceeds_amount", 3403, "The settlement amount exceeds the authorized maximum."),
    UptoFacilitatorMismatch = ("upto_facilitator_mismatch", 3404, "The witness names a facilitator address this facilitator does not hold."),
    InvalidUptoEvmPayload = ("invalid_upto_evm_payload", 3405, "Malformed upto payload (Go)."),
    InvalidUptoEvmVerificationFailed = ("invalid_upto_evm_verification_failed", 3406, "Verification failed (Go)."),
    InvalidUptoEvmFailedToGetNetworkConfig = ("invalid_upto_evm_failed_to_get_network_config", 3407, "No configuration for the network (Go, Python)."),
    InvalidUptoEvmSignatureFormat = ("invalid_upto_evm_signature_format", 3408, "The signature is malformed (Go)."),
    InvalidUptoEvmRequiredAmount = ("invalid_upto_evm_required_amount", 3409, "The required amount is invalid (Go)."),
    // facilitator: SVM exact
    InvalidExactSvmPayloadMissingFeePayer = ("invalid_exact_svm_payload_missing_fee_payer", 3501, "`extra.feePayer` is missing."),
    FeePayerNotManagedByFacilitator = ("fee_payer_not_managed_by_facilitator", 3502, "`extra.feePayer` is not one of this facilitator's keys."),
    InvalidExactSvmPayloadTransactionCouldNotBeDecoded = ("invalid_exact_svm_payload_transaction_could_not_be_decoded", 3503, "The transaction is not base64 of a valid versioned transaction."),
    InvalidExactSvmPayloadTransactionInstructionsLength = ("invalid_exact_svm_payload_transaction_instructions_length", 3504, "The transaction does not have 3 to 6 instructions."),
    InvalidExactSvmPayloadTransactionInstructionsComputeLimitInstruction = ("invalid_exact_svm_payload_transaction_instructions_compute_limit_instruction", 3505, "Instruction 0 is not SetComputeUnitLimit."),
    InvalidExactSvmPayloadTransactionInstructionsComputePriceInstruction = ("invalid_exact_svm_payload_transaction_instructions_compute_price_instruction", 3506, "Instruction 1 is not SetComputeUnitPrice."),
    InvalidExactSvmPayloadTransactionInstructionsComputePriceInstructionTooHigh = ("invalid_exact_svm_payload_transaction_instructions_compute_price_instruction_too_high", 3507, "The compute unit price is above 5 lamports per unit."),
    InvalidExactSvmPayloadNoTransferInstruction = ("invalid_exact_svm_payload_no_transfer_instruction", 3508, "Instruction 2 is not a Token or Token-2022 TransferChecked."),
    InvalidExactSvmPayloadTransactionFeePayerTransferringFunds = ("invalid_exact_svm_payload_transaction_fee_payer_transferring_funds", 3509, "The fee payer is the transfer authority."),
    InvalidExactSvmPayloadMintMismatch = ("invalid_exact_svm_payload_mint_mismatch", 3510, "The transfer's mint is not the required asset."),
    InvalidExactSvmPayloadRecipientMismatch = ("invalid_exact_svm_payload_recipient_mismatch", 3511, "The destination is not the payee's associated token account."),
    InvalidExactSvmPayloadAmountMismatch = ("invalid_exact_svm_payload_amount_mismatch", 3512, "The transfer amount is not exactly the required amount."),
    InvalidExactSvmPayloadUnknownFourthInstruction = ("invalid_exact_svm_payload_unknown_fourth_instruction", 3513, "Instruction 3 is neither Memo nor Lighthouse."),
    InvalidExactSvmPayloadUnknownFifthInstruction = ("invalid_exact_svm_payload_unknown_fifth_instruction", 3514, "Instruction 4 is neither Memo nor Lighthouse."),
    InvalidExactSvmPayloadUnknownSixthInstruction = ("invalid_exact_svm_payload_unknown_sixth_instruction", 3515, "Instruction 5 is neither Memo nor Lighthouse."),
    InvalidExactSvmPayloadUnknownOptionalInstruction = ("invalid_exact_svm_payload_unknown_optional_instruction", 3516, "An optional instruction is neither Memo nor Lighthouse."),
    InvalidExactSvmPayloadMemoCount = ("invalid_exact_svm_payload_memo_count", 3517, "`extra.memo` is set but there is not exactly one Memo instruction."),
    InvalidExactSvmPayloadMemoMismatch = ("invalid_exact_svm_payload_memo_mismatch", 3518, "The Memo instruction's text differs from `extra.memo`."),
    InvalidExactSvmPayloadTransaction = ("invalid_exact_svm_payload_transaction", 3519, "The transaction is malformed."),
    InvalidExactSvmPayload = ("invalid_exact_svm_payload", 3520, "Malformed SVM payload (Python)."),
    InvalidExactSvmPayloadAmountInsufficient = ("invalid_exact_svm_payload_amount_insufficient", 3521, "The transfer amount is below the required amount (Python)."),
    InvalidExactSvmPayloadTransactionFeePayerIncludedInInstructionAccounts = ("invalid_exact_svm_payload_transaction_fee_payer_included_in_instruction_accounts", 3522, "The fee payer appears in an instruction's accounts."),
    InvalidExactSvmPayloadTransactionAmountMismatch = ("invalid_exact_svm_payload_transaction_amount_mismatch", 3523, "Amount mismatch (v1)."),
    InvalidExactSvmPayloadTransactionCreateAtaInstruction = ("invalid_exact_svm_payload_transaction_create_ata_instruction", 3524, "Invalid CreateATA instruction (v1)."),
    InvalidExactSvmPayloadTransactionCreateAtaInstructionIncorrectPayee = ("invalid_exact_svm_payload_transaction_create_ata_instruction_incorrect_payee", 3525, "CreateATA for another payee (v1)."),
    InvalidExactSvmPayloadTransactionCreateAtaInstructionIncorrectAsset = ("invalid_exact_svm_payload_transaction_create_ata_instruction_incorrect_asset", 3526, "CreateATA for another mint (v1)."),
    InvalidExactSvmPayloadTransactionInstructions = ("invalid_exact_svm_payload_transaction_instructions", 3527, "Unexpected instructions (v1)."),
    InvalidExactSvmPayloadTransactionInstructionNotSplTokenTransferChecked = ("invalid_exact_svm_payload_transaction_instruction_not_spl_token_transfer_checked", 3528, "Not an SPL Token TransferChecked (v1)."),
    InvalidExactSvmPayloadTransactionInstructionNotToken2022TransferChecked = ("invalid_exact_svm_payload_transaction_instruction_not_token_2022_transfer_checked", 3529, "Not a Token-2022 TransferChecked (v1)."),
    InvalidExactSvmPayloadTransactionNotATransferInstruction = ("invalid_exact_svm_payload_transaction_not_a_transfer_instruction", 3530, "Not a transfer instruction (v1)."),
    InvalidExactSvmPayloadTransactionReceiverAtaNotFound = ("invalid_exact_svm_payload_transaction_receiver_ata_not_found", 3531, "The payee's token account does not exist (v1)."),
    InvalidExactSvmPayloadTransactionSenderAtaNotFound = ("invalid_exact_svm_payload_transaction_sender_ata_not_found", 3532, "The payer's token account does not exist (v1)."),
    InvalidExactSvmPayloadTransactionTransferToIncorrectAta = ("invalid_exact_svm_payload_transaction_transfer_to_incorrect_ata", 3533, "The transfer goes to another token account (v1)."),
    InvalidExactSolanaFeePayerMismatch = ("invalid_exact_solana_fee_payer_mismatch", 3534, "The transaction's fee payer is not `extra.feePayer`."),
    T402SvmMintExtensionRefused = ("t402_svm_mint_extension_refused", 3535, "The Token-2022 mint has an extension through which the payee could receive less than the price or lose the payment later (transfer fee, permanent delegate, transfer hook)."),
    // facilitator: SVM exact, Go spellings
    InvalidExactSolanaPayloadMissingFeePayer = ("invalid_exact_solana_payload_missing_fee_payer", 3601, "`extra.feePayer` is missing. (Go spelling)"),
    InvalidExactSolanaPayloadTransactionCouldNotBeDecoded = ("invalid_exact_solana_payload_transaction_could_not_be_decoded", 3602, "The transaction is not base64 of a valid versioned transaction. (Go spelling)"),
    InvalidExactSolanaPayloadTransactionInstructionsLength = ("invalid_exact_solana_payload_transaction_instructions_length", 3603, "The transaction does not have 3 to 6 instructions. (Go spelling)"),
    InvalidExactSolanaPayloadTransactionInstructionsComputeLimitInstruction = ("invalid_exact_solana_payload_transaction_instructions_compute_limit_instruction", 3604, "Instruction 0 is not SetComputeUnitLimit. (Go spelling)"),
    InvalidExactSolanaPayloadTransactionInstructionsComputePriceInstruction = ("invalid_exact_solana_payload_transaction_instructions_compute_price_instruction", 3605, "Instruction 1 is not SetComputeUnitPrice. (Go spelling)"),
    InvalidExactSolanaPayloadTransactionInstructionsComputePriceInstructionTooHigh = ("invalid_exact_solana_payload_transaction_instructions_compute_price_instruction_too_high", 3606, "The compute unit price is above 5 lamports per unit. (Go spelling)"),
    InvalidExactSolanaPayloadNoTransferInstruction = ("invalid_exact_solana_payload_no_transfer_instruction", 3607, "Instruction 2 is not a Token or Token-2022 TransferChecked. (Go spelling)"),
    InvalidExactSolanaPayloadTransactionFeePayerTransferringFunds = ("invalid_exact_solana_payload_transaction_fee_payer_transferring_funds", 3608, "The fee payer is the transfer authority. (Go spelling)"),
    InvalidExactSolanaPayloadMintMismatch = ("invalid_exact_solana_payload_mint_mismatch", 3609, "The transfer's mint is not the required asset. (Go spelling)"),
    InvalidExactSolanaPayloadRecipientMismatch = ("invalid_exact_solana_payload_recipient_mismatch", 3610, "The destination is not the payee's associated token account. (Go spelling)"),
    InvalidExactSolanaPayloadAmountMismatch = ("invalid_exact_solana_payload_amount_mismatch", 3611, "The transfer amount is not exactly the required amount. (Go spelling)"),
    InvalidExactSolanaPayloadUnknownFourthInstruction = ("invalid_exact_solana_payload_unknown_fourth_instruction", 3612, "Instruction 3 is neither Memo nor Lighthouse. (Go spelling)"),
    InvalidExactSolanaPayloadUnknownFifthInstruction = ("invalid_exact_solana_payload_unknown_fifth_instruction", 3613, "Instruction 4 is neither Memo nor Lighthouse. (Go spelling)"),
    InvalidExactSolanaPayloadUnknownSixthInstruction = ("invalid_exact_solana_payload_unknown_sixth_instruction", 3614, "Instruction 5 is neither Memo nor Lighthouse. (Go spelling)"),
    InvalidExactSolanaPayloadUnknownOptionalInstruction = ("invalid_exact_solana_payload_unknown_optional_instruction", 3615, "An optional instruction is neither Memo nor Lighthouse. (Go spelling)"),
    InvalidExactSolanaPayloadMemoCount = ("invalid_exact_solana_payload_memo_count", 3616, "`extra.memo` is set but there is not exactly one Memo instruction. (Go spelling)"),
    InvalidExactSolanaPayloadMemoMismatch = ("invalid_exact_solana_payload_memo_mismatch", 3617, "The Memo instruction's text differs from `extra.memo`. (Go spelling)"),
    InvalidExactSolanaUnsupportedScheme = ("invalid_exact_solana_unsupported_scheme", 3618, "Unsupported scheme (Go)."),
    InvalidExactSolanaNetworkMismatch = ("invalid_exact_solana_network_mismatch", 3619, "Network mismatch (Go)."),
    InvalidExactSolanaFeePayerNotManagedByFacilitator = ("invalid_exact_solana_fee_payer_not_managed_by_facilitator", 3620, "Fee payer not held by the facilitator (Go)."),
    InvalidExactSolanaPayloadTransaction = ("invalid_exact_solana_payload_transaction", 3621, "Malformed transaction (Go)."),
    InvalidExactSolanaPayloadAmountInsufficient = ("invalid_exact_solana_payload_amount_insufficient", 3622, "Transfer amount below the requirement (Go)."),
    InvalidExactSolanaInvalidFeePayer = ("invalid_exact_solana_invalid_fee_payer", 3623, "Invalid fee payer (Go)."),
    InvalidExactSolanaVerificationFailed = ("invalid_exact_solana_verification_failed", 3624, "Verification failed (Go)."),
    // chain: EVM
    InsufficientFunds = ("insufficient_funds", 4001, "The payer's balance is below the amount."),
    InvalidTransactionState = ("invalid_transaction_state", 4002, "The transaction did not succeed on chain."),
    InvalidExactEvmTransactionFailed = ("invalid_exact_evm_transaction_failed", 4003, "The settlement transaction failed or reverted (may carry `: <detail>`)."),
    InvalidExactEvmTokenNameMismatch = ("invalid_exact_evm_token_name_mismatch", 4004, "The token's `name()` differs from `extra.name`."),
    InvalidExactEvmTokenVersionMismatch = ("invalid_exact_evm_token_version_mismatch", 4005, "The token's `version()` differs from `extra.version`."),
    InvalidExactEvmEip3009NotSupported = ("invalid_exact_evm_eip3009_not_supported", 4006, "The token does not implement EIP-3009."),
    InvalidExactEvmNonceAlreadyUsed = ("invalid_exact_evm_nonce_already_used", 4007, "The authorization nonce was already used or cancelled."),
    InvalidExactEvmInsufficientBalance = ("invalid_exact_evm_insufficient_balance", 4008, "The payer's token balance is below the amount."),
    InvalidExactEvmTransactionSimulationFailed = ("invalid_exact_evm_transaction_simulation_failed", 4009, "Simulating the transfer failed for another reason."),
    InvalidExactEvmFailedToExecuteTransfer = ("invalid_exact_evm_failed_to_execute_transfer", 4010, "The transfer could not be sent (Go)."),
    InvalidExactEvmFailedToGetReceipt = ("invalid_exact_evm_failed_to_get_receipt", 4011, "The receipt could not be read (Go)."),
    SmartWalletDeploymentFailed = ("smart_wallet_deployment_failed", 4012, "Deploying the ERC-6492 smart wallet failed."),
    SettlementFailed = ("settlement_failed", 4013, "Settlement failed (Go)."),
    TransactionFailed = ("transaction_failed", 4014, "The transaction failed (Python EVM, TS SVM)."),
    // chain: EVM Permit2 and extensions
    Permit2AllowanceRequired = ("permit2_allowance_required", 4101, "The payer has not approved Permit2 for the amount (HTTP 412)."),
    Permit2SimulationFailed = ("permit2_simulation_failed", 4102, "Simulating the Permit2 settlement failed."),
    Permit2InsufficientBalance = ("permit2_insufficient_balance", 4103, "The payer's token balance is below the amount."),
    Permit2ProxyNotDeployed = ("permit2_proxy_not_deployed", 4104, "The x402 Permit2 proxy is not deployed on this chain."),
    Permit2InvalidAmount = ("permit2_invalid_amount", 4105, "The proxy reverted: amount is zero."),
    Permit2InvalidDestination = ("permit2_invalid_destination", 4106, "The proxy reverted: zero recipient."),
    Permit2InvalidOwner = ("permit2_invalid_owner", 4107, "The proxy reverted: zero owner."),
    Permit2PaymentTooEarly = ("permit2_payment_too_early", 4108, "The proxy reverted: before `validAfter`."),
    Permit2InvalidNonce = ("permit2_invalid_nonce", 4109, "Permit2 reverted: nonce already used."),
    Permit22612AmountMismatch = ("permit2_2612_amount_mismatch", 4110, "The EIP-2612 permit value differs from the permitted amount."),
    Erc20ApprovalTxFailed = ("erc20_approval_tx_failed", 4111, "The sponsored approval transaction failed."),
    Erc20ApprovalInsufficientEthForGas = ("erc20_approval_insufficient_eth_for_gas", 4112, "The payer cannot fund the approval's gas (Go)."),
    Erc20ApprovalBroadcastFailed = ("erc20_approval_broadcast_failed", 4113, "The approval transaction could not be broadcast (Go, Python)."),
    // chain: EVM upto
    UptoAmountExceedsPermitted = ("upto_amount_exceeds_permitted", 4201, "The proxy reverted: amount above the permitted maximum."),
    UptoUnauthorizedFacilitator = ("upto_unauthorized_facilitator", 4202, "The proxy reverted: sender is not the witness facilitator."),
    InvalidUptoEvmFailedToGetReceipt = ("invalid_upto_evm_failed_to_get_receipt", 4203, "The receipt could not be read (Go)."),
    InvalidUptoEvmTransactionFailed = ("invalid_upto_evm_transaction_failed", 4204, "The settlement transaction failed (Go, Python)."),
    // chain: SVM
    TransactionSimulationFailed = ("transaction_simulation_failed", 4301, "Simulating the transaction failed."),
    DuplicateSettlement = ("duplicate_settlement", 4302, "This transaction is already being or has been settled."),
    SettleExactSvmBlockHeightExceeded = ("settle_exact_svm_block_height_exceeded", 4303, "The blockhash expired before confirmation (v1)."),
    SettleExactSvmTransactionConfirmationTimedOut = ("settle_exact_svm_transaction_confirmation_timed_out", 4304, "Confirmation timed out (v1)."),
    InvalidExactSvmPayloadTransactionSimulationFailed = ("invalid_exact_svm_payload_transaction_simulation_failed", 4305, "Simulation failed (v1)."),
    InvalidExactSolanaTransactionSigningFailed = ("invalid_exact_solana_transaction_signing_failed", 4306, "The fee payer could not sign (Go)."),
    InvalidExactSolanaTransactionSimulationFailed = ("invalid_exact_solana_transaction_simulation_failed", 4307, "Simulation failed (Go)."),
    InvalidExactSolanaTransactionFailed = ("invalid_exact_solana_transaction_failed", 4308, "The transaction failed (Go)."),
    InvalidExactSolanaTransactionConfirmationFailed = ("invalid_exact_solana_transaction_confirmation_failed", 4309, "Confirmation failed (Go)."),
}

impl Reason {
    /// Reads a reason string: a known one becomes its variant, anything else [`Reason::Other`].
    pub fn parse(text: &str) -> Self {
        Self::known(text).unwrap_or_else(|| Self::Other(text.to_owned()))
    }

    /// The stable code. Strings of the form `known_reason: detail` (as some facilitators send)
    /// get the known reason's code.
    pub fn code(&self) -> Option<T402Code> {
        self.known_code().or_else(|| match self {
            Self::Other(text) => text
                .split_once(": ")
                .and_then(|(head, _)| Self::known(head))
                .and_then(|known| known.known_code()),
            _ => None,
        })
    }

    /// Whether this is a known reason (not [`Reason::Other`]).
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Other(_))
    }

    /// The row of the table for a known reason.
    pub fn info(&self) -> Option<&'static ReasonInfo> {
        let code = self.known_code()?;
        Self::TABLE.iter().find(|row| row.code == code)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Reason {
    fn from(text: &str) -> Self {
        Self::parse(text)
    }
}

impl From<String> for Reason {
    fn from(text: String) -> Self {
        Self::known(&text).unwrap_or(Self::Other(text))
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from)
    }
}

/// The reason table as a Markdown page (the content of `docs/src/reason-codes.md`).
pub fn reason_table_markdown() -> String {
    let mut out = String::from(
        "# Reason codes\n\n\
         Facilitators and servers say why a payment failed with a reason string (`invalidReason`, \
         `errorReason`, `PaymentRequired.error`). t402 emits the TypeScript reference SDK's strings \
         and understands the Go, Python and v1 spellings too; an unknown string is kept as it came. \
         Every known string has a stable code for logs and support: `T402-1xxx` client, \
         `T402-2xxx` server, `T402-3xxx` facilitator checks, `T402-4xxx` chain outcomes. \
         A string of the form `known_reason: detail` carries the known reason's code.\n\n\
         This page is generated from `t402_core::Reason::TABLE`; a test fails when it is out of date \
         (regenerate with `T402_BLESS=1 cargo test -p t402-core --test reason_docs`).\n\n\
         | code | reason | meaning |\n|---|---|---|\n",
    );
    for row in Reason::TABLE {
        out.push_str(&format!(
            "| {} | `{}` | {} |\n",
            row.code,
            row.text,
            row.description.replace('|', "\\|")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn table_is_consistent() {
        let mut texts = HashSet::new();
        let mut codes = HashSet::new();
        let mut previous = 0;
        for row in Reason::TABLE {
            assert!(texts.insert(row.text), "duplicate text {}", row.text);
            assert!(codes.insert(row.code), "duplicate code {}", row.code);
            assert!(row.code.0 > previous, "codes out of order at {}", row.code);
            previous = row.code.0;
            assert!(row.code.category().is_some());
            let reason = Reason::parse(row.text);
            assert!(reason.is_known());
            assert_eq!(reason.as_str(), row.text);
            assert_eq!(reason.code(), Some(row.code));
            assert_eq!(reason.info(), Some(row));
        }
        assert!(Reason::TABLE.len() > 190);
    }

    #[test]
    fn categories_follow_the_numbering() {
        assert_eq!(
            Reason::T402OverBudget.code().unwrap().category(),
            Some(CodeCategory::Client)
        );
        assert_eq!(
            Reason::NoMatchingRequirements.code().unwrap().category(),
            Some(CodeCategory::Server)
        );
        assert_eq!(
            Reason::InvalidExactEvmSignature.code().unwrap().category(),
            Some(CodeCategory::Facilitator)
        );
        assert_eq!(
            Reason::InvalidExactEvmInsufficientBalance
                .code()
                .unwrap()
                .category(),
            Some(CodeCategory::Chain)
        );
        assert_eq!(
            Reason::InsufficientFunds.code().unwrap().to_string(),
            "T402-4001"
        );
    }

    #[test]
    fn unknown_strings_are_kept() {
        let reason = Reason::parse("some_new_reason");
        assert_eq!(reason, Reason::Other("some_new_reason".into()));
        assert_eq!(reason.code(), None);
        let json = serde_json::to_string(&reason).unwrap();
        assert_eq!(json, "\"some_new_reason\"");
        assert_eq!(serde_json::from_str::<Reason>(&json).unwrap(), reason);
    }

    #[test]
    fn prefixed_strings_get_the_prefix_code() {
        let reason = Reason::parse("invalid_exact_evm_transaction_failed: execution reverted");
        assert!(!reason.is_known());
        assert_eq!(
            reason.code(),
            Reason::InvalidExactEvmTransactionFailed.code()
        );
        assert_eq!(
            reason.as_str(),
            "invalid_exact_evm_transaction_failed: execution reverted"
        );
    }

    #[test]
    fn reference_strings_round_trip() {
        for text in [
            "Payment required",
            "permit2_allowance_required",
            "duplicate_settlement",
        ] {
            let reason: Reason = serde_json::from_value(serde_json::json!(text)).unwrap();
            assert!(reason.is_known());
            assert_eq!(
                serde_json::to_value(&reason).unwrap(),
                serde_json::json!(text)
            );
        }
    }
}
