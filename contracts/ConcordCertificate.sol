// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ConcordCertificate
/// @notice Verifies a Concord certificate (spec/11-certificate.md): k members of the committee
/// drawn for a request each signed a vote whose output is exactly `certificate.output`.
/// @dev Mirrors `verifyCertificate` in src/cert/verify.ts check for check; both run on
/// spec/vectors/certificates.json. A consumer stores one registry root (32 bytes) and calls
/// `verify`. Nodes sign Concord's own signing roots over canonical CBOR (04-signing.md), so the
/// library rebuilds those bytes: no new signature, no new trust. The hot loops (members, draw,
/// votes) are assembly over calldata and scratch memory: Solidity's bounds-checked slices cost
/// several times more there (measured: bench/certificate.bench.ts). Needs evmVersion cancun or
/// later (MCOPY); the tests compile it for prague.
library ConcordCertificate {
    /// One supporter's vote: its member index, what its signed message needs, and (r, s, v).
    struct Vote {
        uint256 member;
        bytes32 salt;
        bytes evidence;
        bytes32 r;
        bytes32 s;
        uint8 v;
    }

    struct Certificate {
        /// Canonical CBOR of the request without its signature; sha256-tagged, it is the id.
        bytes request;
        /// Every registry member in id order: u32be(weight) || signer(20) || u8(len id) || id.
        bytes members;
        /// The agreed output, UTF-8.
        bytes output;
        /// At least k votes, in strictly ascending member order.
        Vote[] votes;
    }

    /// What a verified certificate establishes.
    struct Verified {
        bytes32 requestId;
        /// H("concord/output", output), SHA-256 as in 03-encoding.md.
        bytes32 outputHash;
        bool direct;
        uint256 n;
        uint256 k;
        /// The policy id's bytes, left-aligned (`bytes32("exact")`).
        bytes32 policyId;
        uint256 policyVersion;
        /// keccak256 of the model id and of the input.
        bytes32 modelHash;
        bytes32 inputHash;
        bytes32 entropy;
        uint256 deadline;
        uint256 signers;
    }

    /// CERT_INVALID: the request body, the member list or a vote's member index is malformed.
    error CertificateInvalid();
    /// REGISTRY_MISMATCH: the members and the request's chain do not hash to the registry root.
    error RegistryMismatch();
    /// REQUEST_INVALID: the threshold rule fails, or the committee is larger than the registry.
    error RequestInvalid();
    /// POLICY_MISMATCH: fewer than k votes.
    error TooFewVotes();
    /// DUPLICATE: vote `vote` does not come strictly after the previous vote's member.
    error DuplicateVote(uint256 vote);
    /// NOT_IN_COMMITTEE: vote `vote`'s member was not drawn for this request.
    error NotInCommittee(uint256 vote);
    /// SIG_INVALID: vote `vote` is not its member's low-s signature on this request and output.
    error SigInvalid(uint256 vote);

    uint256 private constant HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    uint256 private constant MAX_COMMITTEE = 64;
    /// len(tag) || tag, left-aligned, for the committee draw's hash.
    bytes18 private constant COMMITTEE_TAG = hex"11636f6e636f72642f636f6d6d6974746565";

    /// The member list read: weights (zeroed by the draw for drawn members), entry offsets, the
    /// Fenwick tree of the weights, total weight, Merkle root.
    struct Members {
        uint256[] weights;
        uint256[] offsets;
        uint256[] tree;
        uint256 total;
        bytes32 root;
    }

    /// What every vote's signed message shares, built once per certificate.
    struct Context {
        bytes32 requestId;
        bool direct;
        /// 0x85 "concord/sig" 1 kind chain: the signing preimage up to the body's head.
        bytes sigPrefix;
        /// The body's fields before the node id's text (after the map head).
        bytes bodyStart;
        /// The body's fields after the node id: chain, [output,] request, [the commitment's key].
        bytes bodyMiddle;
        /// Commit-reveal: len(tag) "concord/payload" {output: …, evidence: — up to the evidence.
        bytes payloadPrefix;
        /// Commit-reveal: the payload hash of a vote without evidence (evidence null).
        bytes32 nullPayloadHash;
    }

    /// @notice Verifies `certificate` against `registryRoot`; reverts with the first failed check.
    function verify(Certificate calldata certificate, bytes32 registryRoot) internal view returns (Verified memory out) {
        (uint256 chainStart, uint256 chainEnd) = _readRequest(certificate.request, out);
        bytes calldata chain = certificate.request[chainStart:chainEnd];

        Members memory members = _readMembers(certificate.members);
        // [REJECT] The members and the request's chain hash to the registry root.
        if (_registryRoot(chain, members.weights.length, members.root) != registryRoot) revert RegistryMismatch();
        // [REJECT] The threshold rule, and a committee the registry can fill.
        if (out.n < 1 || out.n > MAX_COMMITTEE || 2 * out.k <= out.n || out.k > out.n) revert RequestInvalid();
        if (out.n > members.weights.length) revert RequestInvalid();
        // [REJECT] At least k votes.
        if (certificate.votes.length < out.k) revert TooFewVotes();

        _draw(members, out.requestId, out.n);

        out.outputHash = sha256(abi.encodePacked(uint8(14), "concord/output", certificate.output));
        _checkVotes(certificate, members, _context(out, chain, certificate.output));
        out.signers = certificate.votes.length;
    }

    // ------------------------------------------------------------------ votes

    function _context(Verified memory out, bytes calldata chain, bytes calldata output) private pure returns (Context memory c) {
        c.requestId = out.requestId;
        c.direct = out.direct;
        bytes memory chainItem = abi.encodePacked(_head(3, chain.length), chain);
        bytes memory outputItem = abi.encodePacked(_head(3, output.length), output);
        if (out.direct) {
            // SignedOutput body keys: t, v, node, chain, output, request, [evidence].
            c.sigPrefix = abi.encodePacked(hex"856b636f6e636f72642f73696701", hex"666f7574707574", chainItem);
            c.bodyStart = abi.encodePacked(hex"6174", hex"666f7574707574", hex"617601", hex"646e6f6465");
            c.bodyMiddle = abi.encodePacked(hex"65636861696e", chainItem, hex"666f7574707574", outputItem, hex"67726571756573745820", out.requestId);
        } else {
            // OutputCommitment body keys: t, v, node, chain, request, commitment.
            c.sigPrefix = abi.encodePacked(hex"856b636f6e636f72642f73696701", hex"6a636f6d6d69746d656e74", chainItem);
            c.bodyStart = abi.encodePacked(hex"6174", hex"6a636f6d6d69746d656e74", hex"617601", hex"646e6f6465");
            c.bodyMiddle = abi.encodePacked(hex"65636861696e", chainItem, hex"67726571756573745820", out.requestId, hex"6a636f6d6d69746d656e745820");
            // Payload {output, evidence}: "output" sorts first (shorter key).
            c.payloadPrefix = abi.encodePacked(hex"0f636f6e636f72642f7061796c6f6164", hex"a2666f7574707574", outputItem, hex"6865766964656e6365");
            c.nullPayloadHash = sha256(abi.encodePacked(c.payloadPrefix, hex"f6"));
        }
    }

    function _checkVotes(Certificate calldata certificate, Members memory members, Context memory context) private view {
        uint256[] memory weights = members.weights;
        uint256 count = certificate.votes.length;
        uint256 previous;
        for (uint256 j; j < count; ++j) {
            Vote calldata vote = certificate.votes[j];
            uint256 m = vote.member;
            if (m >= weights.length) revert CertificateInvalid();
            // [REJECT] Strictly ascending members: one vote per member.
            if (j > 0 && m <= previous) revert DuplicateVote(j);
            previous = m;
            // [REJECT] Drawn for this request (the draw zeroed its weight; registry weights are >= 1).
            if (weights[m] != 0) revert NotInCommittee(j);
            // [REJECT] v is 27 or 28 and s is low: one signature per vote (04-signing.md).
            uint8 v = vote.v;
            if ((v != 27 && v != 28) || uint256(vote.s) > HALF_ORDER) revert SigInvalid(j);
            (address signer, uint256 idOffset, uint256 idLength) = _member(certificate.members, members.offsets[m]);
            // [REJECT] The member has an on-chain key, and ecrecover of its signed root gives it.
            if (signer == address(0)) revert SigInvalid(j);
            bytes32 signed = _voteRoot(context, idOffset, idLength, vote);
            if (ecrecover(signed, v, vote.r, vote.s) != signer) revert SigInvalid(j);
        }
    }

    /// The signer of the entry at offset `p`, and its id's calldata span.
    function _member(bytes calldata members, uint256 p) private pure returns (address signer, uint256 idOffset, uint256 idLength) {
        assembly ("memory-safe") {
            let at := add(members.offset, p)
            signer := shr(96, calldataload(add(at, 4)))
            idLength := byte(0, calldataload(add(at, 24)))
            idOffset := add(at, 25)
        }
    }

    /// The vote's signing root: its OutputCommitment (commitment rebuilt from output, evidence and
    /// salt) or its SignedOutput, built in scratch memory past the free memory pointer.
    function _voteRoot(Context memory c, uint256 idOffset, uint256 idLength, Vote calldata vote) private view returns (bytes32 root) {
        bytes calldata evidence = vote.evidence;
        bool direct = c.direct;
        bytes32 commitment;
        if (!direct) {
            bytes32 payloadHash = c.nullPayloadHash;
            bytes32 requestId = c.requestId;
            bytes32 salt = vote.salt;
            bytes memory payloadPrefix = c.payloadPrefix;
            assembly ("memory-safe") {
                let scratch := mload(0x40)
                if evidence.length {
                    let prefixLength := mload(payloadPrefix)
                    mcopy(scratch, add(payloadPrefix, 32), prefixLength)
                    calldatacopy(add(scratch, prefixLength), evidence.offset, evidence.length)
                    if iszero(staticcall(gas(), 2, scratch, add(prefixLength, evidence.length), 0, 32)) { revert(0, 0) }
                    payloadHash := mload(0)
                }
                // len(tag) "concord/commitment" || request id || u8(len id) || id || payload hash || salt
                mstore(scratch, 0x12636f6e636f72642f636f6d6d69746d656e7400000000000000000000000000)
                mstore(add(scratch, 19), requestId)
                mstore8(add(scratch, 51), idLength)
                calldatacopy(add(scratch, 52), idOffset, idLength)
                let at := add(add(scratch, 52), idLength)
                mstore(at, payloadHash)
                mstore(add(at, 32), salt)
                if iszero(staticcall(gas(), 2, scratch, add(116, idLength), 0, 32)) { revert(0, 0) }
                commitment := mload(0)
            }
        }
        bytes memory sigPrefix = c.sigPrefix;
        bytes memory bodyStart = c.bodyStart;
        bytes memory bodyMiddle = c.bodyMiddle;
        assembly ("memory-safe") {
            function writeHead(p, major, length) -> q {
                let m := shl(5, major)
                switch lt(length, 24)
                case 1 {
                    mstore8(p, or(m, length))
                    q := add(p, 1)
                }
                default {
                    switch lt(length, 256)
                    case 1 {
                        mstore8(p, or(m, 24))
                        mstore8(add(p, 1), length)
                        q := add(p, 2)
                    }
                    default {
                        switch lt(length, 65536)
                        case 1 {
                            mstore8(p, or(m, 25))
                            mstore(add(p, 1), shl(240, length))
                            q := add(p, 3)
                        }
                        default {
                            mstore8(p, or(m, 26))
                            mstore(add(p, 1), shl(224, length))
                            q := add(p, 5)
                        }
                    }
                }
            }
            function headLength(length) -> size {
                size := 1
                if gt(length, 23) { size := 2 }
                if gt(length, 255) { size := 3 }
                if gt(length, 65535) { size := 5 }
            }
            function copy(p, bytesPointer) -> q {
                let length := mload(bytesPointer)
                mcopy(p, add(bytesPointer, 32), length)
                q := add(p, length)
            }
            let start := mload(0x40)
            // Body: map head, bodyStart, id text, bodyMiddle, then the commitment or the evidence.
            let tail := 32
            if direct {
                tail := 0
                if evidence.length { tail := add(9, evidence.length) }
            }
            let bodyLength := add(add(add(1, mload(bodyStart)), add(headLength(idLength), idLength)), add(mload(bodyMiddle), tail))
            let p := copy(start, sigPrefix)
            p := writeHead(p, 2, bodyLength)
            switch direct
            case 0 { mstore8(p, 0xa6) }
            default {
                switch evidence.length
                case 0 { mstore8(p, 0xa6) }
                default { mstore8(p, 0xa7) }
            }
            p := copy(add(p, 1), bodyStart)
            p := writeHead(p, 3, idLength)
            calldatacopy(p, idOffset, idLength)
            p := copy(add(p, idLength), bodyMiddle)
            switch direct
            case 0 {
                mstore(p, commitment)
                p := add(p, 32)
            }
            default {
                if evidence.length {
                    // "evidence" key, then the evidence's CBOR
                    mstore(p, 0x6865766964656e63650000000000000000000000000000000000000000000000)
                    calldatacopy(add(p, 9), evidence.offset, evidence.length)
                    p := add(add(p, 9), evidence.length)
                }
            }
            root := keccak256(start, sub(p, start))
        }
    }

    // ------------------------------------------------------------------ registry and draw

    /// keccak256(len(tag) "concord/registry" || u8(len chain) || chain || u32be(count) || members root).
    function _registryRoot(bytes calldata chain, uint256 count, bytes32 membersRoot) private pure returns (bytes32) {
        if (chain.length > 255) revert CertificateInvalid();
        return keccak256(abi.encodePacked(uint8(16), "concord/registry", uint8(chain.length), chain, uint32(count), membersRoot));
    }

    /// Reads the member list in one pass: weights and entry offsets in member order, the total
    /// weight, the Fenwick tree of the weights the draw searches, and the members' Merkle root.
    function _readMembers(bytes calldata members) private pure returns (Members memory out) {
        // Every entry takes at least 26 bytes: room for all of them, trimmed to the count after.
        uint256 capacity = members.length / 26 + 1;
        uint256[] memory weights = new uint256[](capacity);
        uint256[] memory offsets = new uint256[](capacity);
        bytes32[] memory level = new bytes32[](capacity);
        // Fenwick node j (1-based) is element j - 1: at tree + 32 j.
        uint256[] memory tree = new uint256[](capacity);
        uint256 total;
        bool malformed;
        assembly ("memory-safe") {
            // leaf = keccak256(0x00 || entry)
            function leaf(at, length) -> h {
                let scratch := mload(0x40)
                mstore8(scratch, 0)
                calldatacopy(add(scratch, 1), at, length)
                h := keccak256(scratch, add(length, 1))
            }
            // Fenwick build in one pass: node j is complete when it is read; add it to its parent.
            function fenwick(fenwickTree, size, j, weight) {
                let node := add(fenwickTree, shl(5, j))
                let sum := add(mload(node), weight)
                mstore(node, sum)
                let parent := add(j, and(j, sub(0, j)))
                if iszero(gt(parent, size)) {
                    let parentNode := add(fenwickTree, shl(5, parent))
                    mstore(parentNode, add(mload(parentNode), sum))
                }
            }
            let start := members.offset
            let end := add(start, members.length)
            let count := 0
            for { let at := start } lt(at, end) {} {
                let weight := shr(224, calldataload(at))
                let entryLength := add(25, byte(24, calldataload(at)))
                // Cut short, an empty id, or weight 0 (no registry has one: 05-committee.md).
                if or(or(gt(add(at, entryLength), end), eq(entryLength, 25)), iszero(weight)) {
                    malformed := 1
                    break
                }
                count := add(count, 1)
                mstore(add(weights, shl(5, count)), weight)
                mstore(add(offsets, shl(5, count)), sub(at, start))
                mstore(add(level, shl(5, count)), leaf(at, entryLength))
                fenwick(tree, capacity, count, weight)
                total := add(total, weight)
                at := add(at, entryLength)
            }
            mstore(weights, count)
            mstore(offsets, count)
            mstore(level, count)
            mstore(tree, count)
        }
        if (malformed) revert CertificateInvalid();
        out.weights = weights;
        out.offsets = offsets;
        out.tree = tree;
        out.total = total;
        out.root = _merkleRoot(level);
    }

    /// Pairs bottom-up, keccak256(0x01 || left || right), an odd last node promoted; 0 when empty.
    function _merkleRoot(bytes32[] memory level) private pure returns (bytes32 root) {
        assembly ("memory-safe") {
            let count := mload(level)
            let data := add(level, 32)
            let scratch := mload(0x40)
            if count {
                for {} gt(count, 1) {} {
                    let half := shr(1, count)
                    for { let i := 0 } lt(i, half) { i := add(i, 1) } {
                        mstore8(scratch, 1)
                        mstore(add(scratch, 1), mload(add(data, shl(6, i))))
                        mstore(add(scratch, 33), mload(add(data, add(shl(6, i), 32))))
                        mstore(add(data, shl(5, i)), keccak256(scratch, 65))
                    }
                    if and(count, 1) {
                        mstore(add(data, shl(5, half)), mload(add(data, shl(5, sub(count, 1)))))
                        half := add(half, 1)
                    }
                    count := half
                }
                root := mload(data)
            }
        }
    }

    /// The committee draw of 05-committee.md; a drawn member's weight becomes 0. The draw walks
    /// the remaining members in id order for the one whose cumulative-weight interval holds x;
    /// the Fenwick tree of the weights finds it in log2(N) steps instead of N.
    function _draw(Members memory members, bytes32 requestId, uint256 n) private view {
        bytes32 tag = COMMITTEE_TAG;
        uint256[] memory weights = members.weights;
        uint256[] memory tree = members.tree;
        uint256 total = members.total;
        assembly ("memory-safe") {
            let count := mload(weights)
            let w := add(weights, 32)
            let top := 1
            for {} iszero(gt(shl(1, top), count)) {} { top := shl(1, top) }
            // len(tag) "concord/committee" || request id || u32be(round): 54 bytes
            let scratch := mload(0x40)
            mstore(scratch, tag)
            mstore(add(scratch, 18), requestId)
            for { let r := 0 } lt(r, n) { r := add(r, 1) } {
                mstore(add(scratch, 50), shl(224, r))
                if iszero(staticcall(gas(), 2, scratch, 54, 0, 32)) { revert(0, 0) }
                let x := mod(mload(0), total)
                // The largest pos whose prefix sum is <= x: member pos (0-based) is drawn.
                let pos := 0
                for { let step := top } step { step := shr(1, step) } {
                    let next := add(pos, step)
                    if iszero(gt(next, count)) {
                        let sum := mload(add(tree, shl(5, next)))
                        if iszero(gt(sum, x)) {
                            pos := next
                            x := sub(x, sum)
                        }
                    }
                }
                let slot := add(w, shl(5, pos))
                let weight := mload(slot)
                mstore(slot, 0)
                total := sub(total, weight)
                for { let j := add(pos, 1) } iszero(gt(j, count)) { j := add(j, and(j, sub(0, j))) } {
                    let node := add(tree, shl(5, j))
                    mstore(node, sub(mload(node), weight))
                }
            }
        }
    }

    // ------------------------------------------------------------------ the request body

    /// Reads the request body (11-certificate.md, "Reading the request") into `out`; returns the
    /// chain's span. A fixed walk over the keys of canonical CBOR in their one order: k, n, t, v,
    /// mode, chain, input, model, policy {id, params, version}, entropy, weights?, deadline,
    /// sampling. Any other shape reverts CertificateInvalid (selector 0xc108107c).
    function _readRequest(bytes calldata body, Verified memory out) private pure returns (uint256 chainStart, uint256 chainEnd) {
        out.requestId = sha256(abi.encodePacked(uint8(18), "concord/request-id", body));
        assembly ("memory-safe") {
            function fail() {
                mstore(0, shl(224, 0xc108107c))
                revert(0, 4)
            }
            // A head at p: major type, argument (at most 2^53 - 1), where the item goes on.
            function head(p, end) -> major, arg, next {
                if iszero(lt(p, end)) { fail() }
                let w := calldataload(p)
                let initial := shr(248, w)
                major := shr(5, initial)
                let info := and(initial, 31)
                switch lt(info, 24)
                case 1 {
                    arg := info
                    next := add(p, 1)
                }
                default {
                    let size := 0
                    switch info
                    case 24 { size := 1 }
                    case 25 { size := 2 }
                    case 26 { size := 4 }
                    case 27 { size := 8 }
                    default { fail() }
                    next := add(add(p, 1), size)
                    if gt(next, end) { fail() }
                    arg := shr(sub(256, shl(3, size)), shl(8, w))
                    if gt(arg, 0x1fffffffffffff) { fail() }
                }
            }
            // The encoded key `k` (len bytes, left-aligned) at p.
            function key(p, end, k, len) -> next {
                next := add(p, len)
                if gt(next, end) { fail() }
                if shr(sub(256, shl(3, len)), xor(calldataload(p), k)) { fail() }
            }
            function uint(p, end) -> value, next {
                let major := 0
                major, value, next := head(p, end)
                if major { fail() }
            }
            function text(p, end) -> start, finish {
                let major, length, q := head(p, end)
                if iszero(eq(major, 3)) { fail() }
                start := q
                finish := add(q, length)
                if gt(finish, end) { fail() }
            }
            function bytes32At(p, end) -> start {
                let major, length, q := head(p, end)
                if or(iszero(eq(major, 2)), iszero(eq(length, 32))) { fail() }
                start := q
                if gt(add(q, 32), end) { fail() }
            }
            function textIs(start, finish, t, len) -> yes {
                yes := and(eq(sub(finish, start), len), iszero(shr(sub(256, shl(3, len)), xor(calldataload(start), t))))
            }
            // Skips one item: integers, strings, lists, maps, false, true, null (no tags, no floats).
            function skip(p, end) -> q {
                q := p
                for { let pending := 1 } pending {} {
                    pending := sub(pending, 1)
                    let initial := shr(248, calldataload(q))
                    let major, arg, next := head(q, end)
                    switch major
                    case 2 {
                        next := add(next, arg)
                        if gt(next, end) { fail() }
                    }
                    case 3 {
                        next := add(next, arg)
                        if gt(next, end) { fail() }
                    }
                    case 4 { pending := add(pending, arg) }
                    case 5 { pending := add(pending, shl(1, arg)) }
                    case 6 { fail() }
                    case 7 { if or(lt(initial, 0xf4), gt(initial, 0xf6)) { fail() } }
                    q := next
                }
            }
            function hashOf(start, finish) -> h {
                let scratch := mload(0x40)
                calldatacopy(scratch, start, sub(finish, start))
                h := keccak256(scratch, sub(finish, start))
            }
            // Verified's fields, one word each in declaration order: requestId 0x00, outputHash
            // 0x20, direct 0x40, n 0x60, k 0x80, policyId 0xa0, policyVersion 0xc0, modelHash
            // 0xe0, inputHash 0x100, entropy 0x120, deadline 0x140, signers 0x160.
            function parse(base, end, record) -> chainFrom, chainTo {
                let major, entries, p := head(base, end)
                if or(iszero(eq(major, 5)), and(iszero(eq(entries, 12)), iszero(eq(entries, 13)))) { fail() }
                let value := 0
                value, p := uint(key(p, end, shl(240, 0x616b), 2), end)
                mstore(add(record, 0x80), value)
                value, p := uint(key(p, end, shl(240, 0x616e), 2), end)
                mstore(add(record, 0x60), value)
                let start, finish := text(key(p, end, shl(240, 0x6174), 2), end)
                if iszero(textIs(start, finish, shl(200, 0x72657175657374), 7)) { fail() }
                value, p := uint(key(finish, end, shl(240, 0x6176), 2), end)
                if iszero(eq(value, 1)) { fail() }
                start, finish := text(key(p, end, shl(216, 0x646d6f6465), 5), end)
                let direct := textIs(start, finish, shl(208, 0x646972656374), 6)
                if iszero(or(direct, textIs(start, finish, shl(152, 0x636f6d6d69742d72657665616c), 13))) { fail() }
                mstore(add(record, 0x40), direct)
                chainFrom, chainTo := text(key(finish, end, shl(208, 0x65636861696e), 6), end)
                start, finish := text(key(chainTo, end, shl(208, 0x65696e707574), 6), end)
                mstore(add(record, 0x100), hashOf(start, finish))
                start, finish := text(key(finish, end, shl(208, 0x656d6f64656c), 6), end)
                mstore(add(record, 0xe0), hashOf(start, finish))
                // policy: {id, params, version}
                let policyEntries := 0
                major, policyEntries, p := head(key(finish, end, shl(200, 0x66706f6c696379), 7), end)
                if or(iszero(eq(major, 5)), iszero(eq(policyEntries, 3))) { fail() }
                start, finish := text(key(p, end, shl(232, 0x626964), 3), end)
                if gt(sub(finish, start), 32) { fail() }
                // The id's bytes, left-aligned: the word at start with the bytes past the id cleared.
                mstore(add(record, 0xa0), and(calldataload(start), not(shr(shl(3, sub(finish, start)), not(0)))))
                p := skip(key(finish, end, shl(200, 0x66706172616d73), 7), end)
                value, p := uint(key(p, end, shl(192, 0x6776657273696f6e), 8), end)
                mstore(add(record, 0xc0), value)
                start := bytes32At(key(p, end, shl(192, 0x67656e74726f7079), 8), end)
                mstore(add(record, 0x120), calldataload(start))
                p := add(start, 32)
                if eq(entries, 13) { p := add(bytes32At(key(p, end, shl(192, 0x6777656967687473), 8), end), 32) }
                value, p := uint(key(p, end, shl(184, 0x68646561646c696e65), 9), end)
                mstore(add(record, 0x140), value)
                p := skip(key(p, end, shl(184, 0x6873616d706c696e67), 9), end)
                if iszero(eq(p, end)) { fail() }
            }
            chainStart, chainEnd := parse(body.offset, add(body.offset, body.length), out)
            chainStart := sub(chainStart, body.offset)
            chainEnd := sub(chainEnd, body.offset)
        }
    }

    /// A CBOR head in the shortest form.
    function _head(uint8 major, uint256 length) private pure returns (bytes memory) {
        uint8 m = major << 5;
        if (length < 24) return abi.encodePacked(uint8(m | uint8(length)));
        if (length < 0x100) return abi.encodePacked(m | 24, uint8(length));
        if (length < 0x10000) return abi.encodePacked(m | 25, uint16(length));
        return abi.encodePacked(m | 26, uint32(length));
    }
}
