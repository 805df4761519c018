// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConcordCertificate} from "./ConcordCertificate.sol";

/// @title ConcordAnswers
/// @notice An example consumer: a contract asks a question, and takes as its answer the first
/// output that a Concord committee certifies for it (spec/11-certificate.md, "Consumers").
/// @dev It stores the registry root (32 bytes), not the registry. It trusts nobody to name the
/// request: `ask` fixes the entropy (the previous block's hash) that the request must carry, so
/// the committee — drawn from the request id, which hashes the entropy — is one nobody chose.
/// One answer per question, the first certificate that verifies: Concord's inclusion rule.
contract ConcordAnswers {
    bytes32 public immutable registryRoot;
    /// keccak256 of the model id the contract accepts answers from.
    bytes32 public immutable modelHash;
    /// The smallest threshold k it accepts (certificates prove k members signed; k is the request's).
    uint256 public immutable minK;

    /// Question (keccak256 of the input) => the entropy its request must carry.
    mapping(bytes32 => bytes32) public entropyOf;
    /// Question => the agreed output's hash (H("concord/output", output)), once answered.
    mapping(bytes32 => bytes32) public answerOf;

    event Asked(bytes32 indexed question, bytes32 entropy, string input);
    event Answered(bytes32 indexed question, bytes32 indexed requestId, bytes32 outputHash, bytes output);

    error AlreadyAsked(bytes32 question);
    error NotAsked(bytes32 question);
    error WrongEntropy(bytes32 question, bytes32 entropy);
    error WrongModel(bytes32 modelHash);
    error ThresholdTooLow(uint256 k);
    error AlreadyAnswered(bytes32 question);

    constructor(bytes32 registryRoot_, bytes32 modelHash_, uint256 minK_) {
        registryRoot = registryRoot_;
        modelHash = modelHash_;
        minK = minK_;
    }

    /// @notice Asks a question; the sequencer builds the request with the returned entropy.
    function ask(string calldata input) external returns (bytes32 entropy) {
        bytes32 question = keccak256(bytes(input));
        if (entropyOf[question] != 0) revert AlreadyAsked(question);
        entropy = blockhash(block.number - 1);
        entropyOf[question] = entropy;
        emit Asked(question, entropy, input);
    }

    /// @notice Checks a certificate against the stored registry root; reverts if it is invalid.
    function verify(ConcordCertificate.Certificate calldata certificate) external view returns (ConcordCertificate.Verified memory) {
        return ConcordCertificate.verify(certificate, registryRoot);
    }

    /// @notice Records the certified answer to a question asked here.
    function settle(ConcordCertificate.Certificate calldata certificate) external returns (bytes32 outputHash) {
        ConcordCertificate.Verified memory verified = ConcordCertificate.verify(certificate, registryRoot);
        bytes32 question = verified.inputHash;
        bytes32 entropy = entropyOf[question];
        if (entropy == 0) revert NotAsked(question);
        if (verified.entropy != entropy) revert WrongEntropy(question, verified.entropy);
        if (verified.modelHash != modelHash) revert WrongModel(verified.modelHash);
        if (verified.k < minK) revert ThresholdTooLow(verified.k);
        if (answerOf[question] != 0) revert AlreadyAnswered(question);
        outputHash = verified.outputHash;
        answerOf[question] = outputHash;
        emit Answered(question, verified.requestId, outputHash, certificate.output);
    }
}
