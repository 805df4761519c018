/**
 * The public face of src/net: every name listed explicitly, so a reader sees where each lives.
 */
export { concordTopic, createConcordNetwork } from "./concord.ts";
export type { MessageReceiver, ConcordNetworkInit, ConcordNetwork } from "./concord.ts";
export { toPrivateKey, peerIdFromSeed, createGossipNode, GossipNode } from "./gossip.ts";
export type { TransportName, GossipNodeInit, GossipNodeComponents, GossipHandler, PublishResult } from "./gossip.ts";
export { TOPIC_VERSION, TOPIC_PREFIX, TOPIC_KINDS, SUBNET_TOPIC_KINDS, topicKindOf, topicName, chainTopics, subscribedTopics, parseTopic, isTopicKind, isSubnetKind } from "./topics.ts";
export type { TopicKind, TopicOptions, ParsedTopic } from "./topics.ts";
export { toValidationResult, createTopicValidator, createMissingValidator } from "./validation.ts";
export type { GossipValidator, AdapterCode, ValidationOutcome, TopicValidatorInit, TopicValidatorComponents } from "./validation.ts";
export { fetchProtocol, openRequestsProtocol, RecentMessages, AskLimiter, MAX_FETCH_REQUESTS, MAX_ASKS_PER_PEER_MINUTE, MAX_FETCH_ANSWER_BYTES } from "./fetch.ts";
export type { FetchResult, RecentMessagesLimits } from "./fetch.ts";
