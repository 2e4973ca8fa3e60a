// Package clustertls is the identity and encryption of oms's internal links: the CM (8088), the
// supervisor (9000), every component's status port and the Store's consumer stream.
//
// One cluster CA (internal/clusterca) lives in the MetaDB (cm.config row cluster_ca: the certificate in clear, the
// private key sealed with the cluster keyring of internal/secret). It is created by the first
// `oms node` or `oms metadb init` (INSERT IGNORE: concurrent starts agree on one CA). Every node
// issues itself a certificate naming oms://node/<ip>, and the supervisor issues each component it
// starts a certificate naming oms://task/<task id>. Every internal link is mutual TLS 1.2+: the
// server proves its host IP, the client proves its node or task identity, and the handlers decide
// from that identity (Guard, MayConsume). See docs/security.md for the threat model.
package clustertls
