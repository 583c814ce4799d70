"""The audit trail's pages: the explorer, its filters and exports, the transparency log.

The trail itself (events, chain, Merkle tree, checkpoints) is ``foundation.audit``.
"""
