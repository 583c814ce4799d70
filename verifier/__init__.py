"""clearance-verify: check Clearance's audit log proofs with nothing of Clearance's.

``merkle`` (RFC 9162 §2.1 hashing and proofs), ``note`` (C2SP signed notes, checkpoints,
verifier keys, cosignatures), ``events`` (the canonical bytes of an audit event),
``bag`` (an evidence bundle's format and BagIt bag), ``content`` (the checks of what a
bundle holds, which the portal also runs on its older layout), ``bundle`` (evidence
bundles) and ``cli`` (the ``clearance-verify`` command).
Depends only on ``cryptography``.
"""

__version__ = "1.0.0"
